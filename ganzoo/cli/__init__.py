"""The ``ganzoo`` command line: one module per command group; each parses and prints, the library does the work.

Importing this package imports neither torch nor torchvision, so ``ganzoo --help``,
``ganzoo --version`` and shell completion answer at once; a command imports what it needs
when it runs.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from ..errors import PluginWarning
from ..version import __version__
from .base import CONTEXT, GanzooGroup, interrupted
from .catalog import list_cmd, plugins_cmd
from .data import data_cmd
from .evaluate import eval_cmd
from .models import models_cmd
from .report import report_cmd
from .runs import runs_cmd
from .sample import sample_cmd
from .train import train_cmd

__all__ = ["cli", "main"]


@click.group(cls=GanzooGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="ganzoo")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """ganzoo: a plugin-based zoo of GANs with a local model registry.

    \b
    ganzoo list                      architectures, losses, datasets
    ganzoo train dcgan               train DCGAN on the bundled digits
    ganzoo sample dcgan-digits       draw samples from a stored model
    ganzoo models                    what the registry holds
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _announce_plugin_failures(ctx)


def _announce_plugin_failures(ctx: click.Context) -> None:
    """Plugins that failed to load are named in one line on stderr by every command (``ganzoo plugins``
    shows them in its table instead); other warnings are shown as Python shows them."""
    ctx.with_resource(warnings.catch_warnings())  # restored when the command ends
    warnings.simplefilter("always", PluginWarning)
    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if not issubclass(category, PluginWarning):
            shown(message, category, filename, lineno, file, line)
        elif ctx.invoked_subcommand != "plugins":
            click.echo(f"Warning: {message}", err=True)

    warnings.showwarning = show


def main() -> None:
    try:
        cli(prog_name="ganzoo")
    except KeyboardInterrupt as exc:  # Ctrl-C where no command could catch it: exit 130 all the same
        try:
            interrupted(exc)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)


for command in (list_cmd, plugins_cmd, train_cmd, sample_cmd, eval_cmd, models_cmd, runs_cmd, data_cmd,
                report_cmd):
    cli.add_command(command)
