"""``ganzoo runs``: the run folders and how each stands; ``ganzoo runs rm`` removes one. It only parses and prints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from .base import CONTEXT, GanzooGroup
from .complete import complete_run_folders

__all__ = ["runs_cmd"]

DEFAULT_ROOT = Path("runs")


def _root_option(f: Any) -> Any:
    return click.option("--root", "root", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
                        help="The folder that holds the run folders [default: ./runs].")(f)


class _RunsGroup(GanzooGroup):
    """``ganzoo runs DIR`` is a natural slip for ``ganzoo runs --root DIR``: say so instead of "No such command"."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        if args and self.get_command(ctx, args[0]) is None and Path(args[0]).is_dir():
            raise click.UsageError(f"{args[0]!r} is a folder, not a subcommand of 'ganzoo runs'; to list the runs "
                                   f"in it, pass it with --root: ganzoo runs --root {args[0]}", ctx)
        return super().resolve_command(ctx, args)


@click.group("runs", cls=_RunsGroup, invoke_without_command=True, context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_root_option
@click.pass_context
def runs_cmd(ctx: click.Context, as_json: bool, root: Path | None) -> None:
    """List the training runs in ./runs (or --root DIR): status, steps, last metrics (subcommand: rm)."""
    ctx.ensure_object(dict)
    ctx.obj["runs_root"] = root
    if ctx.invoked_subcommand is None:
        _list_runs(root, as_json)


def _list_runs(root: Path | None, as_json: bool) -> None:
    from ..training.runs import list_runs
    from .output import print_json, print_table, say

    if root is None and not DEFAULT_ROOT.exists():  # nothing trained here yet: not a mistake
        if as_json:
            print_json([])
        else:
            say(f"No run folders in {DEFAULT_ROOT}. Train one with: ganzoo train dcgan")
        return
    listing = list_runs(root if root is not None else DEFAULT_ROOT)
    if as_json:
        print_json([run.to_dict() for run in listing.runs])
    elif not listing.runs:
        say(f"No run folders in {listing.root}. Train one with: ganzoo train dcgan")
    else:
        now = time.time()
        rows = []
        for run in listing.runs:
            headline = run.headline()
            rows.append([run.name, run.architecture, run.dataset, run.loss, f"{run.step}/{run.steps}",
                         _num(run.metrics.get("d_loss")), _num(run.metrics.get("g_loss")),
                         f"{headline[0]} {_num(headline[1])}" if headline else "", run.status,
                         _age(now - run.updated)])
        print_table(f"Runs in {listing.root}", ["run", "architecture", "dataset", "loss", "steps", "D loss",
                                                 "G loss", "last evaluation", "status", "age"], rows)
    for skipped in listing.skipped:
        say(f"Skipped: {skipped.reason}", err=True)


@runs_cmd.command("rm")
@click.argument("run", metavar="RUN", shell_complete=complete_run_folders)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_root_option
@click.pass_context
def runs_rm(ctx: click.Context, run: str, yes: bool, root: Path | None) -> None:
    """Remove the run folder RUN (a path, or a name that `ganzoo runs` lists) and everything in it."""
    from ..training.runs import find_run, removable_run, remove_run
    from .output import say

    path = find_run(run, root or (ctx.obj or {}).get("runs_root") or DEFAULT_ROOT)
    info = removable_run(path)  # refused, with the reason, before any question
    if not yes:
        click.confirm(f"Remove the run folder {path} ({info.status}, step {info.step}/{info.steps}) and "
                      "everything in it?", abort=True)
    remove_run(path)
    say(f"Removed {path}")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _age(seconds: float) -> str:
    """How long ago, in the largest unit that fits: 40 s, 12 min, 5 h, 3 d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"
