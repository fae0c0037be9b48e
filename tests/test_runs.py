"""``ganzoo runs`` and ``ganzoo runs rm`` on run folders left by real runs: finished, interrupted, diverged, running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.training.runlog import RunLogger
from ganzoo.training.runs import list_runs, read_status

RING = ["gan", "--dataset", "ring8", "--batch-size", "32", "--log-every", "2", "--no-publish"]


def _at_step(monkeypatch: pytest.MonkeyPatch, step: int, action) -> None:
    """Run ``action(state)`` after the run logger has handled ``step``."""
    logged = RunLogger.on_step_end

    def on_step_end(self, state, metrics):
        logged(self, state, metrics)
        if state.step == step:
            action(state)

    monkeypatch.setattr(RunLogger, "on_step_end", on_step_end)


def _ctrl_c(state) -> None:
    os.kill(os.getpid(), signal.SIGINT)  # as a user's Ctrl-C: the loop finishes the step, then stops


def _poison_gradients(state) -> None:
    """From the next step on, the discriminator's first weight gets NaN gradients: the run diverges."""
    weight = next(state.discriminator.parameters())
    weight.requires_grad_(True)  # the loop froze D for G's step; the hook outlives the toggle
    weight.register_hook(lambda g: torch.full_like(g, float("nan")))
    weight.requires_grad_(False)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """runs/ with a finished, an interrupted and a diverged run, a folder of something else and a damaged run."""
    root = tmp_path_factory.mktemp("made")
    runner = CliRunner()

    def train(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, ["train", *RING, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    with pytest.MonkeyPatch.context() as m:
        m.chdir(root)
        m.setenv("GANZOO_PLAIN_PROGRESS", "1")
        m.setenv("GANZOO_REGISTRY", str(root / "registry"))
        m.setenv("GANZOO_DATA", str(root / "data"))
        train("--steps", "6", "--eval-every", "6", "--run-dir", "runs/finished")
        with pytest.MonkeyPatch.context() as interrupt:
            _at_step(interrupt, 3, _ctrl_c)
            train("--steps", "50", "--run-dir", "runs/interrupted", code=130)
        with pytest.MonkeyPatch.context() as diverge:
            _at_step(diverge, 2, _poison_gradients)
            assert "non-finite at step 3" in train("--steps", "50", "--run-dir", "runs/diverged", code=1)
    (root / "runs" / "holiday").mkdir()
    (root / "runs" / "holiday" / "beach.jpg").write_bytes(b"not really a picture")
    (root / "runs" / "damaged").mkdir()
    (root / "runs" / "damaged" / "config.json").write_text('{"architecture": "gan", "resol')
    (root / "runs" / "notes.txt").write_text("a file among the runs is passed over")
    return root / "runs"


@pytest.fixture
def runs(made, tmp_path) -> Path:
    """A fresh copy of ``made`` as ./runs (``cli_run`` runs in ``tmp_path``)."""
    shutil.copytree(made, tmp_path / "runs", symlinks=True)
    return tmp_path / "runs"


def test_each_run_is_listed_with_how_it_ended(runs, cli_run):
    result = cli_run("runs", "--json")
    listed = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(listed) == {"finished", "interrupted", "diverged"}
    finished, interrupted, diverged = listed["finished"], listed["interrupted"], listed["diverged"]
    assert (finished["status"], finished["step"], finished["steps"]) == ("finished", 6, 6)
    assert (interrupted["status"], interrupted["step"], interrupted["steps"]) == ("interrupted", 3, 50)
    assert (diverged["status"], diverged["step"], diverged["steps"]) == ("diverged", 2, 50)
    assert "discriminator gradients became non-finite at step 3" in diverged["message"]
    for run in listed.values():
        assert (run["architecture"], run["dataset"], run["loss"]) == ("gan", "ring8", "non-saturating")
        assert run["metrics"]["d_loss"] > 0 and run["metrics"]["g_loss"] > 0
    assert finished["eval_step"] == 6 and "mixture.modes_covered" in finished["evaluation"]
    assert interrupted["evaluation"] == {} and interrupted["eval_step"] is None
    # what was not a run is named in one line each, on stderr; the file is passed over
    damaged, holiday = sorted(result.stderr.strip().splitlines())
    assert damaged.startswith(f"Skipped: {Path('runs/damaged')} is not a ganzoo run folder: "
                              f"{Path('runs/damaged/config.json')} is not valid JSON (Unterminated string")
    assert damaged.endswith("); the file is damaged or was not written by ganzoo")
    assert holiday == f"Skipped: {Path('runs/holiday')} is not a ganzoo run folder: its config.json is missing"
    assert "Traceback" not in result.output


def test_the_table_shows_steps_losses_the_last_evaluation_and_the_status(runs, cli_run):
    out = cli_run("runs").stdout.splitlines()  # piped: tab-separated, a header line first
    assert out[0] == "# Runs in runs"
    header = out[1].split("\t")
    assert header == ["run", "architecture", "dataset", "loss", "steps", "D loss", "G loss", "last evaluation",
                      "status", "age"]
    rows = {cells[0]: dict(zip(header, cells, strict=True)) for cells in (line.split("\t") for line in out[2:])}
    assert {name: row["status"] for name, row in rows.items()} == {
        "finished": "finished", "interrupted": "interrupted", "diverged": "diverged"}
    assert rows["finished"]["steps"] == "6/6" and rows["interrupted"]["steps"] == "3/50"
    assert rows["finished"]["last evaluation"].startswith("mixture.modes_covered ")
    assert rows["diverged"]["last evaluation"] == ""
    record = json.loads((runs / "finished" / "metrics.jsonl").read_text().splitlines()[-1])
    assert rows["finished"]["D loss"] == f"{record['d_loss']:.4g}"
    assert all(row["age"].endswith((" s", " min")) for row in rows.values())


def test_a_resumed_run_forgets_how_it_ended_before(runs, cli_run):
    assert read_status(runs / "interrupted")["status"] == "interrupted"
    cli_run("train", "--resume", str(runs / "interrupted"), "--steps", "8")
    assert read_status(runs / "interrupted") == {"status": "finished", "step": 8,
                                                 "time": read_status(runs / "interrupted")["time"]}
    [run] = [r for r in list_runs(runs).runs if r.name == "interrupted"]
    assert (run.status, run.step, run.steps) == ("finished", 8, 8)


def test_another_root_and_no_runs_at_all(cli_run, tmp_path):
    assert "No run folders in runs. Train one with: ganzoo train dcgan" in cli_run("runs").output
    assert json.loads(cli_run("runs", "--json").stdout) == []
    cli_run("train", *RING, "--steps", "2", "--run-dir", "elsewhere/first")
    listed = json.loads(cli_run("runs", "--root", "elsewhere", "--json").stdout)
    assert [(r["name"], r["status"], r["path"]) for r in listed] == [("first", "finished", "elsewhere/first")]
    result = cli_run("runs", "--root", "nowhere", code=1)
    assert result.output.strip() == ("Error: cannot list the runs in nowhere: no such folder. Pass the folder "
                                     "that holds the run folders with --root (runs by default)")
    slip = cli_run("runs", "elsewhere", code=2)  # the folder where --root DIR was meant
    assert "'elsewhere' is a folder, not a subcommand of 'ganzoo runs'; to list the runs in it, pass it with " \
           "--root: ganzoo runs --root elsewhere" in slip.output
    assert "No such command 'nowhere'" in cli_run("runs", "nowhere", code=2).output  # not a folder: click's word


def test_rm_asks_first_and_removes_the_whole_folder(runs, cli_run):
    result = cli_run("runs", "rm", "finished", input="n\n", code=1)
    assert "Remove the run folder runs/finished (finished, step 6/6) and everything in it?" in result.output
    assert (runs / "finished" / "checkpoint.pt").is_file()
    result = cli_run("runs", "rm", "runs/finished", input="y\n")
    assert result.output.strip().endswith("Removed runs/finished")
    cli_run("runs", "rm", "interrupted", "--yes")
    assert not (runs / "finished").exists() and not (runs / "interrupted").exists()
    assert sorted(p.name for p in runs.iterdir()) == ["damaged", "diverged", "holiday", "notes.txt"]  # nothing hidden
    assert [r["name"] for r in json.loads(cli_run("runs", "--json").stdout)] == ["diverged"]


@pytest.mark.parametrize("target", ["holiday", "damaged", "notes.txt", "nothing-here"])
def test_rm_refuses_what_is_not_a_run_folder(runs, cli_run, target):
    before = sorted(str(p.relative_to(runs)) for p in runs.rglob("*"))
    result = cli_run("runs", "rm", target, "--yes", code=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output
    expected = "no run folder 'nothing-here'" if target == "nothing-here" else "nothing was removed"
    assert expected in lines[0] and (target == "nothing-here" or "is not a ganzoo run folder" in lines[0])
    assert sorted(str(p.relative_to(runs)) for p in runs.rglob("*")) == before


def test_rm_never_follows_a_symbolic_link(runs, cli_run, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    (runs / "diverged" / "linked-folder").symlink_to(outside, target_is_directory=True)
    (runs / "diverged" / "samples" / "linked-file").symlink_to(outside / "keep.txt")
    (runs / "alias").symlink_to(runs / "finished", target_is_directory=True)

    result = cli_run("runs", "rm", "alias", "--yes", code=1)
    assert "alias is a symbolic link" in result.output and "never follows a link" in result.output
    assert (runs / "alias").is_symlink() and (runs / "finished" / "config.json").is_file()

    cli_run("runs", "rm", "diverged", "--yes")
    assert not (runs / "diverged").exists()
    assert (outside / "keep.txt").read_text() == "precious" and sorted(p.name for p in outside.iterdir()) == [
        "keep.txt"]


def test_a_run_being_trained_is_running_cannot_be_removed_and_is_incomplete_once_killed(cli_run, tmp_path):
    live = tmp_path / "runs" / "live"
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "train", *RING, "--log-every", "50",
                             "--steps", "1000000", "--run-dir", str(live)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if line.startswith("step "):
                break
        deadline = time.monotonic() + 30
        while not (live / "metrics.jsonl").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)  # the progress line may come just before the metric line is written
        [running] = json.loads(cli_run("runs", "--json").stdout)
        assert (running["name"], running["status"]) == ("live", "running")
        assert running["step"] >= 50 and running["steps"] == 1000000
        result = cli_run("runs", "rm", "live", "--yes", code=1)
        assert "is being trained now" in result.output and (live / "config.json").is_file()
    finally:
        proc.kill()  # as the OOM killer would: no status is written
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while list_runs(tmp_path / "runs").runs[0].status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)  # the kernel drops the dead process's lock as it reaps it
    [killed] = json.loads(cli_run("runs", "--json").stdout)
    assert killed["status"] == "incomplete" and 50 <= killed["step"] < 1000000
    cli_run("runs", "rm", "live", "--yes")
    assert not live.exists()
