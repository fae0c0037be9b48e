"""The speed benchmark's hand-written reference has ganzoo's dcgan layers, and its batch sweep runs.

Nothing is timed here (timings live in benchmarks/RESULTS.md); this checks that the reference a
ratio is taken against is the same network, at every size the benchmark offers.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

import ganzoo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speed() -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import speed as module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


def _shapes(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(type(m).__name__, tuple(m.weight.shape)) for m in module.modules()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.BatchNorm2d))]


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_the_reference_has_the_layers_of_ganzoos_dcgan(speed: ModuleType, size: int) -> None:
    g, d = speed.reference_dcgan(size)
    ours_g, ours_d = ganzoo.create("dcgan", data_shape=(3, size, size))
    assert _shapes(g) == _shapes(ours_g)
    assert _shapes(d) == _shapes(ours_d)
    assert g(torch.randn(2, speed.LATENT, 1, 1)).shape == (2, 3, size, size)


@pytest.mark.parametrize("size", [48, 8])
def test_the_reference_refuses_a_size_it_does_not_write_as_ganzoo_does(speed: ModuleType, size: int) -> None:
    with pytest.raises(SystemExit, match="power of two, 16 or more"):
        speed.reference_dcgan(size)


def test_the_batch_sweep_writes_a_row_per_configuration_and_batch(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--image-size", "16", "--sweep", "4,8",
                    "--rounds", "1", "--steps", "1", "--warmup", "2", "--json", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    sweep = json.loads(out.read_text())["sweep"]
    assert list(sweep) == ["4", "8"]
    for batch, rows in sweep.items():
        assert list(rows) == ["reference", "ganzoo", "ganzoo --fast"]
        assert all(r["batch"] == int(batch) and r["image_size"] == 16 and r["images_per_s"] > 0 for r in rows.values())
        assert rows["reference"]["ratio"] == 1.0


def test_a_configuration_that_fails_is_a_row_that_says_so_and_the_others_are_measured(
        speed: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    real = speed.run_setup

    def run_setup(setup: Any, *args: Any, **kwargs: Any) -> Any:
        if setup.name == "ganzoo":
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing\nmore lines")
        return real(setup, *args, **kwargs)

    monkeypatch.setattr(speed, "run_setup", run_setup)
    setups = speed.sweep_setups(False)
    rows = speed.measure(setups, torch.device("cpu"), 2, 1, 2, "test", size=16, batch=4)
    assert list(rows) == ["reference", "ganzoo", "ganzoo --fast"]
    assert rows["ganzoo"] == {"what": setups[1].what,
                              "error": "RuntimeError: CUDA error: operation not permitted when stream is capturing"}
    assert rows["ganzoo --fast"]["images_per_s"] > 0 and rows["reference"]["ratio"] == 1.0
    speed.add_peak_shares(rows, {"fp32": 1e12, "bf16": 1e12})  # a failed row has nothing to share
    assert "peak_share" not in rows["ganzoo"] and "peak_share" in rows["ganzoo --fast"]


# -- benchmarks/gpu/pack.py: what a GPU call returns, within its limits ----------------------------------


@pytest.fixture(scope="module")
def pack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_pack", ROOT / "benchmarks" / "gpu" / "pack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_members_are_chunked_under_the_limit_and_never_split(pack: ModuleType, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pack, "CHUNK", 100)
    members = [(f"m{i}", bytes([i]) * size) for i, size in enumerate([60, 30, 20, 150, 10])]
    written = pack._chunks(members, tmp_path, "x", compress=False)
    with_members = []
    for path in written:
        with tarfile.open(path) as tar:
            with_members.append([(m.name, m.size) for m in tar.getmembers()])
    assert with_members == [[("m0", 60), ("m1", 30)], [("m2", 20)], [("m3", 150)], [("m4", 10)]]


def test_resnet_runs_come_back_whole_and_are_recorded(pack: ModuleType, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # unpacking imports benchmarks/quality/resnet.py
    there, here, out = tmp_path / "there", tmp_path / "here", tmp_path / "out"
    for path in (there, out):
        path.mkdir()
    samples = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    np.save(there / "fashion-mnist-resnet-seed0-samples.npy", samples)
    info = {"arch": "resnet", "seed": 0, "steps": 123, "device": "NVIDIA H200"}
    (there / "fashion-mnist-resnet-seed0-train.json").write_text(json.dumps(info))
    (there / "unrelated.txt").write_text("stays there")
    files = pack.pack_resnet([there], out)
    assert [p.name for p in files] == ["resnet-1.tar.xz"]
    here.mkdir()
    pack.unpack_resnet(here, files)
    assert np.array_equal(np.load(here / "fashion-mnist-resnet-seed0-samples.npy"), samples)
    assert json.loads((here / "results.json").read_text())["runs"]["fashion-mnist-resnet-seed0"] == info
    assert not (here / "unrelated.txt").exists()


def test_unpacking_refuses_a_member_outside_the_folder(pack: ModuleType, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../escape.npy")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "here").mkdir()
    with pytest.raises(SystemExit, match=re.escape("unexpected member '../escape.npy'")):
        pack.unpack_resnet(tmp_path / "here", [bad])
    assert not (tmp_path / "escape.npy").exists()


# -- benchmarks/quality/fashion_fid.py: Inception features on a CPU, resumable ---------------------------


def test_features_resume_from_their_saved_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [str(ROOT / "benchmarks" / "quality"), *sys.path])
    import fashion_fid

    monkeypatch.setattr(fashion_fid, "PART", 4)
    images = torch.arange(10 * 3, dtype=torch.float32).view(10, 3)
    seen: list[int] = []

    def extractor(x: torch.Tensor, batch_size: int) -> torch.Tensor:  # stands in for Inception: per image
        seen.append(len(x))
        if len(seen) == 2 and stop:
            raise KeyboardInterrupt
        return x * 2

    cache = tmp_path / "inception-x.npy"
    stop = True
    with pytest.raises(KeyboardInterrupt):  # the second part is interrupted: the first is kept
        fashion_fid._features(extractor, images, cache)
    assert not cache.exists() and len(list((tmp_path / "inception-x.npy.parts").iterdir())) == 1
    stop, seen = False, []
    assert torch.equal(fashion_fid._features(extractor, images, cache), images * 2)
    assert seen == [4, 2]  # only the parts not saved yet
    assert cache.is_file() and not (tmp_path / "inception-x.npy.parts").exists()
    seen.clear()
    assert torch.equal(fashion_fid._features(extractor, images, cache), images * 2) and seen == []
