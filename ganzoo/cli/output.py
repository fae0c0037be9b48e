"""Terminal output shared by every command: rich tables on a terminal, plain text when piped, JSON.

Everything is printed as plain text: paths, refs and names may hold ``[``, ``]`` or ``:``, which
rich would read as markup or emoji codes (a stray ``[/]`` even raises). The consoles here have
markup and emoji codes off, :func:`say` prints a message as :class:`rich.text.Text` (plain on any
console), and table cells and titles are ``Text`` too. Styles are given as ``style=``, never as markup.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..progress import make_console

__all__ = ["console", "err_console", "print_json", "print_table", "say"]


console = make_console()
err_console = make_console(stderr=True)


def say(message: str, *, err: bool = False, out: Console | None = None, style: str = "") -> None:
    """Print one message exactly as given (no markup, emoji codes or highlighting): on stdout, on stderr
    with ``err``, or on ``out``; in ``style`` (e.g. "dim") where the console shows styles."""
    (out or (err_console if err else console)).print(Text(message, style=style))


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()  # out before any error that follows on stderr


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-separated lines (with a header line) when piped."""
    out = make_console()
    if out.is_terminal:
        table = Table(title=Text(title, style="table.title"), title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")  # the command's own words
        for row in rows:
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        out.print(table)
    else:
        sys.stdout.write(f"# {title}\n")
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join("" if v is None else str(v) for v in row) + "\n")
        sys.stdout.flush()  # out before any error that follows on stderr
