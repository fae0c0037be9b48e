"""The next hour of real use: fine-tuning a stored model, the final checkpoint, threads, devices,
progress from Python, JPEG grids, plugin failures named by every command, whole rows of classes."""

from __future__ import annotations

import io
import json
import sys

import pytest
import safetensors.torch
import torch
from PIL import Image
from rich.console import Console

import ganzoo
from ganzoo.registry import Registry
from ganzoo.rendering import grid_size
from ganzoo.training.progress import ProgressCallback, RateMeter

TINY = ["--steps", "2", "--batch-size", "16", "-o", "base_channels=8"]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- fine-tuning: --init-from --------------------------------------------------------------------


class _FirstWeights(ganzoo.Callback):
    """Keeps G's and D's weights as the run starts (before any step)."""

    def on_train_start(self, state):
        self.g = {k: v.clone() for k, v in state.generator.state_dict().items()}
        self.d = {k: v.clone() for k, v in state.discriminator.state_dict().items()}


def _stored(registry: Registry, ref: str, role: str) -> dict[str, torch.Tensor]:
    record = registry.resolve(ref)
    return safetensors.torch.load_file(str(record.path / f"{role}.safetensors"))


def test_a_fine_tuning_run_starts_from_the_stored_networks_and_records_its_parent(cli_run, one_thread):
    cli_run("train", "dcgan", *TINY)
    registry = Registry()
    first = _FirstWeights()
    result = ganzoo.train("dcgan", "digits", steps=2, batch_size=16, model={"base_channels": 8},
                          init_from="dcgan-digits", callbacks=[first], progress=False)
    for role, weights in (("generator", first.g), ("discriminator", first.d)):
        stored = _stored(registry, "dcgan-digits:1", role)
        assert weights.keys() == stored.keys()
        assert all(torch.equal(weights[k], stored[k]) for k in stored), role
    fresh = _FirstWeights()
    ganzoo.train("dcgan", "digits", steps=1, batch_size=16, model={"base_channels": 8}, callbacks=[fresh],
                 progress=False)
    assert not all(torch.equal(fresh.g[k], first.g[k]) for k in first.g)  # not what a new run starts from
    assert result.parent is not None and result.parent["ref"] == "dcgan-digits:1"  # resolved to its version

    # the command line resolves the reference, names it, and records it in the manifest
    out = cli_run("train", "--init-from", "dcgan-digits", "--steps", "2", "--batch-size", "16",
                  "--name", "tuned").output
    assert "Started from dcgan-digits:1 (its generator and discriminator)." in out
    manifest = registry.read_manifest("tuned")
    assert manifest.body["parent"]["ref"] == "dcgan-digits:1"
    assert manifest.body["parent"]["generator_sha256"] == manifest_sha(registry, "dcgan-digits:1")
    assert manifest.training["init_from"] == "dcgan-digits:1"
    assert manifest.training["model"] == {"base_channels": 8}  # the stored model's options are the base
    assert '"ref": "dcgan-digits:1"' in cli_run("models", "show", "tuned").output


def manifest_sha(registry: Registry, ref: str) -> str:
    return registry.read_manifest(ref).files["generator.safetensors"]["sha256"]


def test_a_refused_start_leaves_no_empty_run_folder(cli_run, tmp_path, one_thread):
    cli_run("train", "dcgan", *TINY)
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    cli_run("train", "dcgan", "--init-from", "dcgan-digits", "--image-size", "16", *TINY, code=1)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == runs


def test_a_fine_tuned_run_resumes_from_its_checkpoint_not_from_its_parent(cli_run, tmp_path, one_thread):
    cli_run("train", "dcgan", *TINY)
    cli_run("train", "--init-from", "dcgan-digits", "--steps", "2", "--batch-size", "16", "--run-dir", "ft",
            "--no-publish")
    cli_run("train", "dcgan", *TINY)  # dcgan-digits:2: a later version must not change what the run means
    out = cli_run("train", "--resume", "ft", "--steps", "4", "--no-publish").output
    assert "Started from dcgan-digits:1" in out
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["init_from"] == "dcgan-digits:1"
    cli_run("train", "--resume", "ft", "--steps", "6", "--name", "tuned")
    parent = Registry().read_manifest("tuned").body["parent"]
    assert parent["ref"] == "dcgan-digits:1"
    assert parent["generator_sha256"] == manifest_sha(Registry(), "dcgan-digits:1")


