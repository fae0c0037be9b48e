"""``ganzoo models export`` / ``import``: Hugging Face-style folders, round trips, tampering refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.registry import Registry


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> str:
    """A registry with a conditional image model (EMA, discriminator) and an evaluated 2-D model."""
    root = str(tmp_path_factory.mktemp("transfer-registry"))
    result = ganzoo.train("cdcgan", "digits", steps=2, batch_size=16, model={"base_channels": 8})
    ganzoo.publish(result, name="cond", registry=root)
    ganzoo.publish(ganzoo.train("gan", "ring8", steps=3, batch_size=32), name="ring", registry=root)
    ganzoo.evaluate("ring", registry=root)  # records metrics with their protocol in the manifest
    return root


@pytest.fixture
def run(stored, cli_run, monkeypatch):
    """The shared ``cli_run``, against the registry that holds the stored models."""
    monkeypatch.setenv("GANZOO_REGISTRY", stored)
    return cli_run


def test_export_writes_a_model_folder(run, tmp_path, stored):
    assert "Exported cond" in run("models", "export", "cond", "out").output
    folder = tmp_path / "out"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "config.json", "discriminator.safetensors", "generator.safetensors",
                     "model.safetensors", "samples.png"]
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "ganzoo.export/1"
    assert config["spec"]["architecture"] == "cdcgan" and config["dataset"]["name"] == "digits"
    assert config["training"]["steps"] == 2 and config["training"]["loss"] == "non-saturating"
    assert config["source"]["ref"] == "cond:1" and config["source"]["name"] == "cond"
    assert config["files"]["model.safetensors"]["role"] == "generator_ema"
    assert set(config["files"]) == set(names) - {"config.json"}
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: ganzoo\n")
    for text in ("# cond (version 1)", "cdcgan", "Mirza", "## Dataset", "| name | digits |", "## Training",
                 "| batch_size | 16 |", "## Metrics", "![64 samples (seed 0)](samples.png)", "ganzoo models import"):
        assert text in card, text
    # the exported weights load alone, like any ganzoo .safetensors file
    g = ganzoo.load(folder / "model.safetensors")
    reference = ganzoo.load("cond", registry=stored)
    assert torch.equal(ganzoo.generate(g, 10, seed=1), ganzoo.generate(reference, 10, seed=1))


def test_the_model_card_states_metrics_with_their_protocol(run, tmp_path):
    run("models", "export", "ring@latest", "ring-out")
    card = (tmp_path / "ring-out" / "README.md").read_text()
    assert "### mixture" in card and "modes_covered" in card and "reverse_kl" in card
    assert "Protocol:" in card and "2d-mixture" in card and "| samples | 2500 |" in card
    config = json.loads((tmp_path / "ring-out" / "config.json").read_text())
    assert config["metrics"]["mixture"]["protocol"]["kind"] == "2d-mixture"
    assert "model.safetensors" in config["files"] and "generator.safetensors" in config["files"]


def test_round_trip_into_a_fresh_registry_samples_the_same_images(run, tmp_path, stored):
    run("models", "export", "cond", "out")
    out = run("models", "import", "out", "--registry", "fresh").output
    assert "Imported out as cond:1" in out
    fresh = Registry(tmp_path / "fresh")
    record = fresh.resolve("cond")
    manifest = fresh.manifest(record)
    assert manifest["source"]["ref"] == "cond:1" and manifest["training"]["steps"] == 2
    assert set(manifest["files"]) == {"generator.safetensors", "generator_ema.safetensors",
                                      "discriminator.safetensors", "samples.png"}
    run("sample", "cond", "--registry", "fresh", "-n", "20", "--seed", "3", "--out", "imported.npy")
    run("sample", "cond", "--registry", stored, "-n", "20", "--seed", "3", "--out", "original.npy")
    a = np.load(tmp_path / "imported.npy", allow_pickle=False)
    b = np.load(tmp_path / "original.npy", allow_pickle=False)
    assert a.shape == (20, 1, 8, 8) and np.array_equal(a, b)
    original = Registry(stored)
    for role in ("generator", "generator_ema", "discriminator"):
        mine, theirs = fresh.load_state("cond", role), original.load_state("cond", role)
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert fresh.verify() == []
    renamed = run("models", "import", "out", "--name", "other", "--registry", "fresh").output
    assert "other:1" in renamed


@pytest.mark.parametrize("victim", ["model.safetensors", "discriminator.safetensors", "samples.png"])
def test_a_tampered_export_is_refused_and_nothing_is_stored(run, tmp_path, victim):
    run("models", "export", "cond", "out")
    path = tmp_path / "out" / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("models", "import", "out", "--registry", "fresh", code=1)
    assert f"{victim} was changed after export" in result.output and "nothing was imported" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert Registry(tmp_path / "fresh").list() == [] and not (tmp_path / "fresh" / "models").exists()


def test_missing_files_and_escaping_names_are_refused(run, tmp_path):
    run("models", "export", "cond", "out")
    (tmp_path / "out" / "generator.safetensors").unlink()
    assert "is listed in config.json but missing" in run("models", "import", "out", "--registry", "f", code=1).output
    config_path = tmp_path / "out" / "config.json"
    config = json.loads(config_path.read_text())
    config["files"]["../outside.safetensors"] = config["files"].pop("generator.safetensors")
    config_path.write_text(json.dumps(config))
    assert "invalid file name '../outside.safetensors'" in run("models", "import", "out", "--registry", "f",
                                                                code=1).output
    assert Registry(tmp_path / "f").list() == []


def test_folders_that_do_not_fit(run, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert "already exists and is not an empty folder" in run("models", "export", "cond", "full", code=1).output
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    run("models", "export", "cond", "empty")  # an empty folder is fine
    assert (tmp_path / "empty" / "model.safetensors").is_file()
    assert "is not an exported model: it has no config.json" in run("models", "import", "full", code=1).output
    assert "no model 'nothing'" in run("models", "export", "nothing", "x", code=1).output
    assert not Path(tmp_path / "x").exists()
