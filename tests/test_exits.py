"""Leaving early keeps the work: a publish that fails or is interrupted leaves a run that publishes on retry,
evaluation numbers are printed before they are stored, and Ctrl-C at any moment exits 130 without a traceback."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

import ganzoo
from ganzoo.registry import Registry

TRAIN = ["train", "gan", "--dataset", "ring8", "--steps", "2", "--batch-size", "16"]


def _retry_command(output: str) -> list[str]:
    """The command the message says publishes the trained model, as arguments after ``ganzoo``."""
    found = re.search(r"ganzoo (train --resume .*?)$", output, flags=re.MULTILINE)
    assert found, output
    return shlex.split(found.group(1))


def _models(cli_run) -> list[str]:
    return [m["ref"] for m in json.loads(cli_run("models", "--json").output)]


def _refuse(*args, **kwargs):
    raise ganzoo.StorageError("could not store mk in the registry: Permission denied; nothing was stored")


def _ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("name", [None, "mk"])
def test_a_failed_publish_keeps_the_run_and_says_how_to_publish_it(cli_run, monkeypatch, tmp_path, name):
    named = ["--name", name] if name else []
    with monkeypatch.context() as patched:
        patched.setattr(Registry, "publish", _refuse)
        result = cli_run(*TRAIN, *named, "--run-dir", "runs/r[1]", code=1)
    assert "Traceback" not in result.output
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: ") and "Permission denied" in error
    assert (tmp_path / "runs" / "r[1]" / "checkpoint.pt").is_file()
    retry = _retry_command(error)
    assert retry[:6] == ["train", "--resume", "runs/r[1]", "--steps", "2", "--publish"]
    assert _models(cli_run) == []
    out = cli_run(*retry).output
    assert f"Published {name or 'gan-ring8'}:1" in out
    assert _models(cli_run) == [f"{name or 'gan-ring8'}:1"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permissions do not stop root; the patched publish above covers it")
def test_a_read_only_model_folder_keeps_the_run(cli_run, tmp_path):
    cli_run(*TRAIN, "--name", "mk")
    folder = Path(os.environ["GANZOO_REGISTRY"]) / "models" / "mk"
    folder.chmod(0o555)
    try:
        result = cli_run(*TRAIN, "--name", "mk", "--run-dir", "run2", code=1)
        assert "Traceback" not in result.output and (tmp_path / "run2" / "checkpoint.pt").is_file()
        retry = _retry_command(result.output)
    finally:
        folder.chmod(0o755)
    assert "Published mk:2" in cli_run(*retry).output


def test_ctrl_c_while_publishing_keeps_the_run_and_says_how_to_publish_it(cli_run, monkeypatch, tmp_path):
    cli_run(*TRAIN, "--name", "mk")
    with monkeypatch.context() as patched:
        patched.setattr(Registry, "publish", _ctrl_c)
        result = cli_run(*TRAIN, "--from", "mk", "--run-dir", "run2", code=130)
    assert "Traceback" not in result.output and "Error" not in result.output
    assert "Interrupted while publishing mk" in result.output
    assert (tmp_path / "run2" / "checkpoint.pt").is_file()
    retry = _retry_command(result.output)
    assert retry == ["train", "--resume", "run2", "--steps", "2", "--publish", "--name", "mk"]
    assert "Published mk:2" in cli_run(*retry).output
    assert _models(cli_run) == ["mk:1", "mk:2"]


def test_eval_prints_its_numbers_before_storing_them(cli_run, monkeypatch):
    cli_run(*TRAIN, "--name", "mk")
    monkeypatch.setattr(Registry, "record_metrics", _refuse)
    result = cli_run("eval", "mk", "--samples", "200", code=1)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "mk" in lines[-1] and "--no-save" in lines[-1]
    assert any(line.startswith("modes") for line in lines[:-1]), result.output  # the numbers came first
    as_json = cli_run("eval", "mk", "--samples", "200", "--json", code=1).output
    assert '"metrics": "mixture"' in as_json


def test_ctrl_c_while_plugins_load_exits_130_even_with_torch_half_imported(cli_run, monkeypatch):
    monkeypatch.setattr("ganzoo.catalog.get_catalog", _ctrl_c)
    # Ctrl-C in the middle of importing torch leaves it half-imported: nothing that needs it may run then
    monkeypatch.setitem(sys.modules, "ganzoo.training.state", None)
    result = cli_run("list", code=130)
    assert result.output.strip() == "Interrupted."


def test_ctrl_c_while_the_command_line_is_read_exits_130(monkeypatch, capsys):
    from ganzoo.cli import base, main

    monkeypatch.setattr(base.GanzooGroup, "parse_args", _ctrl_c)
    monkeypatch.setattr(sys, "argv", ["ganzoo", "list"])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 130
    assert capsys.readouterr().err.strip() == "Interrupted."


def test_ctrl_c_anywhere_else_exits_130(monkeypatch, capsys):
    import ganzoo.cli as cli_module

    monkeypatch.setattr(cli_module.cli, "main", _ctrl_c)
    with pytest.raises(SystemExit) as exit:
        cli_module.main()
    assert exit.value.code == 130
    assert capsys.readouterr().err.strip() == "Interrupted."


def test_disk_full_while_publishing_says_how_to_publish(cli_run, monkeypatch):
    import ganzoo.registry.store

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ganzoo.registry.store, "write_durable", full)
    result = cli_run(*TRAIN, "--run-dir", "run", code=1)
    assert "No space left on device" in result.output
    assert _retry_command(result.output) == ["train", "--resume", "run", "--steps", "2", "--publish"]


def test_ctrl_c_during_training_gives_the_resume_command_that_keeps_the_name(cli_run, monkeypatch, tmp_path):
    from ganzoo.training import loop
    from ganzoo.training.state import TrainingInterrupted

    def interrupted_fit(config, *, callbacks=(), **kwargs):
        error = TrainingInterrupted(2)
        for cb in callbacks:
            cb.on_exception(error)  # what fit does; no checkpoint was saved, so nothing to resume
        error.run_dir = tmp_path / "run"  # as a Checkpointer that saved step 2 would set it
        raise error

    monkeypatch.setattr(loop, "fit", interrupted_fit)
    result = cli_run("train", "gan", "--dataset", "ring8", "--steps", "3", "--name", "mine", "--registry", "reg",
                     "--run-dir", str(tmp_path / "run"), code=130)
    assert "Interrupted after step 2" in result.output
    assert f"Resume it with: ganzoo train --resume {tmp_path / 'run'} --name mine --registry reg" in result.output
