"""Stored versions are never replaced, the index can be rebuilt from the manifests, no write leaves the root,
and concurrent runs get run folders of their own."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

import ganzoo
from ganzoo.errors import IntegrityError, RegistryError
from ganzoo.registry import Registry, load_generator
from ganzoo.training import runfolder


def _publish(reg: Registry, name: str = "toy", seed: int = 0, **kwargs: Any) -> ganzoo.registry.ModelRecord:
    torch.manual_seed(seed)
    g, d = ganzoo.create("gan", data_shape=(2,), hidden=8, depth=1)
    manifest = {"architecture": "gan", "spec": g.ganzoo_spec.to_dict(), "dataset": {"name": "ring8"}, "steps": seed}
    return reg.publish(name, {"generator": g.state_dict(), "discriminator": d.state_dict()}, manifest, **kwargs)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _listing(reg: Registry) -> list[tuple[str, int, str, str, int, str, tuple[str, ...]]]:
    return [(r.name, r.version, r.architecture, r.dataset, r.steps, r.created, r.aliases) for r in reg.list()]


# -- a publish never replaces a stored version --------------------------------------------------------


def test_publish_without_the_index_keeps_every_stored_version(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _publish(reg, seed=0)
    _publish(reg, seed=1)
    stored = _files(reg.root / "models")
    (reg.root / "index.sqlite").rename(tmp_path / "index.sqlite.aside")  # what the old message advised
    record = _publish(reg, seed=2)
    assert record.version == 3  # 1 and 2 are taken by the versions on disk
    after = _files(reg.root / "models")
    assert {k: after[k] for k in stored} == stored  # not a byte of the old versions changed
    assert [r.version for r in reg.list()] == [1, 2, 3] and reg.resolve("toy").version == 3
    assert reg.verify() == []
    assert isinstance(load_generator("toy:1", registry=reg), ganzoo.Generator)


def test_a_folder_with_a_manifest_is_never_an_orphan(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _publish(reg, seed=0)
    folder = reg.root / "models" / "toy" / "1"
    with open(folder / "discriminator.safetensors", "ab") as f:  # a manifest that reads, a file that does not verify
        f.write(b"\0")
    stored = _files(folder)
    (reg.root / "index.sqlite").unlink()
    record = _publish(reg, seed=1)
    assert record.version == 2 and _files(folder) == stored  # skipped, not replaced
    assert [r.version for r in reg.list()] == [2]


def test_a_folder_without_a_manifest_is_still_replaced(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    orphan = reg.root / "models" / "toy" / "1"
    orphan.mkdir(parents=True)
    (orphan / "generator.safetensors").write_bytes(b"half-written")
    record = _publish(reg)
    assert record.version == 1 and reg.verify() == []


def test_cli_train_after_moving_the_index_aside_keeps_the_old_files(cli_run, tmp_path: Path) -> None:
    args = ["train", "gan", "--dataset", "ring8", "--steps", "2", "--batch-size", "16", "--registry", "reg",
            "-o", "hidden=8", "-o", "depth=1", "--ema", "0"]
    cli_run(*args)
    root = tmp_path / "reg"
    stored = _files(root / "models")
    (root / "index.sqlite").rename(tmp_path / "index.sqlite.aside")
    assert "Published gan-ring8:2" in cli_run(*args).output
    after = _files(root / "models")
    assert {k: after[k] for k in stored} == stored


# -- reindex ------------------------------------------------------------------------------------------


def _stock(reg: Registry) -> None:
    _publish(reg, "toy", seed=0)
    _publish(reg, "toy", seed=1)
    _publish(reg, "toy", seed=2)
    _publish(reg, "other", seed=3)
    reg.set_alias("toy:1", "best")
    reg.remove("toy:3")  # 3 is never reissued


def test_a_damaged_index_names_reindex_and_reindex_rebuilds_it(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _stock(reg)
    before = _listing(reg)
    (reg.root / "index.sqlite").write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(IntegrityError, match=r"ganzoo models reindex --registry .*reg"):
        reg.list()
    report = reg.reindex()
    assert [r.ref for r in report.records] == ["other:1", "toy:1", "toy:2"]
    assert report.skipped == []
    assert report.old_index is not None and report.old_index.read_bytes().startswith(b"this is not")
    got = _listing(reg)
    # the aliases of an unreadable index are lost, except latest, which goes to the newest version
    assert [row[:6] for row in got] == [row[:6] for row in before]
    assert reg.resolve("toy").version == 2 and reg.resolve("other").version == 1
    assert reg.verify() == []
    # a removed version leaves nothing on disk: once its index is unreadable, its number can be issued again
    assert _publish(reg, "toy", seed=4).version == 3


def test_reindex_of_a_readable_index_keeps_its_aliases(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _stock(reg)
    before = _listing(reg)
    report = reg.reindex()
    assert report.old_index is None and report.skipped == []
    assert _listing(reg) == before  # best included
    assert _publish(reg, "toy", seed=4).version == 4  # removed versions stay issued


def test_reindex_without_an_index_recovers_latest(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _stock(reg)
    (reg.root / "index.sqlite").unlink()
    reg.reindex()
    assert {r.ref: r.aliases for r in reg.list()} == {"other:1": ("latest",), "toy:1": (), "toy:2": ("latest",)}


def test_reindex_skips_and_reports_what_does_not_verify(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _stock(reg)
    models = reg.root / "models"
    with open(models / "toy" / "2" / "generator.safetensors", "ab") as f:
        f.write(b"\0")
    (models / "other" / "1" / "manifest.json").write_text("{not json")
    moved = models / "toy" / "5"
    shutil.copytree(models / "toy" / "1", moved)  # a manifest that says toy:1, in the folder of toy:5
    (models / "toy" / "6").mkdir()  # a crashed publish: no manifest
    (models / "Bad Name").mkdir()
    (reg.root / "index.sqlite").unlink()
    report = reg.reindex()
    assert [r.ref for r in report.records] == ["toy:1"]
    skipped = "\n".join(report.skipped)
    assert "models/toy/2" in skipped and "generator.safetensors" in skipped
    assert "models/other/1: no usable manifest.json" in skipped
    assert "models/toy/5" in skipped and "toy:1" in skipped
    assert "models/toy/6" in skipped and "models/Bad Name" in skipped
    assert len(report.skipped) == 5
    assert _files(models / "toy" / "2")  # nothing skipped is deleted
    assert _publish(reg, "toy", seed=9).version == 7  # past every folder found, skipped ones included
    assert _publish(reg, "other", seed=9).version == 2


def test_cli_reindex(cli_run, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _stock(reg)
    (reg.root / "index.sqlite").write_bytes(b"garbage" * 1000)
    (reg.root / "models" / "toy" / "7").mkdir()
    damaged = cli_run("models", "--registry", "reg", code=1).output
    assert "ganzoo models reindex --registry" in damaged
    shown = cli_run("models", "reindex", "--registry", "reg").output
    assert "3 version(s)" in shown and "models/toy/7" in shown and "index.sqlite" in shown
    listed = json.loads(cli_run("models", "--json", "--registry", "reg").output)
    assert [m["ref"] for m in listed] == ["other:1", "toy:1", "toy:2"]


def test_reindex_refuses_an_index_newer_than_this_ganzoo(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _stock(reg)
    with sqlite3.connect(reg.root / "index.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    before = (reg.root / "index.sqlite").read_bytes()
    with pytest.raises(RegistryError, match="upgrade ganzoo"):
        reg.reindex()
    assert (reg.root / "index.sqlite").read_bytes() == before


# -- no write leaves the root ----------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_rm_through_a_tmp_symlink_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    record = _publish(reg)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(reg.root / "tmp")
    (reg.root / "tmp").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RegistryError, match=r"tmp.*symbolic link"):
        reg.remove(record.ref)
    assert list(outside.iterdir()) == [] and record.path.is_dir()
    assert reg.resolve("toy").version == 1  # the row is still there: refused before any change
    with pytest.raises(RegistryError, match=r"tmp.*symbolic link"):
        _publish(reg, seed=1)
    assert list(outside.iterdir()) == [] and [r.version for r in reg.list()] == [1]


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_a_symlinked_model_folder_is_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    record = _publish(reg)
    outside = tmp_path / "outside"
    shutil.move(reg.root / "models" / "toy", outside)
    (reg.root / "models" / "toy").symlink_to(outside, target_is_directory=True)
    stored = _files(outside)
    with pytest.raises(RegistryError, match=r"models/toy.*symbolic link"):
        _publish(reg, seed=1)
    with pytest.raises(RegistryError, match=r"models/toy.*symbolic link"):
        reg.remove(record.ref)
    assert _files(outside) == stored and reg.resolve("toy").version == 1


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_a_symlink_inside_the_root_is_refused_too(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _publish(reg)
    (reg.root / "elsewhere").mkdir()
    shutil.rmtree(reg.root / "tmp")
    (reg.root / "tmp").symlink_to(reg.root / "elsewhere", target_is_directory=True)
    with pytest.raises(RegistryError, match="symbolic link"):
        _publish(reg, seed=1)


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_a_symlinked_index_is_not_written_through(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    _publish(reg)
    elsewhere = tmp_path / "elsewhere.sqlite"
    shutil.move(reg.root / "index.sqlite", elsewhere)
    (reg.root / "index.sqlite").symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    with pytest.raises(RegistryError, match=r"index.sqlite: it is a symbolic link"):
        _publish(reg, seed=1)
    with pytest.raises(RegistryError, match=r"index.sqlite: it is a symbolic link"):
        reg.reindex()
    assert elsewhere.read_bytes() == before


# -- run folders ------------------------------------------------------------------------------------


def test_concurrent_default_run_dirs_are_distinct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runfolder.time, "strftime", lambda fmt, *a: "20250101-120000")  # all in one second
    barrier = threading.Barrier(8)
    found: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            found.append(runfolder.default_run_dir("same", tmp_path / "runs"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(found)) == 8 and all(p.is_dir() for p in found)
    assert all(p.parent == tmp_path / "runs" and p.name.startswith("same-20250101-120000") for p in found)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(p.name for p in found)
