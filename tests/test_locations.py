"""Where the registry is (--registry, $GANZOO_REGISTRY, the nearest project registry, the user data folder) and
the caches every registry shares ($GANZOO_CACHE, else the user cache folder)."""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs
import pytest
import torch

import ganzoo
from ganzoo.evaluation import classifier
from ganzoo.locations import MARKER, cache_dir, registry_location, user_registry
from ganzoo.registry import Registry
from ganzoo.weights import read_weights

TINY = ["gan", "--dataset", "ring8", "--steps", "2", "--batch-size", "16", "-o", "hidden=8"]
TINY_IMAGES = ["dcgan", "--steps", "2", "--batch-size", "16", "-o", "base_channels=8"]


@pytest.fixture
def no_env_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANZOO_REGISTRY", raising=False)


def _registry_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Registry: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_the_first_publish_makes_a_registry_found_from_the_folders_below(cli_run, tmp_path, monkeypatch,
                                                                         no_env_registry):
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project)
    cli_run("train", *TINY, "--registry", "registry")
    assert (project / "registry" / MARKER).is_file()

    monkeypatch.chdir(project / "src" / "deep")
    listed = cli_run("models")
    assert _registry_line(listed) == f"Registry: {(project / 'registry').resolve()} (found above the current folder)"
    assert "gan-ring8" in listed.stdout
    as_json = cli_run("models", "--json")
    assert [m["ref"] for m in json.loads(as_json.stdout)] == ["gan-ring8:1"]  # the reason is not in the JSON
    assert "Registry: " not in as_json.output
    cli_run("sample", "gan-ring8", "--out", "s.png")  # every command uses the same lookup
    assert (project / "src" / "deep" / "s.png").is_file()

    monkeypatch.chdir(project)
    assert _registry_line(cli_run("models")).endswith("(found in the current folder)")


def test_a_folder_merely_named_registry_is_not_taken(cli_run, tmp_path, monkeypatch, no_env_registry):
    foreign = tmp_path / "elsewhere" / "registry"
    foreign.mkdir(parents=True)
    (foreign / "index.sqlite").write_text("someone else's database")  # no models/ beside it, no marker
    (foreign / "notes.txt").write_text("not ours")
    (tmp_path / "elsewhere" / "work").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere" / "work")
    result = cli_run("models")
    assert _registry_line(result) == f"Registry: {user_registry()} (user data folder)"
    assert "No models in" in result.stdout
    assert sorted(p.name for p in foreign.iterdir()) == ["index.sqlite", "notes.txt"]  # untouched


def test_without_any_registry_the_user_data_folder_is_used(cli_run, tmp_path, monkeypatch, no_env_registry):
    monkeypatch.chdir(tmp_path)
    expected = Path(platformdirs.user_data_dir("ganzoo", appauthor=False)) / "registry"
    assert expected.is_relative_to(tmp_path.parent)  # the tests' stand-in, never the real one
    assert _registry_line(cli_run("models")) == f"Registry: {expected} (user data folder)"
    assert registry_location().path == expected == Registry().root


def test_the_option_and_the_variable_come_before_the_lookup(cli_run, tmp_path, monkeypatch, no_env_registry):
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / MARKER).write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_REGISTRY", str(tmp_path / "from-env"))
    assert _registry_line(cli_run("models")) == f"Registry: {(tmp_path / 'from-env').resolve()} ($GANZOO_REGISTRY)"
    line = _registry_line(cli_run("models", "--registry", "other"))
    assert line == f"Registry: {(tmp_path / 'other').resolve()} (--registry)"
    assert _registry_line(cli_run("models", "list", "--registry", "other")) == line


def test_a_registry_from_before_the_marker_is_found(cli_run, tmp_path, monkeypatch, no_env_registry):
    old = tmp_path / "registry"
    cli_run("train", *TINY, "--registry", str(old))
    (old / MARKER).unlink()  # what a registry written by an older ganzoo holds: index.sqlite and models/
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert [m["ref"] for m in json.loads(cli_run("models", "--json").stdout)] == ["gan-ring8:1"]


def test_models_init_makes_a_project_registry(cli_run, tmp_path, monkeypatch, no_env_registry):
    (tmp_path / "project" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "project")
    made = cli_run("models", "init").output
    assert "Created an empty registry in" in made and (tmp_path / "project" / "registry" / MARKER).is_file()
    assert "Already a registry" in cli_run("models", "init", "registry").output  # a second init changes nothing
    monkeypatch.chdir(tmp_path / "project" / "sub")
    assert _registry_line(cli_run("models")).endswith("registry (found above the current folder)")
    named = cli_run("models", "init", str(tmp_path / "store")).output
    assert "only a folder named registry is found" in named and (tmp_path / "store" / MARKER).is_file()