def test_a_model_without_a_stored_discriminator_starts_with_a_new_one(cli_run, tmp_path, one_thread):
    cli_run("train", "dcgan", *TINY)
    registry = Registry()
    record = registry.resolve("dcgan-digits")
    folder = tmp_path / "export"
    cli_run("models", "export", "dcgan-digits", str(folder))
    config = json.loads((folder / "config.json").read_text())
    if "discriminator.safetensors" not in config.get("files", {}):
        pytest.skip("exports carry no discriminator here")
    del config["files"]["discriminator.safetensors"]
    (folder / "discriminator.safetensors").unlink()
    (folder / "config.json").write_text(json.dumps(config))
    cli_run("models", "import", str(folder), "--name", "gonly")
    assert record.ref == "dcgan-digits:1"
    out = cli_run("train", "--init-from", "gonly", "--steps", "2", "--batch-size", "16", "--no-publish").output
    assert "stores no discriminator: D starts from random weights" in out
    assert "(its generator and a new discriminator)" in out


# -- the final checkpoint ------------------------------------------------------------------------


def test_the_final_checkpoint_is_named_and_no_checkpoint_removes_it_once_published(cli_run, tmp_path, one_thread):
    out = cli_run("train", "dcgan", *TINY, "--run-dir", "kept").output
    assert "Checkpoint: kept/checkpoint.pt (" in out
    assert "train further with: ganzoo train --resume kept --steps 4" in out
    assert (tmp_path / "kept" / "checkpoint.pt").is_file()
    out = cli_run("train", "dcgan", *TINY, "--run-dir", "dropped", "--no-checkpoint").output
    assert "Checkpoint removed (--no-checkpoint)" in out
    assert not (tmp_path / "dropped" / "checkpoint.pt").exists()
    assert (tmp_path / "dropped" / "config.json").is_file() and (tmp_path / "dropped" / "metrics.jsonl").is_file()
    assert Registry().resolve("dcgan-digits").version == 2  # published before the checkpoint went


# -- threads, devices ----------------------------------------------------------------------------


def test_threads_sets_pytorchs_cpu_threads_and_the_manifest_records_them(cli_run, monkeypatch):
    monkeypatch.setattr(torch, "set_num_threads", _recording := _Recorder(torch.set_num_threads))
    cli_run("train", "dcgan", *TINY, "--threads", "1")
    assert _recording.calls == [1]
    assert Registry().read_manifest("dcgan-digits").body["host"]["torch_threads"] == 1
    cli_run("sample", "dcgan-digits", "--threads", "1", "-n", "4")
    cli_run("eval", "dcgan-digits", "--threads", "1", "--samples", "50", "--no-save")
    assert _recording.calls == [1, 1, 1]


class _Recorder:
    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, n):
        self.calls.append(n)
        self.fn(n)


def test_sample_and_eval_take_a_device(cli_run, one_thread):
    cli_run("train", "dcgan", *TINY)
    assert "Wrote 4 samples" in cli_run("sample", "dcgan-digits", "--device", "cpu", "-n", "4").output
    cli_run("eval", "dcgan-digits", "--device", "cpu", "--samples", "50", "--no-save")
    if not torch.cuda.is_available():
        refused = cli_run("eval", "dcgan-digits", "--device", "cuda", code=1)
        assert "CUDA is not available here; use --device cpu" in refused.output


# -- progress ------------------------------------------------------------------------------------


def test_python_training_shows_progress_when_asked_and_not_when_told_not_to(capsys, monkeypatch, one_thread):
    monkeypatch.setenv("GANZOO_PLAIN_PROGRESS", "1")
    ganzoo.train("gan", "ring8", steps=3, batch_size=16, log_every=1, progress=True)
    shown = capsys.readouterr().err
    assert "step 3/3" in shown and "img/s" in shown and "eta" in shown
    ganzoo.train("gan", "ring8", steps=3, batch_size=16, log_every=1, progress=False)
    assert "step" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    ganzoo.train("gan", "ring8", steps=3, batch_size=16, log_every=1)  # default: only on a terminal
    assert "step" not in capsys.readouterr().err


