"""The run folder: config.json, metrics.jsonl, sample grids and TensorBoard events, fresh and resumed."""

from __future__ import annotations

import json
import sys

import pytest
from PIL import Image

import ganzoo
from ganzoo.training.runfolder import grid_steps, read_metrics, read_run_config
from ganzoo.training.runlog import RunLogger

RING = ["gan", "--dataset", "ring8", "--batch-size", "32", "--log-every", "5"]
FIELDS = {"step", "d_loss", "g_loss", "d_real", "d_fake", "images_per_s", "seconds"}


def test_train_writes_config_metrics_and_grids(cli_run, tmp_path):
    out = cli_run("train", *RING, "--steps", "20", "--sample-every", "10", "--run-dir", "r", "--no-publish").output
    assert "Run folder: r" in out and "ganzoo report r" in out
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["architecture"] == "gan" and config["steps"] == 20 and config["batch_size"] == 32
    resolved = config["resolved"]
    assert resolved["loss"] == "non-saturating" and resolved["device"] == "cpu"
    assert resolved["spec"]["architecture"] == "gan" and resolved["spec"]["data_shape"] == [2]
    assert resolved["dataset"]["name"] == "ring8" and resolved["dataset"]["shape"] == [2]

    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    for r in records:
        assert set(r) == FIELDS
        assert 0 <= r["d_real"] <= 1 and 0 <= r["d_fake"] <= 1 and r["images_per_s"] > 0
    assert records[-1]["seconds"] >= records[0]["seconds"] > 0
    assert [s for s, _ in grid_steps(tmp_path / "r")] == [10, 20]
    assert (tmp_path / "r" / "samples" / "step-000010.png").is_file()
    assert Image.open(tmp_path / "r" / "samples" / "step-000020.png").size[0] > 100


def test_sample_every_zero_draws_only_the_last_step(cli_run, tmp_path):
    cli_run("train", *RING, "--steps", "7", "--sample-every", "0", "--run-dir", "r", "--no-publish")
    assert [s for s, _ in grid_steps(tmp_path / "r")] == [7]
    assert [r["step"] for r in read_metrics(tmp_path / "r")] == [5, 7]


def test_the_python_api_takes_a_run_logger(tmp_path):
    config = ganzoo.TrainConfig(architecture="dcgan", dataset="digits", steps=4, batch_size=16, log_every=2,
                                model={"base_channels": 8})
    ganzoo.fit(config, callbacks=[RunLogger(tmp_path / "api", sample_every=2)])
    assert [r["step"] for r in read_metrics(tmp_path / "api")] == [2, 4]
    assert [s for s, _ in grid_steps(tmp_path / "api")] == [2, 4]
    assert json.loads((tmp_path / "api" / "config.json").read_text())["resolved"]["spec"]["data_shape"] == [1, 8, 8]


def test_resume_appends_without_duplicate_steps(cli_run, tmp_path):
    cli_run("train", *RING, "--steps", "10", "--checkpoint-every", "10", "--sample-every", "5", "--run-dir", "r",
            "--no-publish")
    log = tmp_path / "r" / "metrics.jsonl"
    before = log.read_text()
    # A crash after the checkpoint at step 10: lines and a grid of steps the resumed run will redo, a torn line.
    with log.open("a") as f:
        f.write(json.dumps({"step": 15, "d_loss": -1.0}) + "\n" + '{"step": 20, "d_lo')
    (tmp_path / "r" / "samples" / "step-000015.png").write_bytes(b"stale")
    cli_run("train", "--resume", "r", "--steps", "20", "--sample-every", "5")
    after = log.read_text()
    assert after.startswith(before)  # appended: the first part of the run is untouched
    records = read_metrics(tmp_path / "r")
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    assert all(set(r) == FIELDS for r in records) and records[2]["d_loss"] > 0
    assert len(after.splitlines()) == 4
    assert [s for s, _ in grid_steps(tmp_path / "r")] == [5, 10, 15, 20]
    assert (tmp_path / "r" / "samples" / "step-000015.png").read_bytes().startswith(b"\x89PNG")
    assert read_run_config(tmp_path / "r").steps == 20  # config.json with "resolved" still resumes


def test_evaluations_land_in_the_metric_lines(cli_run, tmp_path):
    cli_run("train", *RING, "--steps", "10", "--eval-every", "10", "--run-dir", "r", "--no-publish")
    records = read_metrics(tmp_path / "r")
    assert [r["step"] for r in records] == [5, 10] and "eval" not in records[0]
    evaluation = records[1]["eval"]
    assert 0 <= evaluation["mixture"]["modes_covered"] <= 8 and evaluation["mixture"]["num_modes"] == 8
    assert evaluation["protocol"]["kind"] == "2d-mixture" and evaluation["protocol"]["samples"] == 2500


def test_tensorboard_events_hold_the_scalars_and_grids(cli_run, tmp_path):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cli_run("train", *RING, "--steps", "10", "--sample-every", "5", "--logger", "tensorboard", "--run-dir", "r",
            "--no-publish")
    events = list((tmp_path / "r").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(tmp_path / "r"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"train/d_loss", "train/g_loss", "train/d_real", "train/d_fake", "train/images_per_s"} <= set(
        tags["scalars"])
    logged = read_metrics(tmp_path / "r")
    assert [e.step for e in acc.Scalars("train/d_loss")] == [5, 10]
    assert [round(e.value, 5) for e in acc.Scalars("train/g_loss")] == [round(r["g_loss"], 5) for r in logged]
    assert [e.step for e in acc.Images("samples")] == [5, 10]


def test_tensorboard_missing_says_how_to_install(cli_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    result = cli_run("train", *RING, "--steps", "3", "--logger", "tensorboard", code=1)
    assert "pip install 'ganzoo[tensorboard]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() and ganzoo.Registry().list() == []  # refused before training


def test_bad_sample_every_is_refused(tmp_path):
    with pytest.raises(ganzoo.ConfigError, match="sample_every"):
        RunLogger(tmp_path, sample_every=-1)
