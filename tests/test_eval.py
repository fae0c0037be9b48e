"""`ganzoo eval`: the protocol per dataset, results stored in the manifest, the classifier cached."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def test_eval_of_a_2d_mixture_model_is_recorded_in_its_manifest(cli_run):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "5")
    out = json.loads(cli_run("eval", "gan-ring8", "--json").output)
    assert out["metrics"] == "mixture" and out["num_modes"] == 8 and out["samples"] == 2500
    assert 0 <= out["high_quality"] <= 1 and 0 <= out["modes_covered"] <= 8
    assert out["protocol"]["kind"] == "2d-mixture"
    manifest = json.loads(cli_run("models", "show", "gan-ring8").output)
    assert manifest["metrics"]["mixture"]["modes_covered"] == out["modes_covered"]
    assert "verified" in cli_run("models", "verify").output  # rewriting the manifest broke no hash


def test_eval_of_an_image_model_trains_and_caches_a_classifier(cli_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))  # trained here, not found from another test
    cli_run("train", "cdcgan", "--steps", "3", "--batch-size", "16", "-o", "base_channels=8")
    first = json.loads(cli_run("eval", "cdcgan-digits", "--samples", "300", "--json").output)
    for key in ("fd", "kid", "precision", "recall", "class_kl", "label_accuracy"):
        assert isinstance(first[key], float), key
    assert first["protocol"]["classifier_accuracy"] > 0.9  # the feature network really learned digits
    assert first["protocol"]["features"].startswith("ganzoo FeatureClassifier 128-d, recipe v2, ")
    cached = list(Path(tmp_path, "cache", "classifiers").glob("digits-*.safetensors"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    second = json.loads(cli_run("eval", "cdcgan-digits", "--samples", "300", "--json").output)
    assert cached[0].stat().st_mtime_ns == mtime  # reused, not retrained
    assert second["fd"] == pytest.approx(first["fd"])
    table = cli_run("eval", "cdcgan-digits", "--samples", "300", "--no-save").output
    assert "label_accuracy" in table and "Protocol" in table


def test_eval_of_a_bare_file_writes_nothing(cli_run, tmp_path):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "3")
    record = json.loads(cli_run("models", "--json").output)[0]
    copied = shutil.copy(f"{record['path']}/generator.safetensors", tmp_path / "alone.safetensors")
    before = (tmp_path / "alone.safetensors").read_bytes()
    out = json.loads(cli_run("eval", str(copied), "--json").output)
    assert out["metrics"] == "mixture"
    assert (tmp_path / "alone.safetensors").read_bytes() == before


def test_eval_refuses_bad_input(cli_run):
    result = cli_run("eval", "missing-model", code=None)
    assert result.exit_code == 1 and "missing-model" in result.output and "Traceback" not in result.output
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "2")
    assert cli_run("eval", "gan-ring8", "--samples", "1", code=None).exit_code == 1


def test_eval_every_n_steps_during_training(cli_run):
    out = cli_run("train", "gan", "--dataset", "ring8", "--steps", "40", "--eval-every", "20").output
    assert "eval at step 20 (mixture)" in out and "eval at step 40 (mixture)" in out
    manifest = json.loads(cli_run("models", "show", "gan-ring8").output)
    assert [e["step"] for e in manifest["evaluations"]] == [20, 40]
    assert all(0 <= e["mixture"]["modes_covered"] <= 8 for e in manifest["evaluations"])
    assert manifest["evaluation_protocol"]["mixture"]["samples"] == 2500
    assert cli_run("train", "gan", "--dataset", "ring8", "--eval-every", "-1", code=None).exit_code == 2


def test_the_classifier_trains_for_epochs_on_large_sets_and_min_steps_on_small_ones(tmp_path, monkeypatch):
    import torch

    import ganzoo
    from ganzoo.evaluation import classifier

    taken = []  # optimizer steps really taken, counted at the optimizer
    adam_step = torch.optim.Adam.step

    def counted(self, *args, **kwargs):
        taken.append(1)
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counted)
    monkeypatch.setitem(classifier.CLASSIFIER_RECIPE, "epochs", 2)
    monkeypatch.setitem(classifier.CLASSIFIER_RECIPE, "min_steps", 5)
    g = torch.Generator().manual_seed(0)
    for size, steps in ((1000, 15), (200, 5)):  # 2 passes over 900 training images at batch 128: 15 steps
        data = torch.randint(0, 256, (size, 1, 8, 8), dtype=torch.uint8, generator=g)
        dataset = ganzoo.Dataset(name=f"noise{size}", data=data, labels=torch.arange(size) % 3, num_classes=3)
        taken.clear()
        _, info = classifier.load_or_train_classifier(dataset, tmp_path)
        assert len(taken) == steps and info["steps"] == steps and info["recipe"]["schedule"] == "cosine"
    taken.clear()
    _, again = classifier.load_or_train_classifier(dataset, tmp_path)  # cached: trained once, not again
    assert again == info and taken == []
