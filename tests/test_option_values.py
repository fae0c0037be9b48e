"""Option values pass one set of rules whatever their source: the command line, ``--config``,
``--from``, ``-o`` model options and loss options (ganzoo.values)."""

from __future__ import annotations

import math

import pytest

import ganzoo
from ganzoo.values import check_bool, check_int, check_like, check_number, parse_key_values

RING = ["--dataset", "ring8", "--steps", "2", "--batch-size", "16", "--no-publish"]


@pytest.mark.parametrize(("args", "says"), [
    (["train", "gan", *RING, "-o", "hidden=true"], "model option hidden of 'gan' must be a whole number, got True"),
    (["train", "dcgan", "--steps", "2", "-o", "base_channels=true"], "must be a whole number, got True"),
    (["train", "gan", *RING, "-o", "latent_dim=abc"], "latent_dim of 'gan' must be a whole number, got 'abc'"),
    (["train", "gan", *RING, "-o", "latent_dim=NaN"], "latent_dim of 'gan' must be a whole number, got nan"),
    (["train", "gan", *RING, "-o", "hidden=2.5"], "must be a whole number, got 2.5"),
    (["train", "gan", *RING, "-o", "hidden=10000000"], "'gan' (plugin 'gan') rejected its arguments"),
    (["train", "gan", *RING, "-o", "data_shape=[1]"], "'data_shape' comes from the dataset"),
    (["train", "gan", *RING, "-o", "num_classes=5"], "'num_classes' comes from the dataset"),
    (["train", "gan", *RING, "-o", "hidden=8", "-o", "hidden=16"], "model option 'hidden' is given twice"),
    (["train", "gan", *RING, "--seed", "1180591620717411303424"], "seed must be a whole number >= 0"),
    (["train", "gan", *RING, "--image-size", "100000"], "image_size must be a positive integer of at most 4096"),
    (["train", "gan", *RING, "--loss", "wasserstein-gp:weight=-1"], "weight must be a number >= 0"),
    (["train", "gan", *RING, "--loss", "wasserstein-gp:weight=nan"], "option weight must be a finite number"),
    (["train", "gan", *RING, "--loss", "non-saturating-r1:gamma=1,gamma=2"], "'gamma' is given twice"),
    (["train", "gan", *RING, "--loss", "non-saturating-r1:gamma=true"], "option gamma must be a finite number"),
])
def test_a_bad_value_is_one_line_whatever_its_source(cli_run, args, says):
    result = cli_run(*args, code=1)
    assert says in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (ganzoo.Registry().root / "models").exists()


def test_the_same_rules_apply_from_python_and_from_a_stored_record():
    with pytest.raises(ganzoo.ConfigError, match=r"steps must be a positive integer, got 3\.7"):
        ganzoo.TrainConfig(steps=3.7)
    with pytest.raises(ganzoo.ConfigError, match="deterministic must be true or false, got 1"):
        ganzoo.TrainConfig.from_dict({"deterministic": 1})  # what --from reads back from a manifest
    with pytest.raises(ganzoo.ConfigError, match="betas must be two numbers"):
        ganzoo.resolve_run("gan", options={"betas": [0.5, float("inf")]})
    with pytest.raises(ganzoo.ConfigError, match=r"steps must be a positive integer, got 3\.0"):
        ganzoo.TrainConfig(steps=3.0)  # a whole number is an integer: a float is never cut or converted
    assert ganzoo.TrainConfig(betas=[0.4, 0.9]).betas == (0.4, 0.9)


def test_the_rules():
    assert check_int("n", 3) == 3
    for bad in (True, 3.5, 4.0, "3", float("nan"), None):
        with pytest.raises(ganzoo.ConfigError, match="n must be"):
            check_int("n", bad)
    with pytest.raises(ganzoo.ConfigError, match=r"n must be a whole number in \[1, 5\], got 6"):
        check_int("n", 6, minimum=1, maximum=5)
    assert check_number("x", 1) == 1.0 and isinstance(check_number("x", 1), float)
    for bad in (True, "1", math.inf, -math.inf, math.nan):
        with pytest.raises(ganzoo.ConfigError, match="x must be a finite number"):
            check_number("x", bad)
    with pytest.raises(ganzoo.ConfigError, match="x must be a finite number > 0, got 0"):
        check_number("x", 0, above=0)
    assert check_bool("f", False) is False
    with pytest.raises(ganzoo.ConfigError, match="f must be true or false, got 0"):
        check_bool("f", 0)
    assert check_like("k", [1, 2], None) == [1, 2] and check_like("k", "a", "b") == "a"
    with pytest.raises(ganzoo.ConfigError, match="k must be finite"):
        check_like("k", [1.0, math.nan], None)
    assert parse_key_values(["a=1", "b=[1, 2]", "c=text", "d=true"], "option", "a=1") == \
        {"a": 1, "b": [1, 2], "c": "text", "d": True}
    with pytest.raises(ganzoo.ConfigError, match="option 'a' is given twice"):
        parse_key_values(["a=1", "a=2"], "option", "a=1")
    with pytest.raises(ganzoo.ConfigError, match="must look like KEY=VALUE"):
        parse_key_values(["a"], "option", "a=1")


def test_references_and_damaged_records_are_one_line(cli_run):
    import json

    cli_run("train", *["gan", *RING[:-1]], "--name", "m")
    assert "the version after ':' must be a positive integer" in \
        cli_run("sample", "m:99999999999999999999", code=1).output
    manifest = ganzoo.Registry().resolve("m").path / "manifest.json"
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "spec": "x"}))
    result = cli_run("models", "export", "m", "out", code=1)
    assert "has no usable 'spec'" in result.output and len(result.output.strip().splitlines()) == 1
    manifest.write_text(json.dumps({**record, "dataset": "digits"}))
    result = cli_run("eval", "m", code=1)
    assert "does not record the dataset it was trained on" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
