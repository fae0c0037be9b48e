"""The command line, driven the way a user drives it (click's runner, and one real subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

FAST = ["--steps", "3", "--batch-size", "16", "-o", "base_channels=8"]


def test_list_shows_architectures_losses_datasets(cli_run):
    out = cli_run("list").output
    for word in ("dcgan", "Radford", "cgan", "Mirza", "gan", "Goodfellow", "wasserstein-gp", "digits", "ring8"):
        assert word in out
    data = json.loads(cli_run("list", "--json").output)
    archs = {a["name"]: a for a in data["architectures"]}
    assert archs["cgan"]["conditional"] is True and archs["dcgan"]["conditional"] is False
    assert archs["dcgan"]["plugin"] == "dcgan" and archs["dcgan"]["paper"]
    assert {x["name"] for x in data["losses"]} >= {"minimax", "non-saturating", "hinge", "least-squares"}
    digits = next(d for d in data["datasets"] if d["name"] == "digits")
    assert digits["shape"] == [1, 8, 8] and digits["num_classes"] == 10 and digits["available"] is True


def test_plugins_lists_versions_and_hooks(cli_run):
    data = json.loads(cli_run("plugins", "--json").output)
    dcgan = next(p for p in data["plugins"] if p["name"] == "dcgan")
    assert dcgan["version"] and dcgan["hooks"] == ["register_architectures"]
    assert data["failures"] == []
    assert "register_losses" in cli_run("plugins").output


def test_train_publishes_and_writes_a_grid(cli_run, tmp_path):
    out = cli_run("train", "dcgan", *FAST).output
    assert "Published dcgan-digits:1" in out
    assert (tmp_path / "samples" / "dcgan-digits-v1.png").stat().st_size > 0
    models = json.loads(cli_run("models", "--json").output)
    assert [(m["name"], m["version"], m["architecture"], m["dataset"], m["steps"]) for m in models] == [
        ("dcgan-digits", 1, "dcgan", "digits", 3)]
    cli_run("train", "dcgan", *FAST)
    assert "dcgan-digits" in cli_run("models").output
    assert [m["version"] for m in json.loads(cli_run("models", "list", "--json").output)] == [1, 2]


def test_sample_from_registry_and_from_a_copied_file(cli_run, tmp_path):
    cli_run("train", "cdcgan", *FAST, "--name", "cond")
    cli_run("sample", "cond", "--n", "16", "--out", "a.png")
    cli_run("sample", "cond:1", "--label", "3", "--out", "b.png")
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0
    record = json.loads(cli_run("models", "--json").output)[0]
    copied = shutil.copy(f"{record['path']}/generator_ema.safetensors", tmp_path / "lonely.safetensors")
    cli_run("sample", str(copied), "--label", "9", "--out", "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0
    bad = cli_run("sample", "cond", "--label", "10", code=None)
    assert bad.exit_code == 1 and "label 10 is out of range" in bad.output and "Traceback" not in bad.output


def test_train_the_2d_mixtures(cli_run, tmp_path):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "3", "--out", "ring.png")
    cli_run("train", "cgan", "--dataset", "grid25", "--steps", "3", "--d-steps", "2", "--loss", "hinge")
    assert (tmp_path / "ring.png").stat().st_size > 0
    assert {m["name"] for m in json.loads(cli_run("models", "--json").output)} == {"gan-ring8", "cgan-grid25"}


@pytest.mark.parametrize(("args", "message"), [
    (["train", "dcgna"], "unknown architecture 'dcgna'; did you mean 'dcgan'"),
    (["train", "dcgan", "--loss", "hinj"], "unknown loss 'hinj'; did you mean 'hinge'"),
    (["train", "dcgan", "--dataset", "ring8"], "dcgan needs images"),
    (["train", "dcgan", "--image-size", "9"], "--image-size"),
    (["train", "cgan", "--steps", "0"], "steps must be a positive integer, got 0"),
    (["train", "gan", "-o", "nonsense=1"], "has no option 'nonsense'"),
    (["train", "gan", "--name", "../escape"], "../escape"),
    (["sample", "nothing-here"], "nothing-here"),
])
def test_user_mistakes_give_one_clear_line(cli_run, args, message):
    result = cli_run(*args, code=None)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_usage_errors_exit_2(cli_run):
    assert cli_run("train", code=None).exit_code == 2
    assert cli_run("train", "gan", "--steps", "many", code=None).exit_code == 2


def test_models_verify_alias_rm(cli_run, tmp_path):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "2")
    assert "verified" in cli_run("models", "verify").output
    cli_run("models", "alias", "gan-ring8:1", "best")
    assert json.loads(cli_run("models", "show", "gan-ring8@best").output)["version"] == 1
    assert cli_run("models", "rm", "gan-ring8:1", input="n\n", code=None).exit_code != 0
    assert json.loads(cli_run("models", "--json").output)
    cli_run("models", "rm", "gan-ring8:1", "--yes")
    assert json.loads(cli_run("models", "--json").output) == []


def test_models_rm_of_an_alias_removes_only_the_alias(cli_run):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "2")
    cli_run("models", "alias", "gan-ring8:1", "best")
    cli_run("models", "alias", "gan-ring8:1", "prod")
    asked = cli_run("models", "rm", "gan-ring8@best", input="n\n", code=None)
    assert asked.exit_code == 1 and "Remove the alias gan-ring8@best (it points to gan-ring8:1, which stays)?" \
        in asked.output
    removed = cli_run("models", "rm", "gan-ring8@best", input="y\n").output
    assert "Removed the alias gan-ring8@best; gan-ring8:1 is kept" in removed
    [model] = json.loads(cli_run("models", "--json").output)
    assert model["version"] == 1 and model["aliases"] == ["latest", "prod"]
    assert "verified" in cli_run("models", "verify").output
    cli_run("sample", "gan-ring8@prod", "--out", "still-there.png")
    latest = cli_run("models", "rm", "gan-ring8@latest", "--yes", code=None)
    assert latest.exit_code == 1 and "'latest' is kept by the registry" in latest.output
    version = cli_run("models", "rm", "gan-ring8:1", input="n\n", code=None)  # a version: the prompt names its aliases
    assert "aliases: latest, prod" in version.output
    assert json.loads(cli_run("models", "--json").output)[0]["aliases"] == ["latest", "prod"]


def test_the_console_script_runs_in_a_real_process(tmp_path):
    exe = shutil.which("ganzoo")
    cmd = [exe] if exe else [sys.executable, "-m", "ganzoo"]
    proc = subprocess.run([*cmd, "train", "gan", "--dataset", "ring8", "--steps", "60", "--log-every", "20",
                           "--registry", str(tmp_path / "reg"), "--out", str(tmp_path / "g.png")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # piped output: plain progress lines with every metric
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("step ")]
    assert [ln.split()[1] for ln in lines] == ["20/60", "40/60", "60/60"]
    for field in ("D loss", "G loss", "D(x)", "D(G(z))", "img/s"):
        assert field in lines[-1]
    assert "Published gan-ring8:1" in proc.stdout and str(tmp_path / "g.png") in proc.stdout
    err = subprocess.run([*cmd, "train", "nope"], capture_output=True, text=True, cwd=tmp_path)
    assert err.returncode == 1 and err.stderr.startswith("Error: unknown architecture 'nope'")
    assert "Traceback" not in err.stderr


def test_models_lists_stored_scores_and_sorts_by_them(cli_run):
    import ganzoo

    for seed in ("0", "1", "2"):
        cli_run("train", "gan", "--dataset", "ring8", "--steps", "3", "--batch-size", "16", "--seed", seed)
    for version, kl in (("1", 0.5), ("2", 0.1), ("3", 0.9)):  # evaluations as `ganzoo eval` stores them
        ganzoo.Registry().record_metrics(f"gan-ring8:{version}", "mixture",
                                         {"modes_covered": 8, "high_quality": 1 - kl, "reverse_kl": kl})
    table = cli_run("models").stdout
    assert "mixture.reverse_kl" in table.splitlines()[1] and "mixture.high_quality" in table.splitlines()[1]
    best = json.loads(cli_run("models", "--json", "--sort", "reverse_kl").stdout)
    assert [m["version"] for m in best] == [2, 1, 3]  # a divergence: lowest first
    assert best[0]["scores"]["mixture.reverse_kl"] == 0.1
    quality = json.loads(cli_run("models", "list", "--json", "--sort", "mixture.high_quality").stdout)
    assert [m["version"] for m in quality] == [2, 1, 3]  # a share of good samples: highest first
    assert "no stored version has the score 'fd'" in cli_run("models", "--sort", "fd", code=1).output
