"""Moving a stored model out of the registry and back in: Hugging Face-style folders.

``export_model`` writes one version as a folder that ganzoo (with the plugin of its
architecture) loads and imports, with the model card of ``ganzoo.registry.card``;
``ganzoo.registry.deploy`` writes the generator alone as
ONNX or TorchScript, which run without ganzoo. The folder::

    model.safetensors            the generator to sample from (the EMA one when stored)
    generator.safetensors        the raw generator, when model.safetensors is the EMA one
    discriminator.safetensors    when stored
    samples.png                  a grid of 64 samples (seed 0)
    README.md                    the model card: front matter (license, dataset, tags, model-index),
                                 architecture, paper, dataset, training, metrics, how to use it
    config.json                  the manifest (spec, training config, dataset, metrics with
                                 their protocol), where it came from, and the sha256 and size
                                 of every other file

The weight files are the registry's own bytes, so each still loads alone (its header
carries the architecture). ``import_model`` checks every file against ``config.json``
before anything is stored; a changed file is refused with nothing stored, and the
publish itself is atomic. A folder to import may come from anywhere: only regular files
are opened (no links, FIFOs or devices), a file's size is compared with the listed size
before it is read, ``config.json`` is at most 16 MiB, and every weight file must fit the
architecture its spec describes (checked on the meta device).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, IntegrityError, ModelNotFoundError, StorageError
from ..fileio import fsync_dir, load_json, sha256_bytes, write_durable
from ..models import ModelSpec
from ..weights import ROLES, TensorInfo, decode_weights, parse_header, spec_from_metadata
from .card import check_license, model_card
from .loading import check_fit
from .manifest import Manifest
from .names import check_filename
from .store import ModelRecord, Registry

__all__ = ["CONFIG", "EXPORT_FORMAT", "FORMATS", "GENERATOR_FORMATS", "MODEL_FILE", "check_destination",
           "export_body", "export_model", "export_source", "import_model", "staged_export"]

EXPORT_FORMAT = "ganzoo.export/1"
# What `ganzoo models export --format` writes: this module's folder, or a generator that runs without ganzoo.
FORMATS = ("ganzoo", "onnx", "torchscript")
GENERATOR_FORMATS = {"onnx": "ganzoo.onnx/1", "torchscript": "ganzoo.torchscript/1"}  # config.json's format of each
CONFIG = "config.json"
MODEL_FILE = "model.safetensors"
SAMPLES = "samples.png"
README = "README.md"
MAX_CONFIG_BYTES = 16 << 20  # a config.json of an export holds a manifest: kilobytes
_CHUNK = 1 << 20
# Open without following a final symlink and without blocking on a FIFO (where the platform has the flags).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _registry(registry: Registry | str | os.PathLike[str] | None) -> Registry:
    return registry if isinstance(registry, Registry) else Registry(registry)


# -- export -----------------------------------------------------------------------------------------


def export_model(ref: str, folder: str | os.PathLike[str], *,
                 registry: Registry | str | os.PathLike[str] | None = None, license: str | None = None) -> Path:
    """Write the version ``ref`` resolves to into ``folder`` (new or empty); returns the folder.

    ``license``: a Hugging Face license identifier (``mit``, ``cc-by-4.0``, ...) for the model card and
    ``config.json``; by default the one the version records, else none is stated (``other``).
    """
    license = check_license(license) if license is not None else None
    reg = _registry(registry)
    record = reg.resolve(ref)
    manifest = reg.read_manifest(record)
    manifest.spec  # noqa: B018 - a version whose spec is unusable is refused before anything is written
    dest = check_destination(folder)
    stored = manifest.files
    ema = "generator_ema.safetensors" in stored
    layout = [(MODEL_FILE, "generator_ema" if ema else "generator")]
    if ema:
        layout.append(("generator.safetensors", "generator"))
    if "discriminator.safetensors" in stored:
        layout.append(("discriminator.safetensors", "discriminator"))

    with staged_export(dest, folder, record.ref) as staging:
        files: dict[str, dict[str, Any]] = {}

        def put(filename: str, data: bytes, role: str | None = None) -> None:
            write_durable(staging / filename, data)
            files[filename] = {"sha256": sha256_bytes(data), "size": len(data), **({"role": role} if role else {})}

        for filename, role in layout:
            put(filename, reg.read_verified(record, f"{role}.safetensors")[1], role)  # checked bytes, copied as-is
        put(SAMPLES, _samples(reg, record, stored))
        body = export_body(manifest.body, license)
        put(README, model_card(record, body, files).encode())
        config = {"format": EXPORT_FORMAT, "source": export_source(record, manifest), **body, "files": files}
        write_durable(staging / CONFIG, (json.dumps(config, indent=2) + "\n").encode())
    return dest


def export_body(body: dict[str, Any], license: str | None) -> dict[str, Any]:
    """The manifest's publisher fields for an export: without ``source`` (it moves), with ``license`` when given."""
    out = {k: v for k, v in body.items() if k != "source"}
    if license is not None:
        out["license"] = license
    return out


