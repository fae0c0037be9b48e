"""Live training progress: a rich bar on a terminal, a plain line per record when piped.

``ganzoo train`` and :func:`ganzoo.train` both show it. Images per second and the time left
come from one smoothed rate (an exponential average of the recent step rate), so the two always
agree. Notes, names and numbers are printed as plain text (no markup).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..progress import make_console
from .state import Callback, TrainState, metric_values

__all__ = ["ProgressCallback", "RateMeter"]


class RateMeter:
    """Steps per second, averaged exponentially over about ``horizon`` seconds of recent work.

    The first reading is the plain rate since the start; later ones weigh each new interval by
    ``1 - exp(-dt / horizon)``, so a machine that slows down (another job starts) shows it within
    a few seconds, and a short hiccup does not swing the estimate.
    """

    def __init__(self, horizon: float = 10.0) -> None:
        self.horizon = horizon
        self.rate: float | None = None
        self._t: float | None = None
        self._step = 0

    def start(self, step: int, now: float | None = None) -> None:
        self._t, self._step, self.rate = (time.perf_counter() if now is None else now), step, None

    def update(self, step: int, now: float | None = None) -> float | None:
        now = time.perf_counter() if now is None else now
        if self._t is None:
            self.start(step, now)
            return None
        dt = now - self._t
        if dt <= 0 or step <= self._step:
            return self.rate
        recent = (step - self._step) / dt
        weight = 1.0 if self.rate is None else 1.0 - math.exp(-dt / self.horizon)
        self.rate = recent if self.rate is None else self.rate + weight * (recent - self.rate)
        self._t, self._step = now, step
        return self.rate

    def remaining(self, step: int, total: int) -> float | None:
        """Seconds left at the smoothed rate; None before the first reading."""
        return None if not self.rate else max(total - step, 0) / self.rate


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ProgressCallback(Callback):
    """Live progress: step, D loss, G loss, mean D(x), mean D(G(z)), images/s and the time left.

    On a terminal a rich progress bar refreshes a few times a second; when output is
    piped (or ``GANZOO_PLAIN_PROGRESS`` is set), one plain line is printed every
    ``log_every`` steps instead.
    """

    def __init__(self, out: Console | None = None, refresh_seconds: float = 0.25) -> None:
        self.out = out or make_console(stderr=True)
        self.refresh_seconds = refresh_seconds
        self.progress: Progress | None = None
        self.task: Any = None
        self.meter = RateMeter()
        self._last = 0.0

    def _say(self, message: str) -> None:
        self.out.print(Text(message))

    def on_train_start(self, state: TrainState) -> None:
        self.meter.start(state.step)
        for note in state.notes:
            self._say(f"Note: {note}")
        if self.out.is_terminal and not os.environ.get("GANZOO_PLAIN_PROGRESS"):
            self.progress = Progress(
                TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}", markup=False), TimeElapsedColumn(),
                TextColumn("eta {task.fields[eta]}", markup=False),
                console=self.out, transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(f"{state.config.architecture} on {state.dataset.name}",
                                               total=state.config.steps, completed=state.step, stats="",
                                               eta=_clock(None))

    def _line(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> str:
        rate = self.meter.update(state.step) or 0.0
        images = rate * state.config.batch_size * state.config.d_steps
        m = metric_values(metrics)  # one wait for the device per refresh, not one per value
        return (f"D loss {m['d_loss']:.3f}  G loss {m['g_loss']:.3f}  D(x) {m['d_real']:.2f}  "
                f"D(G(z)) {m['d_fake']:.2f}  {images:,.0f} img/s")

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        last = state.step == state.config.steps
        if self.progress is not None:
            now = time.perf_counter()
            if now - self._last >= self.refresh_seconds or last:
                self._last = now
                stats = self._line(state, metrics)
                self.progress.update(self.task, completed=state.step, stats=stats,
                                     eta=_clock(self.meter.remaining(state.step, state.config.steps)))
        elif state.step % state.config.log_every == 0 or last:
            line = self._line(state, metrics)
            eta = _clock(self.meter.remaining(state.step, state.config.steps))
            self._say(f"step {state.step}/{state.config.steps}  {line}  eta {eta}")

    def on_train_end(self, state: TrainState) -> None:
        self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
