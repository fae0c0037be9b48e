"""``ganzoo models import`` of a folder from elsewhere: only regular files of the listed size are read, and what
the folder says is escaped when it reaches a model card."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ganzoo
from ganzoo.errors import IntegrityError
from ganzoo.registry import Registry, export_model, import_model

TIMEOUT_S = 30
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("untrusted-import")
    catalog = ganzoo.load_catalog()
    spec = catalog.resolve_spec("dcgan", (1, 8, 8), 0, base_channels=8)
    g, d = catalog.build(spec)
    Registry(root).publish("tiny", {"generator": g.state_dict(), "discriminator": d.state_dict()},
                           {"architecture": "dcgan", "spec": spec.to_dict(), "steps": 1,
                            "dataset": {"name": "digits", "shape": [1, 8, 8], "num_classes": 10},
                            "training": {"loss": "non-saturating", "batch_size": 16}})
    return root


@pytest.fixture
def exported(stored, tmp_path) -> Path:
    return export_model("tiny", tmp_path / "out", registry=stored)


def _import(folder: Path, registry: Path) -> Any:
    """import_model in a thread: a read that blocks fails the test instead of hanging it."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = import_model(folder, registry=registry)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    if thread.is_alive():
        for path in folder.iterdir():  # give a reader blocked on a FIFO its end of file
            if path.is_fifo():
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
        thread.join(5)
        pytest.fail(f"import_model({folder}) was still reading after {TIMEOUT_S} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _nothing_stored(registry: Path) -> bool:
    return Registry(registry).list() == [] and not (registry / "models").exists()


def test_a_fifo_in_place_of_a_weight_file_is_refused_at_once(exported, tmp_path):
    (exported / "model.safetensors").unlink()
    os.mkfifo(exported / "model.safetensors")
    with pytest.raises(IntegrityError, match=r"model\.safetensors is not a regular file"):
        _import(exported, tmp_path / "fresh")
    assert _nothing_stored(tmp_path / "fresh")


def test_a_fifo_in_place_of_config_json_is_refused_at_once(exported, tmp_path):
    (exported / "config.json").unlink()
    os.mkfifo(exported / "config.json")
    with pytest.raises(IntegrityError, match=r"config\.json is not a regular file"):
        _import(exported, tmp_path / "fresh")


def test_a_symlink_to_dev_zero_is_not_read(exported, tmp_path):
    (exported / "model.safetensors").unlink()
    (exported / "model.safetensors").symlink_to("/dev/zero")
    with pytest.raises(IntegrityError, match=r"model\.safetensors is a symbolic link"):
        _import(exported, tmp_path / "fresh")
    assert _nothing_stored(tmp_path / "fresh")


def test_a_file_larger_than_listed_is_refused_before_it_is_read(exported, tmp_path):
    path = exported / "discriminator.safetensors"
    listed = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(3 << 30)  # 3 GiB, sparse: costs no disk, but a whole read would cost 3 GiB of memory
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(IntegrityError) as info:
        _import(exported, tmp_path / "fresh")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    message = str(info.value)
    assert f"{3 << 30} bytes" in message and f"{listed} bytes" in message and "nothing was imported" in message
    assert grown_mib < 512, f"the import read the file: peak memory grew by {grown_mib:.0f} MiB"
    assert _nothing_stored(tmp_path / "fresh")


def test_an_oversized_config_json_is_refused_before_it_is_read(exported, tmp_path):
    with open(exported / "config.json", "r+b") as f:
        f.truncate(64 << 20)
    with pytest.raises(IntegrityError, match=r"config\.json is 67108864 bytes; .* at most"):
        _import(exported, tmp_path / "fresh")


def test_a_listed_size_that_is_not_a_number_is_refused(exported, tmp_path):
    config = json.loads((exported / "config.json").read_text())
    config["files"]["samples.png"]["size"] = "many"
    (exported / "config.json").write_text(json.dumps(config))
    with pytest.raises(IntegrityError, match=r"samples\.png"):
        _import(exported, tmp_path / "fresh")


def test_relabelled_weights_with_matching_hashes_are_refused_before_anything_is_stored(exported, tmp_path):
    path = exported / "discriminator.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert b'"dtype":"F32"' in data[8:8 + n]
    path.write_bytes(data[:8] + data[8:8 + n].replace(b'"dtype":"F32"', b'"dtype":"I32"') + data[8 + n:])
    config = json.loads((exported / "config.json").read_text())
    config["files"][path.name].update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    (exported / "config.json").write_text(json.dumps(config))
    with pytest.raises(IntegrityError, match=r"discriminator\.safetensors: its weights do not fit the 'dcgan' "
                                             r"discriminator .* the file holds I32"):
        _import(exported, tmp_path / "fresh")
    assert _nothing_stored(tmp_path / "fresh")


def test_script_in_an_imported_config_never_reaches_the_model_card_raw(exported, tmp_path):
    config = json.loads((exported / "config.json").read_text())
    config["training"]["loss"] = SCRIPT
    config["training"][SCRIPT] = "x"
    config["dataset"]["name"] = SCRIPT
    config["plugin"] = SCRIPT
    config["seconds"] = SCRIPT
    config["metrics"] = {SCRIPT: {"fd": 1.0, "protocol": {"kind": SCRIPT}}}
    (exported / "config.json").write_text(json.dumps(config))
    record = _import(exported, tmp_path / "fresh")
    card = (export_model(record.ref, tmp_path / "again", registry=tmp_path / "fresh") / "README.md").read_text()
    assert "<script" not in card
    assert card.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7


def export_setup(kind: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """A setup for tests/test_errors.py: exports ``dcgan-digits`` from $GANZOO_REGISTRY to ``out`` in the working
    folder, then spoils it (kinds: symlink, larger, config-too-large)."""

    def setup(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
        out = export_model("dcgan-digits", cwd / "out")
        target = out / "model.safetensors"
        if kind == "symlink":  # to a faithful copy outside the folder: refused all the same
            (cwd / "elsewhere.safetensors").write_bytes(target.read_bytes())
            target.unlink()
            target.symlink_to(cwd / "elsewhere.safetensors")
        elif kind == "larger":
            with open(target, "ab") as f:
                f.write(b"\0" * 1024)
        elif kind == "config-too-large":
            with open(out / "config.json", "r+b") as f:
                f.truncate(64 << 20)
        else:
            raise ValueError(kind)

    return setup
