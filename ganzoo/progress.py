"""Progress bars for long work outside training: downloads, feature classifiers, Inception features.

A rich bar on stderr when stderr is a terminal; silent otherwise, so piped output and logs
stay clean (training has its own per-step progress in :mod:`ganzoo.console`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["make_console", "progress"]


def make_console(stderr: bool = False) -> Any:
    """A rich Console that prints plain text: no markup, emoji codes or highlighting; no styles at all
    with ``NO_COLOR`` (rich's own support still writes bold and italic); soft-wrapped when piped."""
    from rich.console import Console

    plain = os.environ.get("NO_COLOR", "") != ""
    piped = not (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr, highlight=False, markup=False, emoji=False, soft_wrap=piped,
                   color_system=None if plain else "auto")


@contextlib.contextmanager
def progress(description: str, total: int | None, *, done: int = 0,
             transfer: bool = False) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``, which moves a bar of ``total`` units (bytes with ``transfer``) by ``n``.

    The bar is transient: it disappears once the work is done. ``GANZOO_PLAIN_PROGRESS``
    set (as for training) turns it off on a terminal too.
    """
    if not sys.stderr.isatty() or os.environ.get("GANZOO_PLAIN_PROGRESS"):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counts: tuple[ProgressColumn, ...] = ((DownloadColumn(), TransferSpeedColumn()) if transfer
                                          else (MofNCompleteColumn(), TimeElapsedColumn()))
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), *counts, TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, completed=done)
        yield lambda n: bar.advance(task, n)