def export_source(record: ModelRecord, manifest: Manifest) -> dict[str, Any]:
    """Where an export came from: the version, its creation time and libraries, and any earlier source."""
    source: dict[str, Any] = {"ref": record.ref, "name": manifest.name, "version": manifest.version,
                              "created": manifest.created, "versions": manifest.versions}
    if manifest.source is not None:
        source["imported_from"] = manifest.source  # this version was itself imported
    return source


def check_destination(folder: str | os.PathLike[str]) -> Path:
    """``folder`` as a Path when an export may be written there: it does not exist, or is an empty folder."""
    dest = Path(folder)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"{os.fspath(folder)} already exists and is not an empty folder; export into a new folder")
    return dest


@contextlib.contextmanager
def staged_export(dest: Path, folder: str | os.PathLike[str], ref: str) -> Iterator[Path]:
    """A fresh folder beside ``dest`` to write an export into; renamed to ``dest`` when the block succeeds.

    The folder appears complete or not at all: on any failure the staging folder is removed,
    and a file-system error becomes a StorageError saying that nothing was written.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.export-{secrets.token_hex(6)}"
        staging.mkdir()
    except OSError as exc:
        raise StorageError(f"could not create {os.fspath(folder)}: {exc.strerror or exc}") from exc
    try:
        yield staging
        fsync_dir(staging)
        check_destination(folder)  # still new or empty after the (possibly long) export
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(staging, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        raise StorageError(f"could not export {ref} to {os.fspath(folder)}: {exc.strerror or exc}; "
                           "nothing was written") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _samples(reg: Registry, record: ModelRecord, stored: dict[str, Any]) -> bytes:
    if SAMPLES in stored:
        return reg.read_verified(record, SAMPLES)[1]
    from ..rendering import grid_columns, grid_size, samples_png
    from ..sampling import generate
    from .loading import load_generator

    g = load_generator(record.ref, registry=reg)
    return samples_png(generate(g, grid_size(g.num_classes), seed=0), nrow=grid_columns(g.num_classes))


# -- import -----------------------------------------------------------------------------------------


def import_model(folder: str | os.PathLike[str], *, name: str | None = None,
                 registry: Registry | str | os.PathLike[str] | None = None,
                 aliases: Iterable[str] = ("latest",)) -> ModelRecord:
    """Store an exported folder as a new version (of ``name``, default the exported name)."""
    src = Path(folder)
    config = _read_config(src)
    files = config.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise IntegrityError(f"{src / CONFIG} lists no {MODEL_FILE}; it is not a ganzoo export")
    blobs = {filename: _verified(src, filename, entry) for filename, entry in files.items()}

    try:
        spec = ModelSpec.from_dict(config["spec"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise IntegrityError(f"{src / CONFIG} has no usable 'spec': {exc}") from exc
    headers: dict[str, tuple[str | os.PathLike[str], dict[str, TensorInfo]]] = {}
    role_files: dict[str, str] = {}
    for filename, entry in files.items():
        role = entry.get("role")
        if role is None:
            continue
        if role not in ROLES or role in role_files:
            raise IntegrityError(f"{src / CONFIG}: file {filename!r} has role {role!r}; expected one of "
                                 f"{', '.join(ROLES)}, each at most once")
        meta, tensors = parse_header(blobs[filename], src / filename)
        if spec_from_metadata(meta, src / filename) != spec:
            raise IntegrityError(f"{src / filename}: the spec in its header differs from {CONFIG}'s")
        headers[role] = (src / filename, tensors)
        role_files[role] = filename
    if "generator" not in role_files:
        raise IntegrityError(f"{src / CONFIG} lists no generator weights (role 'generator')")
    check_fit(spec, src / CONFIG, headers)  # every tensor's dtype and shape, before any of them is decoded
    weights: dict[str, dict[str, torch.Tensor]] = {
        role: decode_weights(blobs[filename], src / filename)[1] for role, filename in role_files.items()}

    found = config.get("source")
    source: dict[str, Any] = found if isinstance(found, dict) else {}
    if name is None:
        name = source.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{src / CONFIG} records no model name; pass --name")
    body = {k: v for k, v in config.items() if k not in ("format", "files")}
    extras = {SAMPLES: blobs[SAMPLES]} if SAMPLES in blobs else None
    return _registry(registry).publish(name, weights, body, extra_files=extras, aliases=aliases)


def _read_config(src: Path) -> dict[str, Any]:
    path = src / CONFIG
    if not src.is_dir():
        raise ModelNotFoundError(f"{os.fspath(src)} is not a folder; give the folder `ganzoo models export` wrote")
    try:
        raw = _read_regular(path, limit=MAX_CONFIG_BYTES)[0]
    except FileNotFoundError as exc:
        raise ConfigError(f"{os.fspath(src)} is not an exported model: it has no {CONFIG}. Give a folder written "
                          "by `ganzoo models export`") from exc
    config = load_json(raw, str(path), IntegrityError)
    if not isinstance(config, dict) or config.get("format") != EXPORT_FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        kind = next((k for k, v in GENERATOR_FORMATS.items() if v == found), None)
        if kind is not None:
            raise ConfigError(f"{os.fspath(src)} holds the generator alone, exported with --format {kind}: it runs "
                              "without ganzoo but cannot be imported. Import a folder exported with --format ganzoo")
        raise IntegrityError(f"{path} has format {found!r}, expected {EXPORT_FORMAT!r}: it is not a ganzoo export")
    return config


def _verified(src: Path, filename: str, entry: Any) -> bytes:
    """A listed file's bytes, after its size and sha256 matched config.json (names cannot leave the folder)."""
    check_filename(filename)
    size = entry.get("size") if isinstance(entry, dict) else None
    digest = entry.get("sha256") if isinstance(entry, dict) else None
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0 and isinstance(digest, str)
            and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise IntegrityError(f"{src / CONFIG}: the entry for {filename!r} needs a sha256 (64 hex digits) and a size "
                             f"(bytes), got {_shown(entry)}; it is not a ganzoo export")
    path = src / filename
    try:
        data, found = _read_regular(path, size=size)
    except FileNotFoundError as exc:
        raise IntegrityError(f"{path} is listed in {CONFIG} but missing; nothing was imported") from exc
    if found != digest:
        raise IntegrityError(f"{path} was changed after export: {CONFIG} records sha256 {digest} "
                             f"({size} bytes), the file has {found} ({len(data)} bytes); nothing was imported")
    return data


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _read_regular(path: Path, *, size: int | None = None, limit: int | None = None) -> tuple[bytes, str]:
    """``(bytes, sha256)`` of ``path``, which must be a regular file of ``size`` bytes (or at most ``limit``).

    Nothing else is read: a symbolic link, FIFO, device or folder is refused when it is opened
    (without blocking), and a size that does not fit is refused before the first byte is read.
    The bytes are read and hashed in chunks, exactly as many as the file had when opened.
    FileNotFoundError passes through; every other problem is an IntegrityError.
    """
    if not hasattr(os, "O_NOFOLLOW") and path.is_symlink():
        raise _link(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise _link(path) from None
        raise IntegrityError(f"cannot read {path}: {exc.strerror or exc}; nothing was imported") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket or other")
            raise IntegrityError(f"{path} is not a regular file (it is {kind}); an exported folder holds plain "
                                 "files only: nothing was imported")
        if size is not None and st.st_size != size:
            raise IntegrityError(f"{path} was changed after export: {CONFIG} records {size} bytes, the file has "
                                 f"{st.st_size} bytes; nothing was imported (export the model again)")
        if limit is not None and st.st_size > limit:
            raise IntegrityError(f"{path} is {st.st_size} bytes; a {CONFIG} of an export is at most {limit} bytes "
                                 f"({limit >> 20} MiB): it is not a ganzoo export")
        digest, chunks, left = hashlib.sha256(), [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            chunks.append(chunk)
            left -= len(chunk)
        if left or os.read(fd, 1):
            raise IntegrityError(f"{path} changed size while it was read; nothing was imported (import it again "
                                 "when nothing writes to the folder)")
    except OSError as exc:
        raise IntegrityError(f"cannot read {path}: {exc.strerror or exc}; nothing was imported") from exc
    finally:
        os.close(fd)
    return b"".join(chunks), digest.hexdigest()


def _link(path: Path) -> IntegrityError:
    return IntegrityError(f"{path} is a symbolic link; an exported folder holds plain files only: copy the file "
                          "itself into the folder (nothing was imported)")