def test_the_rate_is_smoothed_and_the_eta_follows_it():
    meter = RateMeter(horizon=10.0)
    meter.start(0, now=0.0)
    assert meter.remaining(0, 100) is None
    assert meter.update(10, now=1.0) == pytest.approx(10.0)  # the first reading: the plain rate
    assert meter.remaining(10, 100) == pytest.approx(9.0)
    slow = meter.update(11, now=2.0)  # one slow second moves the estimate a little, not all the way to 1/s
    assert 1.0 < slow < 10.0
    assert slow == pytest.approx(10.0 + (1 - pytest.importorskip("math").exp(-0.1)) * (1.0 - 10.0))
    for t in range(3, 80):  # a lasting slowdown is followed
        rate = meter.update(11 + t - 2, now=float(t))
    assert rate == pytest.approx(1.0, rel=0.01)
    assert meter.remaining(100, 100) == 0


def test_images_per_second_and_the_eta_come_from_one_rate(monkeypatch):
    from types import SimpleNamespace

    clock = iter([0.0, 2.0])
    monkeypatch.setattr("ganzoo.training.progress.time.perf_counter", lambda: next(clock))
    buffer = io.StringIO()
    progress = ProgressCallback(out=Console(file=buffer, force_terminal=False, width=200))
    config = SimpleNamespace(architecture="gan", steps=30, batch_size=4, d_steps=2, log_every=10)
    state = SimpleNamespace(step=0, notes=[], config=config, dataset=SimpleNamespace(name="ring8"))
    progress.on_train_start(state)  # type: ignore[arg-type]
    state.step = 10
    metrics = {k: torch.tensor(0.5) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    progress.on_step_end(state, metrics)  # type: ignore[arg-type]
    line = buffer.getvalue()
    assert "40 img/s" in line  # 10 steps in 2 s, 4 x 2 real images a step
    assert "eta 0:00:04" in line  # 20 steps left at 5 steps/s


# -- plugin failures -----------------------------------------------------------------------------


def test_every_command_names_a_failed_plugin_in_one_line(cli_run, install_distribution):
    install_distribution("ganzoo-broken", {"ganzoo_broken": "raise ImportError('needs libfoo')\n"},
                         {"broken": "ganzoo_broken"})
    result = cli_run("list")
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warned == ["Warning: plugin left out: broken (import: ImportError: needs libfoo); details: ganzoo plugins"]
    assert "dcgan" in result.stdout  # the rest works
    shown = cli_run("plugins")
    assert "Warning:" not in shown.stderr and "needs libfoo" in shown.stdout  # its table says it


# -- grids ---------------------------------------------------------------------------------------


def test_conditional_grids_hold_whole_rows_of_classes(cli_run, tmp_path, one_thread):
    assert [grid_size(n) for n in (0, 10, 3, 16, 40)] == [64, 60, 63, 64, 64]
    cli_run("train", "cgan", "--steps", "2", "--batch-size", "16", "--out", "train.png")
    assert "Wrote 60 samples" in cli_run("sample", "cgan-digits", "--out", "grid.png").output
    with Image.open(tmp_path / "grid.png") as grid, Image.open(tmp_path / "train.png") as trained:
        assert grid.size == trained.size
        assert grid.size[1] * 10 == pytest.approx(grid.size[0] * 6, rel=0.05)  # 6 rows of 10 classes


def test_the_publish_retry_names_a_registry_found_from_the_current_folder(cli_run, tmp_path, monkeypatch, one_thread):
    monkeypatch.delenv("GANZOO_REGISTRY")
    cli_run("models", "init")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")

    def full(*args, **kwargs):
        raise ganzoo.StorageError("No space left on device")

    monkeypatch.setattr("ganzoo.training.publish.publish", full)
    refused = cli_run("train", "dcgan", *TINY, code=1)
    assert f"--publish --registry {tmp_path / 'registry'}" in refused.output  # works from any folder
