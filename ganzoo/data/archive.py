"""Safe extraction of tar archives: nothing is written outside the destination.

Every member is checked before anything is written. Only regular files and
directories are extracted; absolute names, ``..`` components, symbolic and hard links,
devices and FIFOs refuse the whole archive. Files are copied out by hand (never
``extractall``), with fresh permissions, into a staging directory inside the
destination, then moved into place, so an interrupted extraction leaves no half tree
under the final name.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import DataError

__all__ = ["safe_extract", "unsafe_reason"]

MAX_LISTED = 5  # offending members named in an error message


def _parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))


def unsafe_reason(member: tarfile.TarInfo, root: str | None = None) -> str | None:
    """Why ``member`` may not be extracted, or None when it is a plain file or directory inside ``root``."""
    name = member.name
    if not name or "\x00" in name:
        return "empty or invalid name"
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "absolute path"
    parts = _parts(name)
    if ".." in parts:
        return "'..' component"
    if member.issym():
        return f"symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "FIFO"
    if not (member.isreg() or member.isdir()):
        return "not a regular file or directory"
    if not parts:
        return "empty or invalid name" if not member.isdir() else None
    if root is not None and parts[0] != root:
        return f"outside the expected top-level directory {root!r}"
    return None


def safe_extract(archive: Path, dest: Path, *, root: str | None = None) -> None:
    """Extract ``archive`` (any tar compression) under ``dest`` after checking every member.

    ``root``, when given, is the one top-level directory every member must lie in; it
    replaces any previous copy of that directory in ``dest``. Raises :class:`DataError`
    naming the archive (and at most :data:`MAX_LISTED` offending members) on refusal.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            bad = [(m.name, reason) for m in members if (reason := unsafe_reason(m, root)) is not None]
            if bad:
                listed = "; ".join(f"{name!r}: {reason}" for name, reason in bad[:MAX_LISTED])
                more = f" (and {len(bad) - MAX_LISTED} more)" if len(bad) > MAX_LISTED else ""
                raise DataError(f"{archive} was not extracted: {len(bad)} unsafe member(s): {listed}{more}. "
                                "Delete it and download the official archive again")
            _extract_checked(tar, members, dest)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"{archive} is not a readable tar archive ({exc}); delete it and run again") from exc
    except OSError as exc:
        raise DataError(f"could not extract {archive} into {dest}: {exc}") from exc


def _extract_checked(tar: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        base = staging.resolve()
        for member in members:
            parts = _parts(member.name)
            if not parts:
                continue
            target = staging.joinpath(*parts)
            if not target.resolve().is_relative_to(base):  # belt and braces after unsafe_reason
                raise DataError(f"archive member {member.name!r} would be written outside {dest}")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:  # pragma: no cover - regular files always have data
                raise DataError(f"archive member {member.name!r} has no data")
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
        for top in staging.iterdir():
            final = dest / top.name
            if final.is_symlink() or (final.exists() and not final.is_dir()):
                final.unlink()
            elif final.is_dir():
                shutil.rmtree(final)
            os.replace(top, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
