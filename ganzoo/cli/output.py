"""Terminal output shared by every command: rich tables on a terminal, plain text when piped, JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "print_json", "print_table"]


def _console(stderr: bool = False) -> Console:
    # highlight=False keeps numbers in plain text uncoloured. rich's own NO_COLOR support drops
    # colours but still writes bold and italic escapes; NO_COLOR users want plain text, so
    # with NO_COLOR set no colour system is used and no style escape is written at all.
    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(stderr=stderr, highlight=False, soft_wrap=not (sys.stderr if stderr else sys.stdout).isatty(),
                   color_system=None if plain else "auto")


console = _console()
err_console = _console(stderr=True)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines (with a header line) when piped."""
    out = _console()
    if out.is_terminal:
        table = Table(title=title, title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)
    else:
        sys.stdout.write(f"# {title}\n")
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join("" if v is None else str(v) for v in row) + "\n")
