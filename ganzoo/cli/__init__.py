"""The ``ganzoo`` command line: one module per command group; each parses and prints, the library does the work.

Importing this package imports neither torch nor torchvision, so ``ganzoo --help``,
``ganzoo --version`` and shell completion answer at once; a command imports what it needs
when it runs.
"""

from __future__ import annotations

import sys

import click

from ..version import __version__
from .base import CONTEXT, GanzooGroup, interrupted
from .catalog import list_cmd, plugins_cmd
from .evaluate import eval_cmd
from .models import models_cmd
from .report import report_cmd
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


def main() -> None:
    try:
        cli(prog_name="ganzoo")
    except KeyboardInterrupt as exc:  # Ctrl-C where no command could catch it: exit 130 all the same
        try:
            interrupted(exc)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)


for command in (list_cmd, plugins_cmd, train_cmd, sample_cmd, eval_cmd, models_cmd, report_cmd):
    cli.add_command(command)
