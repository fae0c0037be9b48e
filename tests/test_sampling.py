"""Latent walks (``ganzoo.interpolate``, ``sample --interpolate``) and raw ``.npy`` sample files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.sampling import lerp, sample_format, slerp


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> str:
    """A registry holding an unconditional (plain) and a conditional (cond) model, trained once."""
    root = str(tmp_path_factory.mktemp("sampling-registry"))
    for arch, name in (("dcgan", "plain"), ("cdcgan", "cond")):
        result = ganzoo.train(arch, "digits", steps=2, batch_size=16, model={"base_channels": 8})
        ganzoo.publish(result, name=name, registry=root)
    return root


@pytest.fixture
def models(stored, monkeypatch):
    monkeypatch.setenv("GANZOO_REGISTRY", stored)


def test_slerp_keeps_the_endpoints_and_the_norm():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 100, generator=g), torch.randn(3, 100, generator=g)
    t = torch.linspace(0, 1, 5)
    walk = slerp(a, b, t)
    assert walk.shape == (3, 5, 100)
    assert torch.allclose(walk[:, 0], a, atol=1e-5) and torch.allclose(walk[:, -1], b, atol=1e-5)
    # between two points of (nearly) equal norm the great circle keeps that norm; the chord dips inside
    mid_norm, ends = walk[:, 2].norm(dim=1), (a.norm(dim=1) + b.norm(dim=1)) / 2
    assert torch.allclose(mid_norm, ends, rtol=0.1)
    assert (lerp(a, b, t)[:, 2].norm(dim=1) < 0.85 * ends).all()
    same = slerp(a, a.clone(), t)  # parallel endpoints fall back to a straight line, no NaN
    assert torch.isfinite(same).all() and torch.allclose(same[:, 3], a, atol=1e-5)


def test_interpolate_rows_walk_between_samples(models):
    g = ganzoo.load("plain")
    grid = ganzoo.interpolate(g, rows=3, steps=5, seed=7)
    assert grid.shape == (15, 1, 8, 8) and grid.abs().max() <= 1
    assert torch.equal(grid, ganzoo.interpolate(g, rows=3, steps=5, seed=7))  # the seed fixes it
    assert not torch.equal(grid, ganzoo.interpolate(g, rows=3, steps=5, seed=8))
    # the first column is the generator applied to the walks' starting latents
    z = g.sample_latent(6, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.allclose(grid.view(3, 5, 1, 8, 8)[:, 0], g(z[:3]), atol=1e-5)
        assert torch.allclose(grid.view(3, 5, 1, 8, 8)[:, -1], g(z[3:]), atol=1e-5)
    with pytest.raises(ganzoo.ConfigError, match="unknown interpolation 'cubic'"):
        ganzoo.interpolate(g, method="cubic")
    with pytest.raises(ganzoo.ConfigError, match="at least 2 steps"):
        ganzoo.interpolate(g, steps=1)


def test_conditional_models_get_one_row_per_class(models):
    g = ganzoo.load("cond")
    grid = ganzoo.interpolate(g, rows=3, steps=4, seed=0)
    assert grid.shape == (10 * 4, 1, 8, 8)  # rows follow the classes, not the argument
    z = g.sample_latent(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        first = g(z[:1].expand(10, -1), torch.arange(10))
    assert torch.allclose(grid.view(10, 4, 1, 8, 8)[:, 0], first, atol=1e-5)


def test_sample_interpolate_on_the_command_line(cli_run, models, tmp_path):
    out = cli_run("sample", "plain", "--interpolate", "--rows", "4", "--steps", "6", "--out", "walk.png").output
    assert "4 latent walks of 6 steps" in out
    assert Image.open(tmp_path / "walk.png").size == (6 * 34 + 2, 4 * 34 + 2)  # 8x8 cells drawn at 32 px
    cli_run("sample", "cond", "--interpolate", "--method", "lerp", "--steps", "3", "--out", "cond.npy")
    walk = np.load(tmp_path / "cond.npy", allow_pickle=False)
    assert walk.shape == (30, 1, 8, 8) and walk.dtype == np.float32
    bad = cli_run("sample", "cond", "--interpolate", "--label", "3", code=1)
    assert "leave --label out" in bad.output


def test_npy_holds_the_exact_samples(cli_run, models, tmp_path):
    cli_run("sample", "plain", "-n", "10", "--seed", "4", "--out", "x.npy")  # format from the suffix
    cli_run("sample", "plain", "-n", "10", "--seed", "4", "--format", "npy")  # default name samples.npy
    array = np.load(tmp_path / "x.npy", allow_pickle=False)
    assert array.shape == (10, 1, 8, 8) and array.dtype == np.float32
    assert np.array_equal(array, np.load(tmp_path / "samples.npy", allow_pickle=False))
    expected = ganzoo.generate(ganzoo.load("plain"), 10, seed=4).numpy()
    assert np.array_equal(array, expected) and -1 <= array.min() and array.max() <= 1
    cli_run("sample", "plain", "--format", "png", "--out", "grid.png")
    assert (tmp_path / "grid.png").read_bytes().startswith(b"\x89PNG")
    clash = cli_run("sample", "plain", "--format", "npy", "--out", "grid.png", code=1)
    assert "--format npy but the output 'grid.png' ends in .png" in clash.output
    cli_run("sample", "plain", "--out", "grid.jpg")
    assert (tmp_path / "grid.jpg").read_bytes().startswith(b"\xff\xd8\xff")  # a JPEG, not PNG bytes
    from PIL import Image

    with Image.open(tmp_path / "grid.jpg") as jpeg, Image.open(tmp_path / "grid.png") as png:
        assert jpeg.format == "JPEG" and jpeg.size == png.size
    refused = cli_run("sample", "plain", "--out", "grid.gif", code=1)
    assert "its suffix .gif is none of .png, .jpg, .jpeg, .npy" in refused.output
    assert not (tmp_path / "grid.gif").exists()


def test_sample_format_rules(tmp_path):
    assert sample_format("a.npy") == "npy" and sample_format("a.PNG") == "png" and sample_format("a.jpg") == "jpg"
    assert sample_format("a.JPEG") == "jpg" and sample_format("grid") == "png"
    assert sample_format("a.out", "npy") == "npy"
    with pytest.raises(ganzoo.ConfigError, match=r"suffix \.gif is none of \.png, \.jpg, \.jpeg, \.npy"):
        sample_format("a.gif")
    with pytest.raises(ganzoo.ConfigError, match=r"ends in \.npy"):
        sample_format("a.npy", "png")
