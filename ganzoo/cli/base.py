"""What every ``ganzoo`` command group shares: error handling, exit codes, the --registry option."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, NoReturn

import click

from ..errors import GanzooError

__all__ = ["CONTEXT", "Failure", "GanzooGroup", "device_option", "interrupted", "registry_option", "threads_option"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class GanzooGroup(click.Group):
    """Turns library and file-system errors into one clean line (exit 1) and Ctrl-C into exit 130."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["ganzoo.argv"] = list(args)  # the command line as typed: `train --nproc` relaunches it
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanzooError as exc:
            if os.environ.get("GANZOO_DEBUG") or (ctx.obj or {}).get("debug"):
                raise
            raise Failure(str(exc)) from None
        except OSError as exc:  # disk full, permissions, ... where no library call gave it a better message
            if os.environ.get("GANZOO_DEBUG") or (ctx.obj or {}).get("debug"):
                raise
            where = f": {exc.filename}" if exc.filename else ""
            raise Failure(f"{exc.strerror or exc}{where}") from None
        except KeyboardInterrupt as exc:
            interrupted(exc)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:  # Ctrl-C while the command line is read: click itself would say "Aborted!" and exit 1
            return super().make_context(info_name, args, parent=parent, **extra)
        except KeyboardInterrupt as exc:
            interrupted(exc)


def interrupted(exc: BaseException | None = None) -> NoReturn:
    """Ctrl-C: say so on stderr (how to resume, when a run was saved) and exit 130.

    This may run while a module (torch, a plugin) was half imported when Ctrl-C came, so it imports
    nothing and prints with click (plain text, like every message; see :mod:`ganzoo.cli.output`).
    """
    run_dir, step = getattr(exc, "run_dir", None), getattr(exc, "step", None)  # a TrainingInterrupted's
    if run_dir is not None and step is not None:
        command = getattr(exc, "resume_command", None) or f"ganzoo train --resume {shlex.quote(os.fspath(run_dir))}"
        click.echo(f"Interrupted after step {step}; the run is saved in {run_dir}.\nResume it with: {command}",
                   err=True)
    else:
        click.echo("Interrupted.", err=True)
    raise click.exceptions.Exit(130)


class Failure(click.ClickException):
    """A failed command: one ``Error: ...`` line, exit code 1."""

    exit_code = 1


def _set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and not ctx.resilient_parsing:  # never while completing a command line
        import torch

        torch.set_num_threads(value)
    return value


def threads_option(f: Any) -> Any:
    """``--threads N``: PyTorch's CPU threads for this command (applied as the command line is read)."""
    return click.option("--threads", type=click.IntRange(min=1), default=None, expose_value=False,
                        callback=_set_threads, metavar="N",
                        help="CPU threads for PyTorch [default: one per core]; on a shared machine 1 or 2 is "
                             "often much faster.")(f)


def device_option(f: Any) -> Any:
    return click.option("--device", default="auto", show_default=True,
                        help="auto, cpu, cuda, cuda:N or mps.")(f)


def registry_option(f: Any) -> Any:
    return click.option("--registry", "registry", type=click.Path(file_okay=False, path_type=Path),
                        default=None,
                        help="Model registry root [default: $GANZOO_REGISTRY, else the nearest registry/ folder made "
                             "by ganzoo in or above the current folder, else the one in the user data folder].")(f)
