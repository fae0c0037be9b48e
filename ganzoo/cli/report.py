"""``ganzoo report``: one self-contained HTML page about a training run."""

from __future__ import annotations

from pathlib import Path

import click

from .base import CONTEXT

__all__ = ["report_cmd"]


@click.command("report", context_settings=CONTEXT)
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file [default: RUN/report.html].")
def report_cmd(run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML page about the training run in RUN: curves, grids, metrics, config."""
    from ..report import write_report
    from .output import say

    say(f"Report: {write_report(run_dir, out)}")
