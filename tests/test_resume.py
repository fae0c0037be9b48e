"""Run checkpoints: a resumed run is bit-identical to an uninterrupted one; Ctrl-C, SIGKILL, divergence."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.training.checkpoint import Checkpointer, load_checkpoint
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit
from ganzoo.training.runfolder import CHECKPOINT, CONFIG, read_metrics, read_run_config, read_run_logging
from ganzoo.training.state import Callback

STEPS = 40
EVERY = 20
KILL_AT = 30  # after the checkpoint at step 20 is durable, before the run ends
RUN = ["--batch-size", "16", "-o", "base_channels=8", "--deterministic", "--ema", "0.9", "--log-every", "5",
       "--checkpoint-every", str(EVERY), "--no-publish"]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # Subprocesses and this process must reduce in the same order to agree bit for bit.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("GANZOO_PLAIN_PROGRESS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_same_run(a: dict, b: dict) -> None:
    """Weights, EMA, optimizer states, random states and logged losses are identical."""
    def same(x, y, where):
        if isinstance(x, torch.Tensor):
            assert isinstance(y, torch.Tensor) and torch.equal(x, y), where
        elif isinstance(x, dict):
            assert x.keys() == y.keys(), where
            for k in x:
                same(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, list):
            assert len(x) == len(y), where
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                same(p, q, f"{where}[{i}]")
        else:
            assert x == y, where

    for key in ("step", "generator", "discriminator", "ema", "opt_g", "opt_d", "sampler", "rng", "fixed_z"):
        same(a[key], b[key], key)
    losses = [[(r["step"], r["d_loss"], r["g_loss"], r["d_real"], r["d_fake"]) for r in c["history"]]
              for c in (a, b)]
    assert losses[0] == losses[1]
    assert len(losses[0]) == STEPS // 5


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> dict:
    """The uninterrupted run's final checkpoint."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("straight")
    fit(config(STEPS), callbacks=[Checkpointer(folder, EVERY)])
    torch.set_num_threads(threads)
    return load_checkpoint(folder)


def config(steps: int, **kw) -> TrainConfig:
    base = dict(architecture="dcgan", dataset="digits", steps=steps, batch_size=16, model={"base_channels": 8},
                deterministic=True, ema=0.9, log_every=5, checkpoint_every=EVERY)
    return TrainConfig(**{**base, **kw})


def test_resumed_run_is_identical_to_a_straight_one(straight, tmp_path):
    fit(config(EVERY), callbacks=[Checkpointer(tmp_path, EVERY)])
    assert load_checkpoint(tmp_path)["step"] == EVERY
    result = fit(config(STEPS), callbacks=[Checkpointer(tmp_path, EVERY)], resume_from=tmp_path)
    assert result.steps == STEPS and [r["step"] for r in result.history][-1] == STEPS
    assert_same_run(straight, load_checkpoint(tmp_path))


KILLER = """
import os, signal, sys
from ganzoo.training.progress import ProgressCallback

shown = ProgressCallback.on_step_end

def on_step_end(self, state, metrics):
    shown(self, state, metrics)
    if state.step == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as a power cut or the OOM killer would

ProgressCallback.on_step_end = on_step_end
from ganzoo.cli import main
sys.argv = ["ganzoo"] + sys.argv[1:]
main()
"""


def test_sigkill_mid_run_then_resume_matches_the_straight_run(straight, tmp_path, cli_run):
    run_dir = tmp_path / "run"
    script = tmp_path / "killer.py"
    script.write_text(textwrap.dedent(KILLER.format(kill_at=KILL_AT)))
    proc = subprocess.run([sys.executable, str(script), "train", "dcgan", "--steps", str(STEPS), *RUN,
                           "--run-dir", str(run_dir)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert f"step {KILL_AT}/{STEPS}" in proc.stderr
    assert load_checkpoint(run_dir)["step"] == EVERY  # the last complete checkpoint survived the kill
    # no temporary left over: only the checkpoint and what the run logger writes
    assert {p.name for p in run_dir.iterdir()} <= {CHECKPOINT, CONFIG, "metrics.jsonl", "samples"}
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(5, KILL_AT, 5))  # killed before logging 30

    out = cli_run("train", "--resume", str(run_dir), "--no-publish").output
    assert f"Trained dcgan on digits for {STEPS} steps" in out
    assert_same_run(straight, load_checkpoint(run_dir))
    assert [r["step"] for r in read_metrics(run_dir)] == list(range(5, STEPS + 1, 5))  # steps 25, 30 once each


def test_resume_may_extend_steps_but_refuses_other_changes(tmp_path, cli_run):
    run_dir = tmp_path / "run"
    cli_run("train", "dcgan", "--steps", "4", *RUN, "--checkpoint-every", "2", "--run-dir", str(run_dir))
    before = (run_dir / CHECKPOINT).read_bytes()
    result = cli_run("train", "--resume", str(run_dir), "--batch-size", "32", "--lr-g", "0.001", code=1)
    assert "--batch-size (16 -> 32)" in result.output and "--lr-g" in result.output
    assert "steps" in result.output and "Traceback" not in result.output
    result = cli_run("train", "gan", "--resume", str(run_dir), code=1)
    assert "architecture ('dcgan' -> 'gan')" in result.output
    assert (run_dir / CHECKPOINT).read_bytes() == before  # a refused resume changes nothing

    cli_run("train", "dcgan", "--resume", str(run_dir), "--steps", "6", "--no-publish")
    assert load_checkpoint(run_dir)["step"] == 6
    assert '"steps": 6' in (run_dir / CONFIG).read_text()


def test_resume_keeps_how_the_run_folder_is_kept(tmp_path, cli_run):
    run_dir = tmp_path / "run"
    cli_run("train", "dcgan", "--steps", "4", *RUN, "--checkpoint-every", "2", "--sample-every", "2",
            "--run-dir", str(run_dir))
    grids = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert grids == ["step-000002.png", "step-000004.png"]
    cli_run("train", "--resume", str(run_dir), "--steps", "8", "--no-publish")  # --sample-every 2 carries over
    grids = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert grids == [f"step-00000{i}.png" for i in (2, 4, 6, 8)]
    cli_run("train", "--resume", str(run_dir), "--steps", "12", "--sample-every", "0", "--no-publish")
    assert sorted(p.name for p in (run_dir / "samples").iterdir())[-1] == "step-000012.png"
    assert not (run_dir / "samples" / "step-000010.png").exists()  # typed anew: only the last grid
    assert read_run_logging(run_dir) == {"sample_every": 0, "logger": "files", "eval_every": 0}
    assert read_run_config(run_dir).steps == 12  # the logging record is not a training option


@pytest.mark.parametrize("folder", ["missing", "empty", "garbage"])
def test_resume_from_something_that_is_not_a_run(tmp_path, cli_run, folder):
    path = tmp_path / folder
    if folder != "missing":
        path.mkdir()
    if folder == "garbage":
        (path / CHECKPOINT).write_bytes(b"not a checkpoint")
        (path / CONFIG).write_text("{}")
    result = cli_run("train", "--resume", str(path), code=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in result.output


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "train", "dcgan", "--steps", "100000", *RUN,
                             "--log-every", "1", "--run-dir", str(run_dir)],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if line.startswith("step "):
                break
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)  # a second Ctrl-C while the checkpoint is written changes nothing
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"ganzoo train --resume {run_dir}" in err and "Traceback" not in err
    step = load_checkpoint(run_dir)["step"]
    assert 1 <= step < 100000
    assert ganzoo.training.runfolder.read_run_config(run_dir).steps == 100000


