"""What every ``ganzoo`` command group shares: error handling, exit codes, the --registry option."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ..errors import GanzooError

__all__ = ["CONTEXT", "Failure", "GanzooGroup", "registry_option"]

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
            from ..training.state import TrainingInterrupted

            if isinstance(exc, TrainingInterrupted) and exc.run_dir is not None:
                click.echo(f"Interrupted after step {exc.step}; the run is saved in {exc.run_dir}.\n"
                           f"Resume it with: ganzoo train --resume {exc.run_dir}", err=True)
            else:
                click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(130) from None


class Failure(click.ClickException):
    """A failed command: one ``Error: ...`` line, exit code 1."""

    exit_code = 1


def registry_option(f: Any) -> Any:
    return click.option("--registry", "registry", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="Model registry root [default: $GANZOO_REGISTRY or ./registry].")(f)
