"""The decoded-image cache of ``folder`` datasets: one file per folder and ``--image-size``, memory-mapped.

The first load of a folder decodes every image and writes the uint8 pixels into
``<cache>/data/<id>.images`` (``<cache>`` is ``$GANZOO_CACHE``, else the user cache folder; see
:mod:`ganzoo.locations`); the next load memory-maps that file and decodes nothing. A file is::

    GANZOO-IMAGE-CACHE\\n   magic (19 bytes)
    format                 uint32, little-endian (:data:`FORMAT`)
    header length          uint64, little-endian
    header sha256          64 hex digits of the header's bytes
    header                 JSON: format, key, folder, image size, shape, dtype, class names, the
                           folder record, where the pixels start, when and by what it was written
    padding                to a multiple of 4096 bytes
    pixels                 uint8 (N, C, H, W), C-contiguous, to the end of the file

The **key** is a sha256 of everything the pixels depend on: the resolved folder, the image
files in load order with their sizes and modification and change times, ``--image-size``, the
conversion rules and Pillow's version. Every open reads the header, checks its sha256, the
format, the key, the shape against the file's size, and the class names; anything off (an
older format, a changed or deleted file, a damaged or edited header, a truncated file) makes
the loader decode the folder again and replace the file, with a one-line note saying why.
The pixels themselves are not hashed on open (that would cost as much as reading them all).

Files are written through :func:`ganzoo.fileio.write_atomic` (a temporary name in the same
folder, fsynced, then renamed), so a crash never leaves a half-written file under a cache name.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, DataError, StorageError
from ..fileio import load_json, utc_now, write_atomic
from ..locations import cache_dir

__all__ = ["FORMAT", "SUFFIX", "CacheEntry", "CacheHeader", "Unusable", "cache_folder", "caches_of", "clear_caches",
           "entry_path", "folder_key", "list_caches", "open_pixels", "read_header", "write_cache"]

FORMAT = 1  # bump when the layout or the meaning of a header field changes: older files are rebuilt
MAGIC = b"GANZOO-IMAGE-CACHE\n"
_FIXED = struct.Struct("<IQ")  # format, header length
_PREFIX = len(MAGIC) + _FIXED.size + 64  # + the header's sha256 in hex
ALIGN = 4096  # the pixels start on a page boundary
MAX_HEADER = 64 << 20  # a header is a few KB (class names, the folder record); more is damage
SUFFIX = ".images"
SUBFOLDER = "data"
MAX_NAMED = 5  # cached folders named in a message


class Unusable(Exception):
    """A cache file that cannot be used as it is; the message says why (in words for a one-line note)."""


@dataclass(frozen=True)
class CacheHeader:
    """What a cache file says about its pixels."""

    key: str  # folder_key() of the folder and options it was written for
    folder: str  # the resolved folder
    image_size: int | None  # --image-size it was loaded with
    shape: tuple[int, int, int, int]  # (N, C, H, W) of the uint8 pixels
    class_names: list[str] | None  # the sub-folders that are the classes, sorted; None when unlabelled
    record: dict[str, Any]  # the dataset's preprocessing that depends on the pixels (folder rules, resize)
    created: str  # ISO-8601 UTC
    data_offset: int  # where the pixels start
    versions: dict[str, str]  # what wrote it: ganzoo, Pillow and (when images were resized) torch

    @property
    def nbytes(self) -> int:
        n, c, h, w = self.shape
        return n * c * h * w

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "key": self.key, "folder": self.folder, "image_size": self.image_size,
                "shape": list(self.shape), "dtype": "uint8", "class_names": self.class_names, "record": self.record,
                "created": self.created, "data_offset": self.data_offset, "versions": self.versions}


@dataclass(frozen=True)
class CacheEntry:
    """One file in the cache folder, as ``ganzoo data cache`` lists it."""

    path: Path
    size: int  # bytes on disk
    header: CacheHeader | None  # None when the file cannot be used
    problem: str | None  # why not, in words


def cache_folder() -> Path:
    """Where decoded folders are cached: ``data/`` in ``$GANZOO_CACHE`` or the user cache folder."""
    return cache_dir() / SUBFOLDER


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def entry_path(folder: Path, image_size: int | None) -> Path:
    """The cache file of ``folder`` (resolved) loaded at ``image_size``: one per pair, replaced when stale."""
    return cache_folder() / f"{_digest({'folder': str(folder), 'image_size': image_size})[:24]}{SUFFIX}"


def folder_key(folder: Path, files: list[tuple[str, int, int, int]], image_size: int | None,
               rules: dict[str, str]) -> str:
    """The sha256 of what the pixels depend on: ``files`` are ``(relative path, size, mtime_ns, ctime_ns)``
    in load order; ``rules`` name the conversions; Pillow's version is part of it."""
    import PIL

    listing = hashlib.sha256()
    for rel, size, mtime, ctime in files:
        listing.update(f"{rel}\0{size}\0{mtime}\0{ctime}\n".encode("utf-8", "surrogateescape"))
    return _digest({"format": FORMAT, "folder": str(folder), "image_size": image_size, "rules": rules,
                    "pillow": PIL.__version__, "files": listing.hexdigest(), "count": len(files)})


