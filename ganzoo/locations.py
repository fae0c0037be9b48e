"""Where ganzoo keeps things: the model registry a command uses, and the caches every registry shares.

The registry is, in this order (:func:`registry_location`):

1. ``--registry PATH`` (the ``root`` given to :class:`~ganzoo.Registry`);
2. ``$GANZOO_REGISTRY``;
3. the nearest folder named ``registry`` that is a ganzoo registry, in the current folder or
   a folder above it, found the way git finds ``.git``;
4. ``registry`` in the user data folder (``platformdirs.user_data_dir("ganzoo")``).

A folder is a ganzoo registry when it holds the marker file ``.ganzoo-registry``, which the
store writes when it creates a registry and ``ganzoo models init`` writes into a new one, or an
``index.sqlite`` beside a ``models`` folder (a registry from before the marker). A folder that
is merely named ``registry`` is never taken.

The caches (feature classifiers, Inception reference features, the names shell completion
offers) live in ``$GANZOO_CACHE``, else ``platformdirs.user_cache_dir("ganzoo")``, shared by
every registry. This module imports no torch: shell completion uses it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import ConfigError, GanzooError, StorageError
from .fileio import write_atomic

__all__ = [
    "BY_ENV",
    "BY_OPTION",
    "CACHE_ENV",
    "FOUND_ABOVE",
    "FOUND_HERE",
    "IN_USER_DATA",
    "MARKER",
    "NAME_KINDS",
    "REGISTRY_ENV",
    "RegistryLocation",
    "cache_dir",
    "catalog_key",
    "find_registry",
    "init_registry",
    "is_registry",
    "mark_registry",
    "read_catalog_names",
    "registry_location",
    "user_data_dir",
    "user_registry",
    "write_catalog_names",
]

APP = "ganzoo"
REGISTRY_ENV = "GANZOO_REGISTRY"
CACHE_ENV = "GANZOO_CACHE"
MARKER = ".ganzoo-registry"  # written into a registry's root when it is created
MARKER_TEXT = b"This folder is a ganzoo model registry; see docs/registry.md.\n"
PROJECT_FOLDER = "registry"  # the folder name looked for in the current folder and above

# Why a registry was chosen, as `ganzoo models` says it.
BY_OPTION = "--registry"
BY_ENV = "$GANZOO_REGISTRY"
FOUND_HERE = "found in the current folder"
FOUND_ABOVE = "found above the current folder"
IN_USER_DATA = "user data folder"

PLUGIN_GROUP = "ganzoo"  # the entry-point group plugins register under (catalog.ENTRY_POINT_GROUP)
NAMES_FILE = "catalog-names.json"
NAMES_FORMAT = 1
NAME_KINDS = ("architectures", "losses", "datasets", "augmentations")


@dataclass(frozen=True)
class RegistryLocation:
    """The registry a command uses, and why."""

    path: Path  # absolute; it may not exist yet
    reason: str  # one of BY_OPTION, BY_ENV, FOUND_HERE, FOUND_ABOVE, IN_USER_DATA


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def registry_location(root: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> RegistryLocation:
    """The registry root to use: ``root`` if given, else ``$GANZOO_REGISTRY``, else the nearest project
    registry in ``cwd`` (default: the current folder) or above, else the one in the user data folder."""
    if root is not None and os.fspath(root) != "":
        return RegistryLocation(_absolute(root), BY_OPTION)
    if env := os.environ.get(REGISTRY_ENV):
        return RegistryLocation(_absolute(env), BY_ENV)
    try:
        here = (cwd or Path.cwd()).resolve()
    except OSError:  # the current folder was deleted under us
        here = None
    found = find_registry(here) if here is not None else None
    if found is not None:
        return RegistryLocation(found, FOUND_HERE if found.parent == here else FOUND_ABOVE)
    return RegistryLocation(user_registry(), IN_USER_DATA)


def is_registry(folder: Path) -> bool:
    """Is ``folder`` a ganzoo registry (its marker, or an index beside ``models/``)?"""
    try:
        return (folder / MARKER).is_file() or ((folder / "index.sqlite").is_file() and (folder / "models").is_dir())
    except OSError:
        return False


def find_registry(start: Path) -> Path | None:
    """The nearest ``registry`` folder that is a ganzoo registry, in ``start`` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / PROJECT_FOLDER
        if is_registry(candidate):
            return candidate
    return None


