"""``Registry.verify``: check every indexed version against its manifest, and find strays; and the check
``Registry.reindex`` makes of a version folder the index does not know."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GanzooError, IntegrityError
from ..fileio import sha256_file
from . import index as ix
from .manifest import MANIFEST, Manifest
from .names import check_filename, check_model_name

if TYPE_CHECKING:
    from .store import ModelRecord, Registry

__all__ = ["file_problems", "scan_version", "verify_registry"]

STALE_REPORT_S = 3600.0  # a staging folder older than this is reported; younger ones may be in use


def verify_registry(registry: Registry) -> list[str]:
    """One line per problem; an empty list means every file matches its recorded size and sha256."""
    root = registry.root
    if not root.exists():
        return []
    try:
        health = registry._index.quick_check()
        records = registry.list()
    except GanzooError as exc:
        return [str(exc)]
    problems = [] if health == "ok" else [f"index.sqlite: SQLite integrity check failed: {health}"]
    for record in records:
        problems.extend(_check_version(registry, record))
    problems.extend(_strays(root, {(r.name, r.version) for r in records}))
    return problems


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _check_version(registry: Registry, record: ModelRecord) -> list[str]:
    root, folder = registry.root, record.path
    where = f"{record.ref} ({_rel(root, folder)})"
    if not folder.is_dir():
        return [f"{where}: the version folder is missing"]
    try:
        files = registry.read_manifest(record).files
    except GanzooError as exc:
        return [f"{where}: manifest unusable: {exc}"]
    problems = [f"{where}: {p}" for p in file_problems(folder, files)]
    for entry in sorted(folder.iterdir()):
        if entry.name != "manifest.json" and entry.name not in files:
            problems.append(f"{where}: unexpected {'folder' if entry.is_dir() else 'file'} {entry.name} "
                            "(not in the manifest)")
    return problems


def file_problems(folder: Path, files: Mapping[str, Any]) -> list[str]:
    """The problems of the files a manifest lists: a generator, valid names, each present with its size and sha256."""
    problems: list[str] = []
    if "generator.safetensors" not in files:
        problems.append("the manifest lists no generator.safetensors")
    for filename, expected in sorted(files.items()):
        try:
            path = folder / check_filename(filename)  # the manifest is data: never follow it out of the folder
        except ConfigError:
            problems.append(f"the manifest lists an invalid file name {filename!r}")
            continue
        if not isinstance(expected, dict) or not {"sha256", "size"} <= set(expected):
            problems.append(f"manifest entry for {filename} lacks sha256/size")
        elif not path.is_file():
            problems.append(f"missing file {filename}")
        else:
            digest, size = sha256_file(path)
            if size != expected["size"]:
                problems.append(f"{filename} has the wrong size: expected {expected['size']} bytes, got {size}")
            elif digest != expected["sha256"]:
                problems.append(f"{filename} sha256 mismatch: expected {expected['sha256']}, got {digest}")
    return problems


def _strays(root: Path, indexed: set[tuple[str, int]]) -> list[str]:
    """Folders and files under models/ that the index does not know, and stale staging folders."""
    problems: list[str] = []
    models = root / "models"
    for entry in sorted(models.iterdir()) if models.is_dir() else ():
        try:
            name = check_model_name(entry.name)
        except ConfigError:
            problems.append(f"{_rel(root, entry)}: unexpected entry (not a valid model name)")
            continue
        if not entry.is_dir() or entry.is_symlink():
            problems.append(f"{_rel(root, entry)}: unexpected file (models/ holds one folder per model name)")
            continue
        for sub in sorted(entry.iterdir()):
            if not (sub.name.isascii() and sub.name.isdigit() and str(int(sub.name)) == sub.name and sub.is_dir()):
                problems.append(f"{_rel(root, sub)}: unexpected entry (a model folder holds version folders)")
            elif (name, int(sub.name)) not in indexed and (sub / "manifest.json").exists():
                problems.append(f"{_rel(root, sub)}: orphan version folder, not in the index, holding a manifest; "
                                f"add it with: ganzoo models reindex --registry {root}")
            elif (name, int(sub.name)) not in indexed:
                problems.append(f"{_rel(root, sub)}: orphan version folder, not in the index (left by an "
                                "interrupted publish or removal); delete it")
    tmp = root / "tmp"
    cutoff = time.time() - STALE_REPORT_S
    for entry in sorted(tmp.iterdir()) if tmp.is_dir() else ():
        if entry.lstat().st_mtime < cutoff:
            problems.append(f"{_rel(root, entry)}: leftover of an interrupted publish or removal; delete it")
    return problems


def scan_version(folder: Path, name: str, version: int) -> tuple[ix.Row | None, str]:
    """The index row of an unindexed version folder whose manifest and files verify, else None and why not."""
    if not (folder / MANIFEST).exists():
        return None, "no manifest.json (left by an interrupted publish or removal; delete it)"
    try:
        manifest = Manifest.read(folder / MANIFEST, f"{name}:{version}")
    except IntegrityError as exc:
        return None, "no usable manifest.json (" + " ".join(str(exc).split()) + ")"
    if (manifest.name, manifest.version) != (name, version):
        return None, f"its manifest describes {manifest.ref}, not {name}:{version}"
    problems = file_problems(folder, manifest.files)
    if problems:
        return None, "; ".join(problems)
    dataset, steps = manifest.dataset.get("name"), manifest.body.get("steps")
    if not (manifest.architecture and isinstance(dataset, str) and isinstance(steps, int)
            and not isinstance(steps, bool)):
        return None, "its manifest lacks architecture, dataset name or steps"
    return ix.Row(name, version, manifest.architecture, dataset, steps, manifest.created, ()), ""