class PoisonGradients(Callback):
    """From step ``at`` + 1 on, the discriminator's first weight gets NaN gradients (the loss stays finite)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, state, metrics):
        if state.step == self.at:
            weight = next(state.discriminator.parameters())
            weight.requires_grad_(True)  # the loop froze D for G's step; the hook outlives the toggle
            weight.register_hook(lambda g: torch.full_like(g, float("nan")))
            weight.requires_grad_(False)


def test_non_finite_gradients_stop_the_run_and_keep_the_last_checkpoint(tmp_path):
    with pytest.raises(ganzoo.TrainingDiverged) as err:
        fit(config(10, checkpoint_every=2), callbacks=[PoisonGradients(3), Checkpointer(tmp_path, 2)])
    message = str(err.value)
    assert "discriminator gradients" in message and "step 4" in message
    assert "last good checkpoint (step 2)" in message and str(tmp_path) in message
    assert load_checkpoint(tmp_path)["step"] == 2
    assert torch.isfinite(torch.cat([t.flatten() for t in load_checkpoint(tmp_path)["discriminator"].values()
                                     if t.is_floating_point()])).all()


def test_divergence_is_one_line_and_exit_1_on_the_command_line(cli_run, monkeypatch):
    from ganzoo.training.progress import ProgressCallback

    shown = ProgressCallback.on_step_end
    poison = PoisonGradients(2)

    def on_step_end(self, state, metrics):
        shown(self, state, metrics)
        poison.on_step_end(state, metrics)

    monkeypatch.setattr(ProgressCallback, "on_step_end", on_step_end)
    result = cli_run("train", "dcgan", "--steps", "5", "--batch-size", "16", "-o", "base_channels=8",
                     "--no-publish", code=1)
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: the discriminator gradients became non-finite at step 3")
    assert "Traceback" not in result.output and not Path("samples").exists()
    [run_dir] = Path("runs").iterdir()  # the run folder holds the run's log, but
    assert not (run_dir / CHECKPOINT).exists()  # no schedule and no Ctrl-C: nothing was checkpointed


def test_the_python_api_checkpoints_and_resumes(tmp_path):
    ganzoo.train("gan", "ring8", steps=4, batch_size=16, checkpoint_every=2, run_dir=tmp_path)
    assert load_checkpoint(tmp_path)["step"] == 4
    config = ganzoo.training.checkpoint.resume_config(tmp_path, {"steps": 6})
    result = fit(config, callbacks=[Checkpointer(tmp_path, config.checkpoint_every)], resume_from=tmp_path)
    assert result.steps == 6 and load_checkpoint(tmp_path)["step"] == 6
    with pytest.raises(ganzoo.ConfigError, match=r"seed \(0 -> 1\)"):
        ganzoo.training.checkpoint.resume_config(tmp_path, {"seed": 1})
    with pytest.raises(ganzoo.ConfigError, match="past steps=3"):
        fit(TrainConfig.from_dict({**config.to_dict(), "steps": 3}), resume_from=tmp_path)


def test_a_finished_run_continues_and_publishes_only_what_trained_further(cli_run):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "3", "--batch-size", "16", "--run-dir", "run")
    out = cli_run("train", "--resume", "run", "--steps", "5").output
    assert "Published gan-ring8:2" in out and "(steps 4-5 trained now)" in out
    assert load_checkpoint("run")["step"] == 5
    again = cli_run("train", "--resume", "run").output
    assert "Not published: the run was already at step 5" in again and "--publish" in again
    assert [r.version for r in ganzoo.Registry().list("gan-ring8")] == [1, 2]
    forced = cli_run("train", "--resume", "run", "--publish").output
    assert "Published gan-ring8:3" in forced and "(no steps trained now; stored again as --publish asked)" in forced