def user_data_dir() -> Path:
    """ganzoo's folder in the user data folder (``$XDG_DATA_HOME/ganzoo`` on Linux; platformdirs elsewhere)."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def user_registry() -> Path:
    """The registry in the user data folder, used when no other is named or found."""
    return user_data_dir() / PROJECT_FOLDER


def mark_registry(root: Path) -> None:
    """Write the marker that makes ``root`` a registry the lookup finds (once; ``root`` must exist)."""
    marker = root / MARKER
    if not marker.exists():
        write_atomic(marker, MARKER_TEXT)


def init_registry(folder: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Make ``folder`` an empty registry; ``(root, created)``, ``created`` False when it already was one.

    A folder that holds other files is refused: a registry owns its folder.
    """
    root = _absolute(folder)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"cannot make a registry at {root}: it is a file, not a folder; pass a new or empty "
                          "folder: ganzoo models init DIR")
    if root.is_dir():
        if is_registry(root):
            return root, False
        if any(root.iterdir()):
            raise ConfigError(f"cannot make a registry at {root}: the folder already holds other files; pass a new "
                              "or empty folder: ganzoo models init DIR")
    try:
        root.mkdir(parents=True, exist_ok=True)
        mark_registry(root)
    except StorageError:
        raise
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise StorageError(f"could not create the registry at {root}: {exc.strerror or exc}{where}") from exc
    return root, True


def cache_dir() -> Path:
    """The caches every registry shares: ``$GANZOO_CACHE``, else the user cache folder."""
    if env := os.environ.get(CACHE_ENV):
        return _absolute(env)
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


# -- the names shell completion offers -------------------------------------------------------------


def catalog_key(entry_points: Iterable[importlib.metadata.EntryPoint] | None = None) -> str:
    """What the registered names depend on: every plugin entry point with its distribution's version,
    and ``$GANZOO_DISABLE_PLUGINS``. Reading it imports no plugin."""
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=PLUGIN_GROUP)
    plugins = sorted({(ep.name, ep.value, ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "")
                      for ep in entry_points})
    disabled = sorted({s.strip() for s in os.environ.get("GANZOO_DISABLE_PLUGINS", "").split(",") if s.strip()})
    ident = {"format": NAMES_FORMAT, "plugins": plugins, "disabled": disabled}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def write_catalog_names(names: Mapping[str, Mapping[str, str]], key: str) -> None:
    """Remember the registered names (kind -> name -> description) under ``key``, atomically.

    A cache: when it cannot be written the command goes on, and completion offers no names.
    """
    path = cache_dir() / NAMES_FILE
    body = {"key": key, "names": {kind: {n: str(d) for n, d in sorted(found.items())}
                                  for kind, found in sorted(names.items())}}
    data = (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()
    try:
        if path.is_file() and path.read_bytes() == data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except (OSError, GanzooError):
        pass


def read_catalog_names(key: str | None = None) -> dict[str, dict[str, str]]:
    """The remembered names, when they were written for the installed plugins (``key``, default: now);
    else nothing. Never raises."""
    try:
        body = json.loads((cache_dir() / NAMES_FILE).read_bytes())
        if not isinstance(body, dict) or body.get("key") != (key or catalog_key()):
            return {}
        names = body.get("names")
        if not isinstance(names, dict):
            return {}
        return {kind: {n: d for n, d in found.items() if isinstance(n, str) and isinstance(d, str)}
                for kind, found in names.items() if isinstance(kind, str) and isinstance(found, dict)}
    except (OSError, ValueError, RecursionError):
        return {}
