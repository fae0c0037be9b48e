"""Shell completion: registered names, stored model references and run folders, at once.

Completion runs on every Tab, so nothing here imports torch, a plugin or ``ganzoo.registry``
(whose package imports torch):

- Registered names (architectures, losses, datasets, augmentations) come from the name cache
  that every command loading the plugin catalog writes (:func:`ganzoo.locations.write_catalog_names`).
  It is used only while its key, the installed ``ganzoo`` entry points and their distributions'
  versions, matches; after a plugin is installed, removed or upgraded no names are offered until a
  command such as ``ganzoo list`` has loaded the catalog once.
- Stored references (``name``, ``name:VERSION``, ``name@ALIAS``) are read, read-only, from the
  ``index.sqlite`` of the registry the command would use (its ``--registry`` when typed before
  the reference). Typing a name offers its versions and aliases too.
- Run folders complete as folders, by the shell.

Whatever goes wrong (no cache, a locked or damaged index) offers nothing; completion never fails.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from ..locations import read_catalog_names, registry_location

__all__ = [
    "complete_architectures",
    "complete_augmentations",
    "complete_datasets",
    "complete_losses",
    "complete_model_refs",
    "complete_run_folders",
    "stored_references",
]

INDEX_TIMEOUT_S = 0.5  # a publisher holding the index's lock makes completion offer nothing, not wait


def _matching(found: Mapping[str, str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(name, help=help or None) for name, help in sorted(found.items())
            if name.startswith(incomplete)]


def _registered(kind: str, incomplete: str) -> list[CompletionItem]:
    if ":" in incomplete:  # NAME:KEY=VALUE options: nothing to offer
        return []
    return _matching(read_catalog_names().get(kind, {}), incomplete)


def complete_architectures(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Registered architecture names."""
    return _registered("architectures", incomplete)


def complete_losses(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Registered loss names (options after ``:`` are left to the user)."""
    return _registered("losses", incomplete)


def complete_datasets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Registered dataset names."""
    return _registered("datasets", incomplete)


def complete_augmentations(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Registered augmentation names (options after ``:`` are left to the user)."""
    return _registered("augmentations", incomplete)


def complete_run_folders(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Folders, completed by the shell."""
    return [CompletionItem(incomplete, type="dir")]


def complete_model_refs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Stored model references of the registry the command would use; paths where one is being typed."""
    if incomplete.startswith((".", "/", "~")) or "/" in incomplete or incomplete.endswith(".safetensors"):
        return [CompletionItem(incomplete, type="file")]  # a weight file: `ganzoo sample path/to/g.safetensors`
    refs = stored_references(_registry_root(ctx))
    names = [ref for ref in refs if ":" not in ref and "@" not in ref]
    if ":" in incomplete or "@" in incomplete:
        wanted = [ref for ref in refs if ref.startswith(incomplete)]
    else:
        matching = [name for name in names if name.startswith(incomplete)]
        expand = {name for name in matching if name == incomplete or len(matching) == 1}
        wanted = [ref for ref in refs if ref in matching or ref.split(":")[0].split("@")[0] in expand]
    return [CompletionItem(ref, help=refs[ref]) for ref in wanted]


def _registry_root(ctx: click.Context) -> Path | None:
    """The root the command would use: a ``--registry`` typed on it or its group, else the usual lookup."""
    given = None
    scope: click.Context | None = ctx
    while scope is not None and given is None:
        given = scope.params.get("registry")
        scope = scope.parent
    try:
        return registry_location(given).path
    except (OSError, ValueError, RuntimeError):
        return None


def stored_references(root: Path | None) -> dict[str, str]:
    """``ref -> description`` for every name, ``name:VERSION`` and ``name@ALIAS`` in ``root/index.sqlite``:
    names first, each followed by its versions and aliases. Empty when there is no readable index."""
    if root is None:
        return {}
    index = root / "index.sqlite"
    try:
        if not index.is_file():
            return {}
        uri = index.resolve().as_uri() + "?mode=ro"  # never creates, never writes
        with closing(sqlite3.connect(uri, uri=True, timeout=INDEX_TIMEOUT_S)) as conn:
            # the tables of ganzoo.registry.index, read here without importing the registry package
            versions = conn.execute("SELECT name, version, architecture, dataset, steps FROM models "
                                    "ORDER BY name, version").fetchall()
            aliases = conn.execute("SELECT name, alias, version FROM aliases ORDER BY name, alias").fetchall()
    except (sqlite3.Error, OSError, ValueError):
        return {}
    per_name: dict[str, list[tuple[str, str]]] = {}
    for name, version, architecture, dataset, steps in versions:
        per_name.setdefault(str(name), []).append((f"{name}:{version}", f"{architecture} on {dataset}, {steps} steps"))
    for name, alias, version in aliases:
        if str(name) in per_name:
            per_name[str(name)].append((f"{name}@{alias}", f"-> {name}:{version}"))
    refs: dict[str, str] = {}
    for name, entries in sorted(per_name.items()):
        count = sum(1 for ref, _ in entries if ":" in ref)
        refs[name] = f"{count} version{'s' if count != 1 else ''}"
        refs.update(entries)
    return refs
