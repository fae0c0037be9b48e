"""``ganzoo train --config run.toml`` and ``--from REF``: where options come from, and which one wins."""

from __future__ import annotations

import pytest

from ganzoo.registry import Registry
from ganzoo.training.runfolder import grid_steps

RUN_TOML = """
architecture = "gan"
dataset = "ring8"
steps = 6
batch-size = 32
log_every = 3
betas = [0.4, 0.9]
sample-every = 3
run-dir = "myrun"
name = "from-file"

[model]
hidden = 32
"""


def training(ref: str) -> dict:
    return Registry().manifest(ref)["training"]


def test_a_config_file_supplies_every_option(cli_run, tmp_path):
    (tmp_path / "run.toml").write_text(RUN_TOML)
    cli_run("train", "--config", "run.toml")
    t = training("from-file")
    assert (t["architecture"], t["dataset"], t["steps"], t["batch_size"], t["log_every"]) == ("gan", "ring8", 6, 32, 3)
    assert t["betas"] == [0.4, 0.9] and t["model"] == {"hidden": 32}
    assert [s for s, _ in grid_steps(tmp_path / "myrun")] == [3, 6]


def test_the_command_line_wins_over_the_file(cli_run, tmp_path):
    (tmp_path / "run.toml").write_text(RUN_TOML)
    cli_run("train", "--config", "run.toml", "--steps", "4", "-o", "depth=2", "--name", "cli", "--run-dir", "other")
    t = training("cli")
    assert t["steps"] == 4 and t["batch_size"] == 32  # one from the command line, one from the file
    assert t["model"] == {"hidden": 32, "depth": 2}  # -o lays its keys over the [model] table
    assert (tmp_path / "other").is_dir() and not (tmp_path / "myrun").exists()
    assert Registry().list("from-file") == []


@pytest.mark.parametrize(("text", "message"), [
    ("stepz = 3\nfoo = 1\n", "unknown option(s): foo, stepz (did you mean steps?)"),
    ("resume = 'runs/x'\n", "unknown option(s): resume"),
    ("steps = 'many'\n", "steps must be a positive integer, got 'many'"),
    ("steps = 3.7\n", "steps must be a positive integer, got 3.7"),
    ("steps = true\n", "steps must be a positive integer, got True"),
    ("lr_g = nan\n", "lr_g must be a positive number, got nan"),
    ("precision = 'fp8'\n", "precision must be one of fp32, bf16, got 'fp8'"),
    ("fast = 1\n", "fast must be true or false, got 1"),
    ("nproc = 2.5\n", "nproc must be a whole number, got 2.5"),
    ("model = 3\n", "'model' must be a table"),
    ("steps = \n", "is not valid TOML"),
    ("steps = 1\nsteps = 2\n", "is not valid TOML"),
])
def test_mistakes_in_the_file_are_named(cli_run, tmp_path, text, message):
    (tmp_path / "bad.toml").write_text("architecture = 'gan'\n" + text)
    result = cli_run("train", "--config", "bad.toml", code=1)
    assert message in result.output and "bad.toml" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert Registry().list() == []


def test_config_file_paths_and_resume(cli_run, tmp_path):
    assert "config file nowhere.toml does not exist" in cli_run("train", "--config", "nowhere.toml", code=1).output
    (tmp_path / "run.toml").write_text(RUN_TOML)
    result = cli_run("train", "--config", "run.toml", "--resume", "somewhere", code=2)
    assert "--config and --from start a new run" in result.output


def test_from_retrains_with_the_recorded_options(cli_run, tmp_path):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "3", "--batch-size", "32", "--lr-g", "0.001",
            "--seed", "5", "-o", "hidden=32", "--ema", "0")
    out = cli_run("train", "--from", "gan-ring8", "--steps", "5").output
    assert "Published gan-ring8:2" in out
    first, second = training("gan-ring8:1"), training("gan-ring8:2")
    assert second["steps"] == 5
    assert {k: v for k, v in second.items() if k != "steps"} == {k: v for k, v in first.items() if k != "steps"}
    assert second["lr_g"] == 0.001 and second["seed"] == 5 and second["model"] == {"hidden": 32}
    (tmp_path / "layer.toml").write_text("batch_size = 16\n[model]\ndepth = 2\n")
    cli_run("train", "--from", "gan-ring8:1", "--config", "layer.toml", "--seed", "9", "--name", "layered")
    t = training("layered")
    assert (t["batch_size"], t["seed"], t["lr_g"], t["steps"]) == (16, 9, 0.001, 3)  # file, CLI, recorded, recorded
    assert t["model"] == {"hidden": 32, "depth": 2}


def test_from_needs_a_stored_model(cli_run):
    assert "no model 'nothing'" in cli_run("train", "--from", "nothing", code=1).output
    result = cli_run("train", "--from", "g.safetensors", code=1)
    assert "--from needs a model in the registry" in result.output


def test_every_train_option_defaults_to_the_config_field_it_sets():
    from dataclasses import fields

    from ganzoo.cli.train import train_cmd
    from ganzoo.training.config import TrainConfig
    from ganzoo.training.options import KEEPING

    params = {p.name: p for p in train_cmd.params}
    expected = {f.name: f.default for f in fields(TrainConfig) if f.name not in ("architecture", "model")}
    expected.update(KEEPING)
    assert set(expected) <= set(params), sorted(set(expected) - set(params))
    for name, default in expected.items():
        assert params[name].default == default, f"--{name.replace('_', '-')}: {params[name].default!r} != {default!r}"


def test_the_python_api_resolves_options_as_the_command_line_does(tmp_path):
    import ganzoo
    from ganzoo.training.config import FAST_PATH

    (tmp_path / "run.toml").write_text(RUN_TOML)
    run = ganzoo.resolve_run(config_file=tmp_path / "run.toml", options={"seed": 4, "precision": "fp32"}, fast=True,
                             model={"depth": 2})
    config = run.config
    assert (config.architecture, config.dataset, config.steps, config.seed) == ("gan", "ring8", 6, 4)
    assert config.precision == "fp32" and config.channels_last is FAST_PATH["channels_last"]  # typed > --fast > file
    assert config.betas == (0.4, 0.9) and config.model == {"hidden": 32, "depth": 2}
    assert (run.sample_every, run.logger, run.eval_every) == (3, "files", 0)
    with pytest.raises(ganzoo.ConfigError, match="unknown training option"):
        ganzoo.resolve_run("gan", options={"stepz": 3})
    with pytest.raises(ganzoo.ConfigError, match="no architecture given"):
        ganzoo.resolve_run(options={"steps": 3})


def test_the_python_api_resumes_with_the_run_folder_options(tmp_path):
    import ganzoo

    ganzoo.train("gan", "ring8", steps=2, batch_size=16, checkpoint_every=2, run_dir=tmp_path, callbacks=[
        ganzoo.RunLogger(tmp_path, sample_every=7)])
    run = ganzoo.resolve_run(resume=tmp_path, options={"steps": 4})
    assert run.config.steps == 4 and run.config.batch_size == 16 and run.sample_every == 7
    with pytest.raises(ganzoo.ConfigError, match="cannot resume"):
        ganzoo.resolve_run(resume=tmp_path, options={"seed": 3})
    with pytest.raises(ganzoo.ConfigError, match="start a new run"):
        ganzoo.resolve_run(resume=tmp_path, from_ref="gan-ring8")
