"""File-system helpers shared by every layer: durable and atomic writes, directory fsync, hashing, timestamps."""

from __future__ import annotations

import hashlib
import math
import os
import platform
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from .errors import StorageError

__all__ = [
    "format_bytes",
    "fsync_dir",
    "json_safe",
    "library_versions",
    "read_or_refuse",
    "remove_stale",
    "sha256_bytes",
    "sha256_file",
    "utc_now",
    "write_atomic",
    "write_durable",
]

_CHUNK = 1 << 20


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` and fsync it, so a later rename publishes complete bytes."""
    with open(path, "xb") as f:  # "x": a staging folder is fresh, a name clash is a bug
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(path: Path, data: bytes | Callable[[IO[bytes]], Any]) -> None:
    """Replace ``path`` all at once: a temporary file in the same folder, fsynced, renamed over it.

    ``data`` is the bytes to write, or a function that writes them to the open file. Readers see
    the old file or the new one, never a torn one; a failed write leaves no temporary behind and
    raises :class:`StorageError`.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        kept = " (the previous one is unchanged)" if path.exists() else ""
        raise StorageError(f"could not write {path}{kept}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (new files, renames). A no-op where unsupported (Windows)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> tuple[str, int]:
    """``(hex digest, size in bytes)`` of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def utc_now() -> str:
    """The current time, ISO-8601 in UTC with a ``Z``, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def library_versions() -> dict[str, str]:
    import safetensors
    import torch

    from .version import __version__

    return {"ganzoo": __version__, "torch": str(torch.__version__),
            "safetensors": str(safetensors.__version__), "python": platform.python_version()}


def remove_stale(folder: Path, older_than_s: float) -> None:
    """Delete entries of ``folder`` untouched for ``older_than_s``: leftovers of crashed publishes."""
    if not folder.is_dir():
        return
    cutoff = time.time() - older_than_s
    for entry in folder.iterdir():
        try:
            if entry.lstat().st_mtime < cutoff:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        except OSError:
            continue  # another process is cleaning the same folder


def json_safe(value: Any) -> Any:
    """``value`` with every NaN and infinity (which JSON cannot hold) replaced by None, tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def load_json(data: str | bytes, what: str, error: type[Exception], *,
              object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None, max_depth: int = 64) -> Any:
    """Parse JSON that came from a file (a header, a manifest, a config): every failure is one ``error``.

    ``what`` names the source in the message. Invalid UTF-8, invalid JSON, what ``object_pairs_hook``
    refuses (e.g. duplicate keys), numbers too long to convert and nesting deeper than ``max_depth``
    levels (ganzoo's own files nest a few levels; the interpreter's recursion limit is near 1,000)
    all become ``error(message)``, so nothing read from a file can end in a RecursionError later.
    """
    import json

    def refuse(reason: str) -> Exception:
        return error(f"{what} is not valid JSON ({reason}); the file is damaged or was not written by ganzoo")

    try:
        value = json.loads(data, object_pairs_hook=object_pairs_hook)
    except RecursionError:
        raise refuse(f"nested more than {max_depth} levels deep") from None
    except OSError:
        raise
    except Exception as exc:  # JSONDecodeError, UnicodeDecodeError, what the hook raises, int digit limits
        raise refuse(" ".join(str(exc).split()) or type(exc).__name__) from exc
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > max_depth:
            raise refuse(f"nested more than {max_depth} levels deep")
        stack.extend((child, depth + 1) for child in children)
    return value


def read_or_refuse(path: Path, where: str, error: type[Exception]) -> bytes:
    """The bytes of ``path``; a missing or unreadable file raises ``error`` naming ``where`` and the path."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{where}: {path} is missing") from exc
    except OSError as exc:
        raise error(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc


def format_bytes(n: float) -> str:
    """``n`` bytes for people: 950 bytes, 12.3 KB, 1.2 GB (powers of 1000)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover
