"""``ganzoo data``: the cache of decoded image folders (cache, clear). It only parses and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .base import GanzooGroup

__all__ = ["data_cmd"]


@click.group("data", cls=GanzooGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def data_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the cached image folders (subcommands: cache, clear)."""
    if ctx.invoked_subcommand is None:
        _show(as_json)


@data_cmd.command("cache")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def data_cache(as_json: bool) -> None:
    """List the cached image folders: images, shape, size on disk, when cached."""
    _show(as_json)


def _row(entry: Any) -> dict[str, Any]:
    header = entry.header
    if header is None:
        return {"folder": None, "image_size": None, "images": None, "shape": None, "bytes": entry.size,
                "created": None, "status": f"unusable: {entry.problem}", "path": str(entry.path)}
    status = "ok" if Path(header.folder).is_dir() else "folder gone"
    return {"folder": header.folder, "image_size": header.image_size, "images": header.shape[0],
            "shape": list(header.shape[1:]), "bytes": entry.size, "created": header.created, "status": status,
            "path": str(entry.path)}


def _show(as_json: bool) -> None:
    from ..data.cache import cache_folder, list_caches
    from ..fileio import format_bytes
    from .output import print_json, print_table, say

    rows = [_row(e) for e in list_caches()]
    if as_json:
        print_json(rows)
        return
    where = cache_folder()
    if not rows:
        say(f"No cached image folders in {where}. A folder is cached the first time it is loaded "
            "(ganzoo train dcgan --dataset folder --data-dir DIR).")
        return
    print_table(f"Cached image folders in {where}", ["folder", "image size", "images", "shape", "on disk", "created",
                                                    "status"],
                [[r["folder"] or Path(r["path"]).name, r["image_size"] or "native",
                  "" if r["images"] is None else f"{r['images']:,}",
                  "" if r["shape"] is None else "x".join(map(str, r["shape"])), format_bytes(r["bytes"]),
                  r["created"] or "", r["status"]] for r in rows])
    total = sum(r["bytes"] for r in rows)
    say(f"{len(rows)} file(s), {format_bytes(total)}. Remove them with: ganzoo data clear [FOLDER]")


@data_cmd.command("clear")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def data_clear(folder: Path | None, yes: bool) -> None:
    """Remove the cached images of FOLDER, or the whole cache; the images stay.

    FOLDER's cache at every --image-size goes; without FOLDER, every file in the cache folder.

    \b
    ganzoo data clear ~/pictures/faces     the cache of one folder
    ganzoo data clear --yes                everything, without asking
    """
    from ..data.cache import cache_folder, caches_of, clear_caches, list_caches
    from ..fileio import format_bytes
    from .output import say

    where = cache_folder()
    entries = list_caches()
    chosen = caches_of(folder, entries) if folder is not None else entries
    if not chosen:
        clear_caches([], leftovers=True)
        say(f"The cache {where} is empty.")
        return
    size = format_bytes(sum(e.size for e in chosen))
    what = f"the cached images of {chosen[0].header.folder}" if folder is not None and chosen[0].header else \
        f"{len(chosen)} cached image folder(s)"
    if not yes:
        click.confirm(f"Remove {what} ({size}, {len(chosen)} file(s) in {where})?", abort=True)
    removed = clear_caches(chosen, leftovers=folder is None)
    say(f"Removed {what}: {len(removed)} file(s), {format_bytes(sum(e.size for e in removed))}. "
        "The next load decodes the images again.")
