"""Running a ``ganzoo train`` command from a benchmark script so that Ctrl-C keeps its progress.

``subprocess.run`` kills its child a quarter of a second after a Ctrl-C reaches the parent, but
the child got the same Ctrl-C (it is in the same process group) and is finishing its step and
writing its checkpoint. :func:`run_training` waits for it to do so, then lets the Ctrl-C through.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

__all__ = ["run_training"]


def run_training(command: Sequence[str], **popen: Any) -> None:
    """Run ``command`` to its end; raise CalledProcessError if it fails. On Ctrl-C, wait for the child to
    save and exit (a second Ctrl-C stops waiting), then raise KeyboardInterrupt."""
    with subprocess.Popen(list(command), **popen) as process:
        try:
            code = process.wait()
        except KeyboardInterrupt:
            try:
                process.wait()
            except KeyboardInterrupt:
                process.kill()
            raise
    if code:
        raise subprocess.CalledProcessError(code, list(command))
