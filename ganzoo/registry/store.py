"""The local model store: versioned folders of safetensors files, indexed by SQLite.

Layout (``docs/registry.md`` is the full reference)::

    <root>/index.sqlite                  which versions exist, where aliases point
    <root>/.ganzoo-registry              marker: the folder is a registry (ganzoo.locations finds it)
    <root>/models/<name>/<version>/      generator.safetensors, [generator_ema.safetensors],
                                         [discriminator.safetensors], [samples.png], manifest.json
    <root>/tmp/                          staging folders of publishes in progress
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import difflib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, GanzooError, IntegrityError, ModelNotFoundError, StorageError
from ..fileio import (
    fsync_dir,
    library_versions,
    read_or_refuse,
    remove_stale,
    sha256_bytes,
    sha256_file,
    utc_now,
    write_atomic,
    write_durable,
)
from ..locations import mark_registry, registry_location
from ..weights import ROLES, decode_weights, save_weights
from . import index as ix
from .check import scan_version, verify_registry
from .inputs import check_extras, check_manifest, check_roles, header_metadata, string_list
from .manifest import MANIFEST, MANIFEST_FORMAT, Manifest
from .names import ModelRef, check_alias, check_filename, check_model_name, inside, parse_ref, real_inside

__all__ = ["MANIFEST_FORMAT", "Manifest", "ModelRecord", "Registry", "ReindexReport"]

STALE_STAGING_S = 24 * 3600.0  # a staging folder this old belongs to a publish that crashed


@dataclass(frozen=True)
class ModelRecord:
    """One published version."""

    name: str  # model name, e.g. "dcgan-digits"
    version: int  # 1, 2, 3, ... never reused for the same name
    architecture: str  # registered architecture name
    dataset: str  # dataset name
    steps: int  # training steps
    created: str  # ISO-8601 UTC
    path: Path  # the version folder
    aliases: tuple[str, ...]  # aliases pointing here, e.g. ("latest",)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class ReindexReport:
    """What :meth:`Registry.reindex` did."""

    records: builtins.list[ModelRecord]  # every version the rebuilt index holds
    skipped: builtins.list[str]  # one line per folder, row or alias left out, with the reason
    old_index: Path | None = None  # where an unreadable index was kept, when there was one


class Registry:
    """A model store rooted at ``root``; without one, at the registry :func:`~ganzoo.locations.registry_location`
    picks: ``$GANZOO_REGISTRY``, else the nearest ``registry`` folder in or above the current folder that is
    a ganzoo registry, else the one in the user data folder. ``reason`` says which.

    Nothing is created on disk until the first write, which also writes the marker file that lets
    the lookup find the registry from the folders below it.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        location = registry_location(root)
        self.root: Path = location.path
        self.reason: str = location.reason  # why this root: "--registry", "$GANZOO_REGISTRY", "found ...", ...
        self._index = ix.Index(self.root / "index.sqlite")

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    def check_writable(self) -> None:
        """Refuse, before a long training run, a root that cannot become a folder (nothing is created)."""
        path = self.root
        while not path.exists():
            if path.parent == path:
                break
            path = path.parent
        if path != self.root and not path.is_dir():
            raise StorageError(f"the registry root {self.root} cannot be created: {path} is a file, not a folder; "
                               "pass another --registry")
        if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            raise StorageError(f"the registry root {self.root} is not writable ({path} refuses writes); "
                               "pass another --registry")
        if path == self.root and not path.is_dir():
            raise ConfigError(f"the registry root {self.root} is a file, not a folder; pass another --registry")

    @staticmethod
    def check_name(name: str) -> str:
        """Return ``name`` if it is a valid model name, else raise ConfigError (call before training)."""
        return check_model_name(name)

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, name: str, weights: Mapping[str, Mapping[str, torch.Tensor]], manifest: Mapping[str, Any], *,
                metadata: Mapping[str, str] | None = None, extra_files: Mapping[str, bytes] | None = None,
                aliases: Iterable[str] = ("latest",)) -> ModelRecord:
        """Store ``weights`` (role -> state dict) as the next version of ``name``; all or nothing.

        Design: the files are written into a fresh staging folder *inside* the index's
        write transaction. The version number is only known under that lock, and the
        weight headers ("ganzoo.model") and the manifest must state it, so writing them
        earlier would mean guessing. Holding the lock while writing serializes
        publishers, which is what we want (readers are not blocked: the rollback
        journal lets them read until the commit). The staging folder is renamed into
        place before the row is inserted and the transaction commits after both, so:
        a crash before the rename leaves only a folder in tmp/; a crash between rename
        and commit leaves an unindexed but whole version folder, which ``verify`` reports
        and the next publish of that name indexes (see below); after the commit the version is
        complete. On any error the transaction rolls back and both folders are removed.

        A folder already at the next version's place is never replaced if it holds a
        ``manifest.json``: one whose manifest and files verify (a publish that crashed after its
        rename, or a version whose index row was lost) is added to the index as it is, one that
        does not verify is left alone and its number skipped. Only a folder without a manifest
        (an orphan of a crash) is removed.
        """
        name = check_model_name(name)
        alias_list = tuple(dict.fromkeys(check_alias(a) for a in string_list(aliases, "aliases")))
        body, spec, dataset = check_manifest(manifest)
        roles = check_roles(weights)
        extras = check_extras(extra_files, roles)
        base_meta = header_metadata(metadata, spec, dataset)
        versions = library_versions()

        with _storage_errors(f"could not store {name} in the registry at {self.root}"):
            if self.root.exists() and not self.root.is_dir():
                raise ConfigError(f"the registry root {self.root} is a file, not a folder; pass another --registry")
            tmp = self._path("tmp")
            self._path("models", name)  # refused before anything is written if it is a link
            tmp.mkdir(parents=True, exist_ok=True)
            mark_registry(self.root)
            remove_stale(tmp, STALE_STAGING_S)
            # Not tempfile.mkdtemp: its 0o700 mode would follow the folder into models/.
            staging = tmp / f"publish-{name}-{secrets.token_hex(8)}"
            staging.mkdir()
            final: Path | None = None
            moved = False
            try:
                with self._index.writing() as conn:
                    version = ix.next_version(conn, name)
                    final = self._path("models", name, str(version))
                    while final.exists():
                        if not (final / MANIFEST).exists():
                            _remove_tree(final)  # not in the index, no manifest: an orphan of a crashed publish
                            break
                        found, _ = scan_version(final, name, version)
                        if found is not None:
                            ix.insert_version(conn, found)  # a whole version the index had lost: kept
                        version += 1  # a folder with a manifest is never replaced
                        final = self._path("models", name, str(version))
                    ref = f"{name}:{version}"
                    for role in roles:
                        save_weights(staging / f"{role}.safetensors", weights[role],
                                     {**base_meta, "ganzoo.role": role, "ganzoo.model": ref})
                    for filename, data in extras.items():
                        write_durable(staging / filename, data)
                    files = {}
                    for path in sorted(staging.iterdir()):
                        digest, size = sha256_file(path)
                        files[path.name] = {"sha256": digest, "size": size}
                    created = utc_now()
                    written = Manifest(name, version, created, files, versions, body)
                    write_durable(staging / MANIFEST, written.encode())
                    fsync_dir(staging)
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging, final)
                    moved = True
                    fsync_dir(final.parent)
                    row = ix.Row(name, version, spec.architecture, str(dataset["name"]), int(body["steps"]), created,
                                 tuple(sorted(alias_list)))
                    ix.insert_version(conn, row)
            except BaseException:
                if moved and final is not None:
                    _remove_tree(final)
                raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return self._record(row)

    # -- lookups -------------------------------------------------------------------------------
    def resolve(self, ref: str) -> ModelRecord:
        """``name`` (its ``latest``), ``name:3`` or ``name@alias`` -> the record it points to."""
        parsed = parse_ref(ref)
        row = self._index.lookup(parsed.name, parsed.version, parsed.alias)
        if row is None:
            raise self._not_found(parsed, ref)
        return self._record(row)

    def manifest(self, ref_or_record: str | ModelRecord) -> dict[str, Any]:
        """The manifest of a version as a JSON dict, checked against the index (see :meth:`read_manifest`)."""
        return self.read_manifest(ref_or_record).to_dict()

    def read_manifest(self, ref_or_record: str | ModelRecord) -> Manifest:
        """The manifest of a version, checked against the index: a typed :class:`Manifest`."""
        record = self._get(ref_or_record)
        path = inside(self.root, record.path / MANIFEST)
        manifest = Manifest.read(path, record.ref)
        if (manifest.name, manifest.version) != (record.name, record.version):
            raise IntegrityError(f"{record.ref}: {path} describes {manifest.ref}")
        return manifest

    def file_path(self, ref_or_record: str | ModelRecord, filename: str) -> Path:
        """The path of a stored file after checking its size and sha256 against the manifest."""
        record, path, expected = self._expected(ref_or_record, filename)
        if not path.is_file():
            raise IntegrityError(f"{record.ref}: {path} is missing")
        digest, size = sha256_file(path)
        _compare(record, path, expected, digest, size)
        return path

    def read_verified(self, ref_or_record: str | ModelRecord, filename: str) -> tuple[Path, bytes]:
        """A stored file's bytes, checked against the manifest: what is checked is what is used."""
        record, path, expected = self._expected(ref_or_record, filename)
        data = read_or_refuse(path, record.ref, IntegrityError)
        _compare(record, path, expected, sha256_bytes(data), len(data))
        return path, data

    def load_state(self, ref_or_record: str | ModelRecord, role: str = "generator") -> dict[str, torch.Tensor]:
        """The verified state dict of one role (generator, generator_ema or discriminator)."""
        if role not in ROLES:
            raise ConfigError(f"unknown weight role {role!r}; use one of {', '.join(ROLES)}")
        path, data = self.read_verified(ref_or_record, f"{role}.safetensors")
        return decode_weights(data, path)[1]

    # -- changes -------------------------------------------------------------------------------
    def record_metrics(self, ref_or_record: str | ModelRecord, key: str, value: Mapping[str, Any]) -> dict[str, Any]:
        """Store evaluation results under ``manifest["metrics"][key]``; returns the new manifest.

        The manifest is rewritten atomically (temporary file, fsync, rename) while the index's
        write lock is held, so concurrent evaluations of one version do not lose each other's
        numbers. Weight files and their hashes are untouched.
        """
        with self._index.writing():
            record = self._get(ref_or_record)
            try:
                results = json.loads(json.dumps(dict(value)))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"metrics for {record.ref} must be JSON-serializable: {exc}") from exc
            manifest = self.read_manifest(record).with_metrics(key, results)
            write_atomic(self._path("models", record.name, str(record.version)) / MANIFEST, manifest.encode())
            return manifest.to_dict()

    def set_alias(self, ref: str, alias: str) -> ModelRecord:
        """Point ``name@alias`` at the version ``ref`` resolves to (moving it if it exists)."""
        alias = check_alias(alias)
        record = self.resolve(ref)
        with self._index.writing() as conn:
            if not ix.query_rows(conn, record.name, record.version):
                raise ModelNotFoundError(f"{record.ref} was removed meanwhile")
            ix.point_alias(conn, record.name, alias, record.version)
        return self.resolve(record.ref)

    def remove_alias(self, ref: str) -> ModelRecord:
        """Remove the alias of ``name@alias``; the version it points to, and its files, stay.

        Returns the record of that version. ``latest`` cannot be removed: the registry
        keeps it on the newest version.
        """
        parsed = parse_ref(ref)
        if parsed.alias is None:
            raise ConfigError(f"{ref!r} is not an alias reference; give name@alias (e.g. {parsed.name}@best)")
        if parsed.alias == "latest":
            raise ConfigError(f"{ref!r}: the alias 'latest' is kept by the registry on the newest version and cannot "
                              f"be removed; to remove a version give {parsed.name}:VERSION")
        record = self.resolve(ref)
        with self._index.writing() as conn:
            if not ix.delete_alias(conn, parsed.name, parsed.alias):
                raise ModelNotFoundError(f"{ref} was removed meanwhile")
        return self.resolve(record.ref)

    def remove(self, ref: str) -> None:
        """Remove one version: its index row (and aliases) in a transaction, then its folder.

        ``latest`` moves to the highest remaining version; the number is never reissued.
        """
        record = self.resolve(ref)
        folder = self._path("models", record.name, str(record.version))  # links refused before any change
        tmp = self._path("tmp")
        with self._index.writing() as conn:
            if not ix.query_rows(conn, record.name, record.version):
                raise ModelNotFoundError(f"{record.ref} was removed meanwhile")
            ix.delete_version(conn, record.name, record.version)
        # After the commit: a crash from here on leaves an orphan folder, never a dangling row.
        if folder.exists():
            tmp.mkdir(exist_ok=True)
            trash = self._path("tmp", f"removed-{record.name}-{secrets.token_hex(8)}")
            trash.mkdir()
            os.replace(folder, trash / "version")  # disappears from models/ at once, then deleted
            shutil.rmtree(trash, ignore_errors=True)
        try:
            folder.parent.rmdir()  # the name's folder, once its last version is gone
        except OSError:
            pass

    def verify(self) -> builtins.list[str]:
        """Check the whole store; one human-readable problem per line, empty when healthy."""

        return verify_registry(self)

    def reindex(self) -> ReindexReport:
        """Rebuild ``index.sqlite`` from every ``models/<name>/<version>/manifest.json`` that reads and verifies.

        Aliases and the highest issued version of each name are kept from the old index as far as
        it can be read; every name keeps at least ``latest`` (on its highest version). A usable
        index is rebuilt in place, in one write transaction; an unreadable one is kept beside the
        new one as ``index.sqlite.damaged-<time>``. Nothing under ``models/`` is changed or
        deleted: what does not verify is listed in the report's ``skipped``.
        """
        with _storage_errors(f"could not rebuild the index of the registry at {self.root}"):
            if not self.root.is_dir():
                raise ConfigError(f"there is no registry at {self.root} to reindex (no such folder); pass the "
                                  "registry's folder with --registry or $GANZOO_REGISTRY")
            self._path("models")
            index = self._path("index.sqlite")
            try:
                usable = self._index.quick_check() == "ok"
            except IntegrityError:
                usable = False
            if usable:
                with self._index.writing() as conn:
                    skipped = self._rebuild(conn, ix.remembered(conn))
                return ReindexReport(self.list(), skipped)
            memory = self._index.salvage()
            tmp = self._path("tmp")
            tmp.mkdir(exist_ok=True)
            fresh = tmp / f"index-{secrets.token_hex(8)}.sqlite"
            try:
                with ix.Index(fresh).writing() as conn:
                    skipped = self._rebuild(conn, memory)
                aside = self.root / f"index.sqlite.damaged-{utc_now().replace(':', '')}-{secrets.token_hex(2)}"
                shutil.copy2(index, aside)
                journal = index.with_name(index.name + "-journal")
                if journal.exists():  # a journal of the damaged file must never be replayed into the new one
                    os.replace(journal, aside.with_name(aside.name + "-journal"))
                os.replace(fresh, index)
                fsync_dir(self.root)
            finally:
                fresh.unlink(missing_ok=True)
                fresh.with_name(fresh.name + "-journal").unlink(missing_ok=True)
        return ReindexReport(self.list(), skipped, aside)

    def _rebuild(self, conn: Any, memory: ix.Memory) -> builtins.list[str]:
        """Fill the index behind ``conn`` from the manifests; returns the lines of what was left out."""
        rows: dict[tuple[str, int], ix.Row] = {}
        issued = dict(memory.issued)
        skipped: builtins.list[str] = []
        models = self.root / "models"
        for entry in sorted(models.iterdir()) if models.is_dir() else ():
            where = entry.relative_to(self.root).as_posix()
            try:
                name = check_model_name(entry.name)
            except ConfigError:
                skipped.append(f"{where}: not a valid model name; skipped")
                continue
            if entry.is_symlink() or not entry.is_dir():
                skipped.append(f"{where}: not a folder (a link or a file); skipped")
                continue
            for sub in sorted(entry.iterdir(), key=lambda p: (len(p.name), p.name)):
                where = sub.relative_to(self.root).as_posix()
                if not (sub.name.isascii() and sub.name.isdigit() and str(int(sub.name)) == sub.name):
                    skipped.append(f"{where}: not a version folder; skipped")
                    continue
                version = int(sub.name)
                issued[name] = max(issued.get(name, 0), version)  # a number on disk is never issued again
                if sub.is_symlink() or not sub.is_dir():
                    skipped.append(f"{where}: not a folder (a link or a file); skipped")
                    continue
                row, problem = scan_version(sub, name, version)
                if row is None:
                    skipped.append(f"{where}: {problem}; skipped")
                else:
                    rows[name, version] = row
        for name, version in sorted(memory.versions - set(rows)):
            if not (models / name / str(version)).exists():
                skipped.append(f"{name}:{version}: in the old index, but models/{name}/{version} is missing; dropped")
        aliases: dict[tuple[str, int], builtins.list[str]] = {}
        for (name, alias), version in sorted(memory.aliases.items()):
            if (name, version) in rows:
                aliases.setdefault((name, version), []).append(alias)
            elif alias != "latest":  # latest is set again below
                skipped.append(f"{name}@{alias}: pointed to {name}:{version}, which is not in the rebuilt index; "
                               "dropped")
        for name in {n for n, _ in rows}:
            if not any(n == name and "latest" in a for (n, _), a in aliases.items()):
                aliases.setdefault((name, max(v for n, v in rows if n == name)), []).append("latest")
        ix.rebuild(conn, [dataclasses.replace(row, aliases=tuple(sorted(aliases.get(key, ()))))
                          for key, row in sorted(rows.items())], issued)
        return skipped

    def list(self, name: str | None = None) -> builtins.list[ModelRecord]:
        """Every version (of ``name``, if given), sorted by name then version."""
        if name is not None:
            check_model_name(name)
        return [self._record(row) for row in self._index.rows(name)]

    # -- helpers -------------------------------------------------------------------------------
    def _path(self, *parts: str) -> Path:
        """A path the registry writes: inside the root, reached through no symbolic link."""
        return real_inside(self.root, self.root.joinpath(*parts))

    def _record(self, row: ix.Row) -> ModelRecord:
        path = self.root / "models" / row.name / str(row.version)
        return ModelRecord(row.name, row.version, row.architecture, row.dataset, row.steps, row.created, path,
                           row.aliases)

    def _get(self, ref_or_record: str | ModelRecord) -> ModelRecord:
        # A record is looked up again: it may come from another registry or be stale.
        return self.resolve(ref_or_record.ref if isinstance(ref_or_record, ModelRecord) else ref_or_record)

    def _expected(self, ref_or_record: str | ModelRecord, filename: str) -> tuple[ModelRecord, Path, dict[str, Any]]:
        filename = check_filename(filename)
        record = self._get(ref_or_record)
        files = self.read_manifest(record).files
        if filename not in files:
            raise ModelNotFoundError(f"{record.ref} has no file {filename!r}; it has {', '.join(sorted(files))}")
        expected = files[filename]
        if not isinstance(expected, dict) or not {"sha256", "size"} <= set(expected):
            raise IntegrityError(f"{record.ref}: manifest entry for {filename!r} lacks sha256/size")
        return record, inside(self.root, record.path / filename), expected

    def _not_found(self, ref: ModelRef, text: str) -> ModelNotFoundError:
        rows = self._index.rows()
        versions: dict[str, builtins.list[int]] = {}
        for row in rows:
            versions.setdefault(row.name, []).append(row.version)
        listing = ", ".join(f"{n} (versions {', '.join(map(str, vs))})" for n, vs in versions.items()) or "(none)"
        if ref.name not in versions:
            close = difflib.get_close_matches(ref.name, list(versions), n=3, cutoff=0.5)
            msg = f"no model {ref.name!r} in the registry at {self.root}"
            if close:
                msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
            exc = ModelNotFoundError(msg + f" Available: {listing}")
            exc.suggestions = close  # type: ignore[attr-defined]
            return exc
        aliases = ", ".join(f"@{a} -> {v}" for a, v in self._index.aliases(ref.name).items()) or "none"
        what = f"version {ref.version}" if ref.version is not None else f"alias {ref.alias or 'latest'!r}"
        exc = ModelNotFoundError(f"model {ref.name!r} has no {what} (reference {text!r}); it has versions "
                                 f"{', '.join(map(str, versions[ref.name]))} and aliases {aliases}")
        exc.suggestions = []  # type: ignore[attr-defined]
        return exc


def _compare(record: ModelRecord, path: Path, expected: Mapping[str, Any], digest: str, size: int) -> None:
    if size != expected["size"]:
        raise IntegrityError(f"{record.ref}: {path} has the wrong size: expected {expected['size']} bytes, "
                             f"got {size}")
    if digest != expected["sha256"]:
        raise IntegrityError(f"{record.ref}: {path} is corrupted: sha256 expected {expected['sha256']}, "
                             f"got {digest}")


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    """Disk full, permission denied, a file where a folder should be: one StorageError saying so."""
    try:
        yield
    except GanzooError:
        raise
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise StorageError(f"{what}: {exc.strerror or exc}{where}; nothing was stored") from exc