# -- reading ------------------------------------------------------------------------------------------


def _is_int(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _parse_header(body: dict[str, Any]) -> CacheHeader:
    """The header's fields, each checked for kind and range; :class:`Unusable` if any is off."""
    shape = body.get("shape")
    if not (isinstance(shape, list) and len(shape) == 4 and all(_is_int(v, 1) for v in shape) and shape[1] in (1, 3)):
        raise Unusable(f"its header gives an impossible shape {shape!r}")
    if body.get("dtype") != "uint8":
        raise Unusable(f"its header gives dtype {body.get('dtype')!r}, not uint8")
    names = body.get("class_names")
    if names is not None and not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise Unusable("its header's class names are not a list of names")
    size = body.get("image_size")
    offset = body.get("data_offset")
    if not (size is None or _is_int(size, 1)) or not isinstance(offset, int) or not _is_int(offset, 1) or \
            offset % ALIGN:
        raise Unusable("its header's image size or pixel offset is not a valid number")
    key, folder, created = (body.get(k) for k in ("key", "folder", "created"))
    record, versions = body.get("record"), body.get("versions")
    if not (isinstance(key, str) and isinstance(folder, str) and isinstance(created, str)) or \
            not isinstance(record, dict) or \
            not (isinstance(versions, dict) and all(isinstance(v, str) for v in versions.values())):
        raise Unusable("its header lacks the key, folder, record or versions")
    return CacheHeader(key=key, folder=folder, image_size=size, shape=(shape[0], shape[1], shape[2], shape[3]),
                       class_names=names, record=record, created=created, data_offset=offset, versions=versions)


def read_header(path: Path) -> CacheHeader:
    """The checked header of the cache file ``path``: :class:`Unusable` (saying why) when it is not a cache
    file of this format, its header's sha256 does not match, a field is off, or the file is not as long as
    the header says. ``OSError`` when it cannot be read at all."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open, a device never end
        raise Unusable("it is not a regular file")
    with open(path, "rb") as f:
        prefix = f.read(_PREFIX)
        if len(prefix) < _PREFIX or not prefix.startswith(MAGIC):
            raise Unusable("it is not a ganzoo image cache (no magic bytes)")
        version, length = _FIXED.unpack_from(prefix, len(MAGIC))
        if version != FORMAT:
            raise Unusable(f"it was written in cache format {version}; this ganzoo reads format {FORMAT}")
        if length > MAX_HEADER:
            raise Unusable(f"its header claims {length} bytes (at most {MAX_HEADER})")
        raw = f.read(length)
        size = os.fstat(f.fileno()).st_size
    if len(raw) != length or hashlib.sha256(raw).hexdigest().encode() != prefix[-64:]:
        raise Unusable("its header does not match its sha256 (damaged or edited)")
    try:
        body = load_json(raw, f"{path} header", DataError)
    except DataError as exc:
        raise Unusable(str(exc)) from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise Unusable("its header is not a cache header of this format")
    header = _parse_header(body)
    if header.data_offset < _PREFIX + length:
        raise Unusable("its pixels would overlap its header")
    if size != header.data_offset + header.nbytes:
        raise Unusable(f"it holds {size} bytes where its header promises {header.data_offset + header.nbytes} "
                       "(truncated or extended)")
    return header


def open_pixels(path: Path, header: CacheHeader) -> Any:
    """The pixels of a checked cache file as a uint8 tensor ``(N, C, H, W)`` memory-mapped from it.

    The mapping is copy-on-write: writing to the tensor changes this process's copy, never the file.
    """
    import numpy as np
    import torch

    array = np.memmap(path, dtype=np.uint8, mode="c", offset=header.data_offset, shape=header.shape)
    return torch.from_numpy(array)


# -- writing ------------------------------------------------------------------------------------------


def _header_bytes(header: CacheHeader) -> bytes:
    raw = json.dumps(header.to_json(), separators=(",", ":")).encode()  # key order kept: records read back alike
    return MAGIC + _FIXED.pack(FORMAT, len(raw)) + hashlib.sha256(raw).hexdigest().encode() + raw


def _reserve(f: IO[bytes], size: int) -> None:
    """Give the file its final size with its blocks allocated, so a full disk fails here, before any
    decoding (a write into a sparse file's hole could otherwise fail halfway)."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(f.fileno(), 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without it: write zeros
                raise
    zeros = bytes(1 << 20)
    f.seek(0)
    left = size
    while left > 0:
        left -= f.write(zeros[: min(left, len(zeros))])


def write_cache(path: Path, key: str, folder: Path, image_size: int | None, shape: tuple[int, int, int, int],
                class_names: list[str] | None, record: dict[str, Any], versions: dict[str, str],
                fill: Callable[[Callable[[int, Any], None]], None]) -> CacheHeader:
    """Write the cache file ``path`` atomically; ``fill(put)`` decodes, calling ``put(first_row, pixels)``
    with each block of uint8 ``(n, C, H, W)`` rows. An exception from ``fill`` leaves no file behind;
    a file-system failure raises :class:`StorageError`."""
    from ..version import __version__

    header = CacheHeader(key=key, folder=str(folder), image_size=image_size, shape=shape, class_names=class_names,
                         record=record, created=utc_now(), data_offset=0,
                         versions={"ganzoo": __version__, **versions})
    provisional = len(_header_bytes(header)) + 32  # the offset's own digits may lengthen the header
    offset = -(-provisional // ALIGN) * ALIGN
    header = dataclasses.replace(header, data_offset=offset)
    head = _header_bytes(header)
    row = shape[1] * shape[2] * shape[3]

    def write(f: IO[bytes]) -> None:
        _reserve(f, offset + header.nbytes)
        f.seek(0)
        f.write(head)

        def put(first: int, pixels: Any) -> None:  # blocks arrive in any order
            f.seek(offset + first * row)
            f.write(memoryview(pixels).cast("B"))

        fill(put)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not create the cache folder {path.parent}: {exc.strerror or exc}") from exc
    write_atomic(path, write)
    return header


# -- listing and clearing -----------------------------------------------------------------------------


def _folder_checked(folder: Path) -> Path:
    """``folder``, unless it or the cache folder above it is a file (which reads as an empty cache otherwise)."""
    for path in (folder.parent, folder):
        if path.exists() and not path.is_dir():
            raise StorageError(f"the cache folder {path} is a file, not a folder; set $GANZOO_CACHE to a folder "
                               "(decoded images are cached in its data/ sub-folder)")
    return folder


def list_caches() -> list[CacheEntry]:
    """Every cache file in :func:`cache_folder`, oldest first; unusable ones come with the reason."""
    folder = _folder_checked(cache_folder())
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            size = path.stat().st_size
            header: CacheHeader | None = read_header(path)
            problem = None
        except Unusable as exc:
            header, problem = None, str(exc)
        except OSError as exc:
            header, problem, size = None, f"it cannot be read ({exc.strerror or exc})", 0
        entries.append(CacheEntry(path, size, header, problem))
    return sorted(entries, key=lambda e: (e.header.created if e.header else "", e.path.name))


def caches_of(folder: str | os.PathLike[str], entries: list[CacheEntry] | None = None) -> list[CacheEntry]:
    """The cache files of image ``folder`` (at every image size) among ``entries`` (default: all);
    a :class:`ConfigError` naming the cached folders when there is none."""
    entries = list_caches() if entries is None else entries
    wanted = str(Path(folder).expanduser().resolve())
    chosen = [e for e in entries if e.header is not None and e.header.folder == wanted]
    if not chosen:
        cached = sorted({e.header.folder for e in entries if e.header is not None})
        more = f" (and {len(cached) - MAX_NAMED} more)" if len(cached) > MAX_NAMED else ""
        listed = f"; cached folders: {', '.join(cached[:MAX_NAMED])}{more}" if cached else "; the cache is empty"
        raise ConfigError(f"nothing is cached for folder {wanted}{listed}. List the cache with: ganzoo data cache")
    return chosen


def clear_caches(entries: list[CacheEntry], *, leftovers: bool = False) -> list[CacheEntry]:
    """Delete the cache files of ``entries``; with ``leftovers`` also what interrupted writes left
    (never read as a cache). Returns the entries removed (one another process removed is left out)."""
    removed = []
    for entry in entries:
        try:
            entry.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(f"could not remove {entry.path}: {exc.strerror or exc}") from exc
        removed.append(entry)
    folder = cache_folder()
    if leftovers and folder.is_dir():
        for path in folder.glob(f".*{SUFFIX}.*.tmp"):
            path.unlink(missing_ok=True)
    return removed
