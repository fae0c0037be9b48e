"""Multi-process training on torch.distributed: 2 processes, gloo, on the CPU.

Each test starts a real torchrun (``python -m torch.distributed.run --standalone``) running
tests/dist_worker.py. Select them with ``-m distributed``, skip them with ``-m "not distributed"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
import torch.distributed as dist
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.training.checkpoint import load_checkpoint
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed/gloo"),
]

WORKER = Path(__file__).with_name("dist_worker.py")


def torchrun(mode: str, out: Path, spec: dict[str, Any], nproc: int = 2,
             timeout: float = 90) -> subprocess.CompletedProcess[str]:
    out.mkdir(parents=True, exist_ok=True)
    # gloo on the CPU, also on a machine with GPUs: with "auto" a rank would take a GPU of its own
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
         "--max-restarts=0", str(WORKER), mode, str(out), json.dumps(spec)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=out)


def _config(**kw: Any) -> dict[str, Any]:
    return TrainConfig(**kw).to_dict()


def test_two_processes_equal_one_process_with_the_global_batch(tmp_path: Path) -> None:
    """Without BatchNorm, 2 x 16 samples averaged by DDP is the same step as 1 x 32: gradients are
    averaged and each process trains on its own half of the data, not on a copy."""
    common = {"architecture": "gan", "dataset": "ring8", "steps": 5, "ema": 0.0, "lr_g": 1e-3, "lr_d": 1e-3,
              "model": {"batchnorm": False}, "device": "cpu"}
    done = torchrun("fit", tmp_path / "two", {"config": _config(batch_size=16, **common)})
    assert done.returncode == 0, done.stderr[-3000:]
    two = safetensors.torch.load_file(str(tmp_path / "two" / "final.safetensors"))
    one = fit(TrainConfig(batch_size=32, **common))
    tensors = {f"G.{k}": v for k, v in one.generator.state_dict().items()}
    tensors |= {f"D.{k}": v for k, v in one.discriminator.state_dict().items()}
    assert two.keys() == tensors.keys()
    moved = False
    for k, v in tensors.items():
        torch.testing.assert_close(two[k], v, atol=2e-6, rtol=1e-5, msg=lambda m, k=k: f"{k}: {m}")
    # the check would pass trivially if nothing trained: the weights did move
    start = fit(TrainConfig(batch_size=32, **{**common, "steps": 1})).generator.state_dict()
    moved = any(not torch.equal(start[k], one.generator.state_dict()[k]) for k in start)
    assert moved
    # and a 2-process run on duplicated (unsharded) data would differ from the 1 x 32 run
    half = fit(TrainConfig(batch_size=16, **common)).generator.state_dict()
    assert any(not torch.allclose(half[k], two[f"G.{k}"], atol=1e-4) for k in half)


def test_dcgan_with_batchnorm_trains_and_ranks_hold_the_same_weights(tmp_path: Path) -> None:
    config = _config(architecture="dcgan", dataset="digits", steps=20, batch_size=16, checkpoint_every=10)
    spec = {"config": config, "run_dir": str(tmp_path / "run")}
    done = torchrun("fit", tmp_path / "out", spec)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert sorted(ranks[0]) == ["10", "20"]
    assert ranks[0] == ranks[1], "G's and D's parameters differ between ranks at a checkpoint"
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_only_rank_0_writes_the_run_folder_and_the_registry(tmp_path: Path) -> None:
    registry, run = tmp_path / "registry", tmp_path / "run"
    args = ["train", "dcgan", "--steps", "6", "--batch-size", "16", "--checkpoint-every", "3", "--sample-every", "3",
            "--registry", str(registry), "--run-dir", str(run), "--out", str(tmp_path / "grid.png")]
    done = torchrun("cli", tmp_path / "out", {"watched": [str(registry), str(run)], "args": args})
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "writes1.json").read_text()) == []
    assert (run / "checkpoint.pt").is_file() and (run / "metrics.jsonl").is_file()
    assert (registry / "models" / "dcgan-digits" / "1" / "manifest.json").is_file()
    assert done.stdout.count("Published dcgan-digits:1") == 1  # one rank prints


def test_nan_on_one_rank_stops_every_rank(tmp_path: Path) -> None:
    spec = {"config": _config(architecture="gan", dataset="ring8", steps=50, batch_size=16, ema=0.0), "nan_step": 4}
    start = time.monotonic()
    done = torchrun("nan", tmp_path / "out", spec, timeout=60)
    assert time.monotonic() - start < 60
    assert done.returncode != 0
    for r in (0, 1):
        message = (tmp_path / "out" / f"rank{r}.err").read_text()
        assert "at step 4 on rank 1" in message, message


def test_ctrl_c_on_one_rank_stops_every_rank_after_the_same_step(tmp_path: Path) -> None:
    """Rank 1 gets SIGINT during step 5; the ranks vote without waiting on the device, reading each vote two
    steps later (distributed.StopVote), so both stop after step 7 and rank 0 checkpoints that step."""
    run_dir = tmp_path / "run"
    spec = {"config": _config(architecture="gan", dataset="ring8", steps=200, batch_size=16, ema=0.0,
                              checkpoint_every=100), "interrupt_step": 5, "run_dir": str(run_dir)}
    done = torchrun("interrupt", tmp_path / "out", spec, timeout=60)
    assert done.returncode != 0
    stops = [(tmp_path / "out" / f"rank{r}.stop").read_text() for r in (0, 1)]
    assert stops == ["7", "7"], done.stderr[-2000:]
    assert load_checkpoint(run_dir)["step"] == 7


def test_resume_a_two_process_run_in_two_processes_and_in_one(tmp_path: Path) -> None:
    base = {"architecture": "gan", "dataset": "ring8", "batch_size": 16, "ema": 0.0, "checkpoint_every": 3}
    straight = torchrun("fit", tmp_path / "straight", {"config": _config(steps=6, **base)})
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = torchrun("fit", tmp_path / "first", {"config": _config(steps=3, **base), "run_dir": str(tmp_path / "run")})
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = torchrun("fit", tmp_path / "resumed",
                       {"config": _config(steps=6, **base), "resume": str(tmp_path / "run")})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = safetensors.torch.load_file(str(tmp_path / "straight" / "final.safetensors"))
    b = safetensors.torch.load_file(str(tmp_path / "resumed" / "final.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a), "resuming under DDP changed the run"

    result = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path / "run"), "--steps", "8", "--no-publish",
                                      "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert "checkpointed by 2 process(es) and resumes in 1" in result.output
    assert "global batch changes from 32 to 16" in result.output


def test_nproc_checks_options_first_then_launches_torchrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = CliRunner().invoke(cli, ["train", "gan", "--dataset", "ring8", "--steps", "3", "--batch-size", "16",
                                      "--nproc", "2", "--no-publish", "--lr-g", "nan"])
    assert result.exit_code == 1
    assert "lr_g must be a positive number" in result.output  # refused before any process starts
    result = CliRunner().invoke(cli, ["train", "gan", "--dataset", "ring8", "--steps", "3", "--batch-size", "16",
                                      "--nproc", "2", "--name", "no spaces allowed", "--registry", str(tmp_path / "r")])
    assert result.exit_code == 1 and "no spaces allowed" in result.output and "rank" not in result.output
    result = CliRunner().invoke(cli, ["train", "gan", "--dataset", "ring8", "--steps", "3", "--batch-size", "16",
                                      "--nproc", "2", "--registry", str(tmp_path / "reg"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reg" / "models" / "gan-ring8" / "1" / "manifest.json").is_file()
