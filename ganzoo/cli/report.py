"""``ganzoo report``: one self-contained HTML page about a training run, or several compared."""

from __future__ import annotations

from pathlib import Path

import click

from .base import CONTEXT
from .complete import complete_run_folders

__all__ = ["report_cmd"]


@click.command("report", context_settings=CONTEXT)
@click.argument("run_dirs", metavar="RUN...", nargs=-1, required=True, type=click.Path(path_type=Path),
                shell_complete=complete_run_folders)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file [default: RUN/report.html; ./compare.html for several runs].")
def report_cmd(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Write one self-contained HTML page about the run in RUN, or several runs on the same axes."""
    from ..report import write_report
    from .output import say

    say(f"Report: {write_report(list(run_dirs), out)}")
