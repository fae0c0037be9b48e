"""Live training progress for ``ganzoo train``: a rich bar on a terminal, a plain line per record when piped.

Notes, names and numbers are printed as plain text (:func:`~ganzoo.cli.output.say`, columns without markup).
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..training.state import Callback, TrainState
from .output import err_console, say

__all__ = ["ProgressCallback"]


class ProgressCallback(Callback):
    """Live progress: step, D loss, G loss, mean D(x), mean D(G(z)) and images/s.

    On a terminal a rich progress bar refreshes a few times a second; when output is
    piped, one plain line is printed every ``log_every`` steps instead.
    """

    def __init__(self, out: Console | None = None, refresh_seconds: float = 0.25) -> None:
        self.out = out or err_console
        self.refresh_seconds = refresh_seconds
        self.progress: Progress | None = None
        self.task: Any = None
        self._last = 0.0
        self._t0 = 0.0
        self._step0 = 0

    def on_train_start(self, state: TrainState) -> None:
        self._t0 = time.perf_counter()
        self._step0 = state.step
        for note in state.notes:
            say(f"Note: {note}", out=self.out)
        if self.out.is_terminal and not os.environ.get("GANZOO_PLAIN_PROGRESS"):
            self.progress = Progress(
                TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}", markup=False), TimeElapsedColumn(), TextColumn("eta", markup=False),
                TimeRemainingColumn(),
                console=self.out, transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(f"{state.config.architecture} on {state.dataset.name}",
                                               total=state.config.steps, completed=state.step, stats="")

    def _line(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> str:
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        images = (state.step - self._step0) * state.config.batch_size * state.config.d_steps
        m = {k: float(v) for k, v in metrics.items()}
        return (f"D loss {m['d_loss']:.3f}  G loss {m['g_loss']:.3f}  D(x) {m['d_real']:.2f}  "
                f"D(G(z)) {m['d_fake']:.2f}  {images / elapsed:,.0f} img/s")

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        last = state.step == state.config.steps
        if self.progress is not None:
            now = time.perf_counter()
            if now - self._last >= self.refresh_seconds or last:
                self._last = now
                self.progress.update(self.task, completed=state.step, stats=self._line(state, metrics))
        elif state.step % state.config.log_every == 0 or last:
            say(f"step {state.step}/{state.config.steps}  {self._line(state, metrics)}", out=self.out)

    def on_train_end(self, state: TrainState) -> None:
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
