"""stacked-digits: 1,000 modes from three independent digits, and its mode-counting protocol."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.data import DataOptions
from ganzoo.data.builtin import load_digits
from ganzoo.data.loading import load_dataset
from ganzoo.evaluation.protocols import score_stacked


@pytest.fixture(scope="module")
def stacked() -> ganzoo.Dataset:
    return load_dataset("stacked-digits")


def test_each_channel_is_a_digit_of_the_labelled_class(stacked: ganzoo.Dataset) -> None:
    digits = load_digits(DataOptions())
    assert digits.labels is not None and stacked.labels is not None
    classes_of: dict[bytes, set[int]] = {}
    for image, label in zip(digits.data, digits.labels.tolist(), strict=True):
        classes_of.setdefault(image.numpy().tobytes(), set()).add(label)
    assert tuple(stacked.data.shape) == (60_000, 3, 8, 8) and stacked.num_classes == 1000
    for i in range(200):
        label = int(stacked.labels[i])
        for c, digit in enumerate((label // 100, label // 10 % 10, label % 10)):
            assert digit in classes_of[stacked.data[i, c].numpy().tobytes()]
    counts = torch.bincount(stacked.labels, minlength=1000)
    assert int((counts > 0).sum()) == 1000  # every mode is in the data


def test_real_images_cover_the_modes_and_a_collapsed_set_covers_one(stacked: ganzoo.Dataset,
                                                                    tmp_path: Path) -> None:
    real = score_stacked(stacked.data[:26_000])
    assert real["modes"] >= 990 and real["kl_to_uniform"] < 0.1
    collapsed = score_stacked(stacked.data[:1].expand(26_000, -1, -1, -1))
    assert collapsed["modes"] == 1
    assert collapsed["kl_to_uniform"] == pytest.approx(math.log(1000), rel=1e-6)
    with pytest.raises(ganzoo.ConfigError, match=r"need \(N, 3, 8, 8\) images"):
        score_stacked(stacked.data[:10, :1])


def test_ganzoo_eval_counts_the_modes_of_a_stored_model(cli_run, tmp_path: Path) -> None:
    cli_run("train", "dcgan", "--dataset", "stacked-digits", "--steps", "2", "--batch-size", "16",
            "-o", "base_channels=8", "--registry", str(tmp_path / "reg"))
    result = cli_run("eval", "dcgan-stacked-digits", "--samples", "500", "--json", "--registry", str(tmp_path / "reg"))
    out = json.loads(result.output)
    assert out["metrics"] == "stacked" and 1 <= out["modes"] <= 500
    assert out["protocol"]["kind"] == "stacked-modes" and out["protocol"]["samples"] == 500
