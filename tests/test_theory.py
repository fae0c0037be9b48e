"""The optimal discriminator and the value of the game, checked numerically (docs/theory.md)."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.evaluation.theory import check_optimal_discriminator


@pytest.fixture(autouse=True)
def _one_thread():
    # a 1-d MLP is far too small to gain from threads; one thread also avoids stalls on a busy machine
    torch.set_num_threads(1)


@pytest.mark.parametrize(("g_mean", "g_std"), [(1.0, 1.0), (2.0, 0.7)])
def test_trained_discriminator_matches_d_star_and_the_value_matches_js(g_mean, g_std):
    check = check_optimal_discriminator(g_mean, g_std)
    assert check.max_abs_error < 0.02, check.max_abs_error
    assert check.value_error < 0.01, (check.value, check.theory_value)
    assert check.js > 0.05  # the two distributions really differ


def test_value_falls_to_minus_two_log_two_as_p_g_approaches_p_data():
    values = [check_optimal_discriminator(m, 1.0, steps=600).value for m in (2.0, 1.0, 0.5, 0.0)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(-2 * math.log(2), abs=0.01)


def test_the_check_has_teeth():
    # A barely trained D is far from D*: the same tolerances would fail.
    check = check_optimal_discriminator(2.0, 0.7, steps=5)
    assert check.max_abs_error > 0.02
