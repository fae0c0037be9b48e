"""Downloads: the official URL, checksum verified, atomic, resumable, and quick to fail offline.

A file is written to ``<name>.part`` and only renamed (``os.replace``) to its final name
once its checksum matches, so a final name never holds a corrupt or partial file. An
interrupted ``.part`` is resumed with an HTTP ``Range`` request when the server honours
it, and restarted otherwise. Without a network the first connection fails within
:data:`TIMEOUT` seconds (at once when name resolution fails) and the caller gets one
:class:`~ganzoo.errors.DataError` that says which file to fetch from where and where to put it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..progress import progress

__all__ = ["TIMEOUT", "RemoteFile", "download", "ensure_files", "file_digest", "missing_message", "verify"]

TIMEOUT = 10.0  # seconds: connection (and per-read) timeout, so an offline run fails fast
CHUNK = 1 << 20  # bytes read per network call
USER_AGENT = "ganzoo-dataset-download"  # some servers refuse urllib's default agent


@dataclass(frozen=True)
class RemoteFile:
    """A file to download: where from, and the checksum its publisher lists."""

    name: str  # file name on disk
    urls: tuple[str, ...]  # the official URL first, then mirrors serving the same bytes
    md5: str | None = None  # hex md5 of the file as served
    sha256: str | None = None  # hex sha256 of the file as served
    size: int | None = None  # bytes, when known (sizes the progress bar, bounds a resume)

    def __post_init__(self) -> None:
        if not self.urls or not (self.md5 or self.sha256):
            raise ValueError(f"RemoteFile {self.name!r} needs at least one URL and one checksum")


class _Unreachable(Exception):
    """The network (or this URL) could not deliver the file; a retry or a mirror may."""


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file's bytes, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(path: Path, remote: RemoteFile) -> str | None:
    """None when every checksum ``remote`` lists matches ``path``; else what differs."""
    for algorithm, expected in (("md5", remote.md5), ("sha256", remote.sha256)):
        if expected:
            got = file_digest(path, algorithm)
            if got != expected.lower():
                return f"{algorithm} {got}, expected {expected}"
    return None


def verify(path: Path, remote: RemoteFile) -> None:
    """Raise :class:`DataError` naming ``path`` unless it matches ``remote``'s checksum."""
    if (diff := _mismatch(path, remote)) is not None:
        raise DataError(f"{path} is corrupt or not the official {remote.name}: {diff}. Delete it and run again "
                        f"to download it, or replace it with a fresh copy of {remote.urls[0]}")


def missing_message(dataset: str, files: Sequence[RemoteFile], dest: Path, reason: str, also: str = "") -> str:
    """The one message an offline run gets: what to download from where, and where to put it."""
    subdir = dest.name
    if len(files) == 1:
        f = files[0]
        checksum = f"md5 {f.md5}" if f.md5 else f"sha256 {f.sha256}"
        where = (f"Download it from {' or '.join(f.urls)} ({checksum}) and put it at {dest / f.name}, "
                 f"or pass --data-dir DIR with the file at DIR/{subdir}/{f.name}")
        names = f.name
    else:
        bases = {tuple(u.removesuffix(f.name) for u in f.urls) for f in files}
        if len(bases) == 1:
            sources = "from " + " or ".join(next(iter(bases)))
        else:
            sources = "from " + ", ".join(f.urls[0] for f in files)
        names = ", ".join(f.name for f in files)
        where = (f"Download them {sources} into {dest}{os.sep} keeping their names, or pass --data-dir DIR "
                 f"with them in DIR/{subdir}/")
    return f"dataset {dataset!r}: cannot download {names} ({reason}). {where}{also}."


def ensure_files(dataset: str, files: Sequence[RemoteFile], dest: Path, *, download_missing: bool = True,
                 also: str = "") -> list[Path]:
    """The paths of ``files`` in ``dest``, downloading the missing ones.

    Files already there are returned as they are (the caller verifies them). When the
    network fails, one :class:`DataError` lists every file still missing. ``also`` is
    appended to that message (another place the files may come from).
    """
    missing = [f for f in files if not (dest / f.name).is_file()]
    if missing and not download_missing:
        raise DataError(missing_message(dataset, missing, dest, "downloads are turned off", also))
    for i, remote in enumerate(missing):
        try:
            download(remote, dest)
        except _Unreachable as exc:
            raise DataError(missing_message(dataset, missing[i:], dest, str(exc), also)) from None
    return [dest / f.name for f in files]


def download(remote: RemoteFile, dest: Path) -> Path:
    """Fetch ``remote`` into ``dest`` atomically; returns the final path.

    Tries each URL in turn. Raises :class:`_Unreachable` when none could be reached and
    :class:`DataError` when one delivered bytes that fail the checksum.
    """
    final = dest / remote.name
    part = final.with_name(final.name + ".part")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data directory {dest}: {exc}; pass --data-dir DIR "
                        "(or set $GANZOO_DATA) to a writable directory") from exc
    reasons: list[str] = []
    for url in remote.urls:
        try:
            resumed = _fetch(url, part, remote)
            diff = _mismatch(part, remote)
            if diff is not None and resumed:  # the old .part may be from another version: start over once
                part.unlink()
                _fetch(url, part, remote)
                diff = _mismatch(part, remote)
        except _Unreachable as exc:
            reasons.append(str(exc))
            continue
        if diff is None:
            os.replace(part, final)
            return final
        part.unlink()
        raise DataError(f"{url} sent a {remote.name} whose checksum does not match ({diff}); nothing was kept. "
                        f"Download it yourself from {remote.urls[0]} and put it at {final}")
    if len(set(reasons)) == 1:
        raise _Unreachable(reasons[0] + (f" (all {len(reasons)} URLs)" if len(reasons) > 1 else ""))
    raise _Unreachable("; ".join(f"{url}: {reason}" for url, reason in zip(remote.urls, reasons, strict=True)))


def _fetch(url: str, part: Path, remote: RemoteFile) -> bool:
    """Append the rest of ``url`` to ``part`` (or write it afresh); returns whether it resumed."""
    start = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and start > remote.size:
        start = 0  # longer than the real file: cannot be a prefix of it
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # nothing left to send: the .part may be complete; the checksum decides
            return True
        raise _Unreachable(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Unreachable(f"no connection: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Unreachable(f"no connection: {exc}") from None
    with response:
        content_range = response.headers.get("Content-Range", "")
        resumed = bool(start) and response.status == 206 and content_range.startswith(f"bytes {start}-")
        if not resumed:
            start = 0  # the server ignored the range: restart from the first byte
        length = response.headers.get("Content-Length")
        expected = start + int(length) if length and length.isdigit() else None
        total = expected if expected is not None else remote.size
        try:
            out = open(part, "ab" if resumed else "wb")
        except OSError as exc:
            raise DataError(f"cannot write {part}: {exc}; pass --data-dir DIR (or set $GANZOO_DATA) to a "
                            "writable directory") from exc
        with out, progress(f"downloading {remote.name}", total, done=start, transfer=True) as advance:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Unreachable(f"connection lost after {out.tell()} bytes ({exc}); the partial file "
                                       f"{part} resumes on the next run") from None
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as exc:  # disk full, quota: the .part stays and resumes later
                    raise DataError(f"cannot write {part}: {exc}; free space there or pass --data-dir DIR "
                                    "(or set $GANZOO_DATA) to another directory") from exc
                advance(len(chunk))
            received = out.tell()
    if expected is not None and received < expected:  # http.client returns a short body without complaint
        raise _Unreachable(f"connection lost after {received} of {expected} bytes; the partial file {part} "
                           "resumes on the next run")
    return resumed