def test_models_init_refuses_a_folder_holding_other_files(cli_run, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("\\section{}")
    result = cli_run("models", "init", "busy", code=1)
    assert "already holds other files" in result.output and "ganzoo models init DIR" in result.output
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["thesis.tex"]


# -- the caches every registry shares --------------------------------------------------------------


def test_the_cache_folder_is_ganzoo_cache_else_the_user_cache_folder(tmp_path, monkeypatch):
    assert cache_dir() == Path(platformdirs.user_cache_dir("ganzoo", appauthor=False))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def _count_trainings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Shrink the classifier's recipe (fast) and count how often one is trained."""
    trained: list[str] = []
    real_progress = classifier.progress

    def counting(description, total, **kwargs):
        trained.append(description)
        return real_progress(description, total, **kwargs)

    monkeypatch.setattr(classifier, "progress", counting)
    monkeypatch.setitem(classifier.CLASSIFIER_RECIPE, "min_steps", 5)
    monkeypatch.setitem(classifier.CLASSIFIER_RECIPE, "epochs", 0.05)
    return trained


def test_a_second_registry_reuses_the_classifier_trained_for_the_first(cli_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    trained = _count_trainings(monkeypatch)
    for registry in ("first", "second"):
        cli_run("train", *TINY_IMAGES, "--registry", registry)
    cli_run("eval", "dcgan-digits", "--samples", "100", "--registry", "first")
    assert trained == ["digits feature classifier"]
    cached = list((tmp_path / "cache" / "classifiers").glob("digits-*.safetensors"))
    assert len(cached) == 1
    cli_run("eval", "dcgan-digits", "--samples", "100", "--registry", "second")
    assert trained == ["digits feature classifier"]  # not trained again
    assert not any((tmp_path / r / "classifiers").exists() for r in ("first", "second"))


@pytest.mark.parametrize("damage", ["garbage", "nan-weights", "another-dataset"])
def test_a_damaged_cached_classifier_is_trained_again_with_a_warning(damage, tmp_path, monkeypatch, capsys):
    trained = _count_trainings(monkeypatch)
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8, generator=g)
    dataset = ganzoo.Dataset(name="noise", data=data, labels=torch.arange(64) % 2, num_classes=2)
    _, first = classifier.load_or_train_classifier(dataset, tmp_path)
    (path,) = (tmp_path / "classifiers").glob("noise-*.safetensors")
    if damage == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif damage == "nan-weights":
        meta, tensors = read_weights(path)
        classifier.store_cache(path, {k: v.float().fill_(float("nan")) if v.is_floating_point() else v
                                      for k, v in tensors.items()}, meta)
    else:  # sound weights, made for another dataset, under this dataset's file name
        meta, tensors = read_weights(path)
        made_for = {**json.loads(meta["ganzoo.classifier"]), "key": "another-dataset"}
        classifier.store_cache(path, tensors, {**meta, "ganzoo.classifier": json.dumps(made_for)})
    trained.clear()
    capsys.readouterr()

    model, again = classifier.load_or_train_classifier(dataset, tmp_path)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith(f"Warning: the cached feature classifier {path} is unusable")
    assert trained == ["noise feature classifier"]
    assert again["key"] == first["key"] and all(bool(torch.isfinite(p).all()) for p in model.parameters())
    classifier.load_or_train_classifier(dataset, tmp_path)  # the rebuilt file is used as it is
    assert trained == ["noise feature classifier"] and capsys.readouterr().err == ""


def test_the_cache_key_follows_the_content_of_the_dataset():
    data = torch.zeros(10, 1, 8, 8, dtype=torch.uint8)
    a = ganzoo.Dataset(name="same", data=data, labels=torch.arange(10) % 2, num_classes=2)
    b = ganzoo.Dataset(name="same", data=data.clone(), labels=torch.arange(10) % 2, num_classes=2)
    c = ganzoo.Dataset(name="same", data=data + 1, labels=torch.arange(10) % 2, num_classes=2)
    d = ganzoo.Dataset(name="same", data=data.clone(), labels=(torch.arange(10) + 1) % 2, num_classes=2)
    assert classifier.dataset_key(a) == classifier.dataset_key(b)
    assert len({classifier.dataset_key(x) for x in (a, c, d)}) == 3


def test_the_default_data_folder_is_in_the_user_data_folder(monkeypatch, tmp_path):
    from ganzoo.data.core import default_data_dir
    from ganzoo.locations import user_data_dir, user_registry

    monkeypatch.delenv("GANZOO_DATA", raising=False)
    assert default_data_dir() == user_data_dir() and user_registry().parent == user_data_dir()
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"
