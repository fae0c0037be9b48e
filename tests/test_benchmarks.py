"""The speed benchmark's hand-written reference has ganzoo's dcgan layers, and its batch sweep runs.

Nothing is timed here (timings live in benchmarks/RESULTS.md); this checks that the reference a
ratio is taken against is the same network, at every size the benchmark offers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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
