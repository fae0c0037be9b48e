"""Metrics on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.data import grid25_centers, ring8_centers
from ganzoo.evaluation.metrics import (
    class_histogram_kl,
    frechet_distance,
    kernel_inception_distance,
    mixture_score,
    precision_recall,
)


@pytest.mark.parametrize(("centers", "std"), [(ring8_centers(), 0.01), (grid25_centers(), 0.05)])
def test_true_samples_cover_every_mode_with_high_quality(centers, std):
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(len(centers), (2500,), generator=g)
    samples = centers[idx] + std * torch.randn(2500, 2, generator=g)
    score = mixture_score(samples, centers, std)
    assert score.modes_covered == len(centers)
    assert score.high_quality == pytest.approx(0.989, abs=0.01)  # P(|N(0, I_2)| <= 3) = 1 - e^-4.5
    assert score.reverse_kl < 0.02


def test_a_collapsed_sampler_covers_one_mode():
    centers = ring8_centers()
    samples = centers[3] + 0.01 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(1))
    score = mixture_score(samples, centers, 0.01)
    assert score.modes_covered == 1
    assert score.reverse_kl == pytest.approx(math.log(8), abs=1e-6)


def test_ring_centres_are_eight_distinct_points():
    c = ring8_centers()
    assert torch.cdist(c, c).add(torch.eye(8) * 9).min() > 0.7  # not linspace(0, 2 pi, 8)'s duplicate


def test_frechet_distance_of_identical_sets_is_zero():
    x = torch.randn(2000, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form():
    # N(0, I) vs N(mu, s^2 I) in d dims: |mu|^2 + d (1 - s)^2
    g = torch.Generator().manual_seed(0)
    d, n = 4, 200_000
    mu, s = torch.tensor([1.0, -2.0, 0.5, 0.0]), 2.0
    a = torch.randn(n, d, generator=g)
    b = mu + s * torch.randn(n, d, generator=g)
    expected = float(mu.pow(2).sum()) + d * (1 - s) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g)
    same, _ = kernel_inception_distance(a, b, subsets=20, subset_size=500)
    shifted, _ = kernel_inception_distance(a, b + 0.5, subsets=20, subset_size=500)
    assert abs(same) < 0.01
    assert shifted > 10 * max(abs(same), 1e-3)


def test_precision_recall_of_identical_disjoint_and_collapsed_sets():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 2, generator=g)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, real + 100) == (0.0, 0.0)
    collapsed = real[:1].repeat(1000, 1) + 1e-4 * torch.randn(1000, 2, generator=g)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.05


def test_class_histogram_kl():
    ref = torch.arange(10).repeat(10)
    assert class_histogram_kl(ref, ref, 10) == pytest.approx(0.0)
    assert class_histogram_kl(torch.zeros(50, dtype=torch.long), ref, 10) == pytest.approx(math.log(10))
