"""The run folder as training goes: ``metrics.jsonl``, sample grids, TensorBoard events, ``config.json``.

:class:`RunLogger` is an ordinary :class:`~ganzoo.Callback`; ``ganzoo train`` adds one, and
from Python ``fit(config, callbacks=[RunLogger(run_dir)])`` does the same. The folder's
layout is described in :mod:`ganzoo.training.runfolder`.

A line of ``metrics.jsonl`` holds ``step``, ``d_loss``, ``g_loss``, ``d_real`` (mean
D(x)), ``d_fake`` (mean D(G(z))), ``images_per_s`` (real images through D per second
since the previous line), ``seconds`` (training time so far) and, at steps where an
:class:`~ganzoo.evaluation.callback.EvalCallback` evaluated, ``eval``: ``{"<metric set>": {...},
"protocol": {...}}``. Each line is written whole and flushed; a reader skips a torn last
line. JSON only: nothing here is ever unpickled.

Resuming: the log describes the run as it continues. Records and grids from after the
step the run restarts from (written before a crash, then recomputed) are dropped, the
rest is kept and new lines are appended, so every step appears once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, StorageError
from ..fileio import json_safe, write_atomic
from ..rendering import grid_columns, grid_size, png_bytes, reference_points, render_samples
from ..sampling import evaluating
from .runfolder import METRICS, SAMPLES, STATUS, grid_steps, metric_lines, write_run_config
from .runs import hold_run_lock, write_status
from .state import Callback, TrainingDiverged, TrainingInterrupted, TrainState, metric_values

__all__ = ["DEFAULT_SAMPLE_EVERY", "RunLogger", "summary_writer_class"]

DEFAULT_SAMPLE_EVERY = 500
TENSORBOARD_HINT = "pip install 'ganzoo[tensorboard]'"


class RunLogger(Callback):
    """Writes ``config.json``, ``metrics.jsonl`` and sample grids into ``run_dir``.

    ``sample_every``: steps between grids (0: only at the last step). ``evaluator``: an
    :class:`~ganzoo.evaluation.EvalCallback` whose results go into the lines of the steps
    they were computed at (it may be in the callback list as well; it evaluates once per
    step either way). ``tensorboard``: also write TensorBoard events (needs the
    ``tensorboard`` extra), the same scalars and grids.
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, sample_every: int = DEFAULT_SAMPLE_EVERY,
                 evaluator: Any = None, tensorboard: bool = False) -> None:
        if not isinstance(sample_every, int) or isinstance(sample_every, bool) or sample_every < 0:
            raise ConfigError(f"sample_every must be 0 (only at the end) or a positive number of steps, "
                              f"got {sample_every!r}")
        self.run_dir = Path(run_dir)
        self.sample_every = sample_every
        self.evaluator = evaluator
        self._writer_class = summary_writer_class() if tensorboard else None  # refused now, not after training
        self._writer: Any = None
        self._file: Any = None
        self._state: TrainState | None = None
        self._last = (0, 0.0)  # (step, seconds) of the previous line, for images/s

    # -- callback hooks ----------------------------------------------------------------------
    def on_train_start(self, state: TrainState) -> None:
        try:
            (self.run_dir / SAMPLES).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"could not create the run folder {self.run_dir}: {exc.strerror or exc}") from exc
        state.logging.update(sample_every=self.sample_every,
                             logger="tensorboard" if self._writer_class is not None else "files",
                             eval_every=getattr(self.evaluator, "every", 0))
        write_run_config(state, self.run_dir)
        self._truncate_after(state.step)
        self._file = open(self.run_dir / METRICS, "a", encoding="utf-8")  # closed by close()
        hold_run_lock(self._file)  # `ganzoo runs` shows the run as running while the file is open
        (self.run_dir / STATUS).unlink(missing_ok=True)  # how an earlier attempt ended no longer holds
        self._state = state
        self._last = (state.step, state.seconds)
        if self._writer_class is not None:
            # purge_step: TensorBoard hides events of an earlier attempt at the steps now redone
            purge = state.step + 1 if state.step else None
            self._writer = self._writer_class(log_dir=str(self.run_dir), purge_step=purge)

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        evaluation = self._evaluation(state, metrics)
        logged = state.history[-1] if state.history and state.history[-1].get("step") == state.step else None
        if logged is not None or evaluation is not None:
            self.write(self._record(state, metrics, logged, evaluation))
        last = state.step == state.config.steps
        if last or (self.sample_every and state.step % self.sample_every == 0):
            self.save_grid(state)

    def on_train_end(self, state: TrainState) -> None:
        self._ended("finished", state.step)
        self.close()

    def on_interrupt(self, state: TrainState) -> None:
        self.save_grid(state)  # what the run looked like where it stopped
        self.close()

    def on_exception(self, error: TrainingDiverged | TrainingInterrupted) -> None:
        if self._state is not None:
            if isinstance(error, TrainingInterrupted):
                self._ended("interrupted", error.step)
            else:
                self._ended("diverged", self._state.step, str(error))
        self.close()

    # -- the pieces ------------------------------------------------------------------------------
    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a JSON line, flushed, and to TensorBoard if enabled."""
        if self._file is None:
            raise ConfigError("RunLogger.write before on_train_start: pass the logger to fit(callbacks=[...])")
        self._file.write(json.dumps(json_safe(record), allow_nan=False) + "\n")
        self._file.flush()
        if self._writer is not None:
            for tag, value in _scalars(record):
                self._writer.add_scalar(tag, value, record["step"])
            self._writer.flush()

    @torch.no_grad()
    def save_grid(self, state: TrainState) -> Path:
        """Draw the fixed latent through the generator (its EMA when there is one) into ``samples/``."""
        g = state.ema.module if state.ema is not None else state.generator
        with evaluating(g):  # running BatchNorm statistics; no random state of the run is touched
            samples = g(state.fixed_z, state.fixed_labels).float()
        samples = samples[: grid_size(state.spec.num_classes, len(samples))]  # whole rows of classes
        image = render_samples(samples, nrow=grid_columns(state.spec.num_classes),
                               reference=reference_points(state.dataset))
        path = self.run_dir / SAMPLES / f"step-{state.step:06d}.png"
        write_atomic(path, png_bytes(image))
        if samples.dim() == 2 and samples.shape[1] == 2:  # 2-D points: kept as numbers too, for the report
            points = {"step": state.step, "points": json_safe(samples.cpu().tolist())}
            write_atomic(path.with_suffix(".json"), json.dumps(points, allow_nan=False).encode())
        if self._writer is not None:
            self._writer.add_image("samples", image, state.step)
            self._writer.flush()
        return path

    def _ended(self, status: str, step: int, message: str = "") -> None:
        try:
            write_status(self.run_dir, status, step, message)
        except OSError:
            pass  # a convenience for `ganzoo runs`: never a reason to fail the run or hide its error

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _evaluation(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> dict[str, Any] | None:
        ev = self.evaluator
        if ev is None:
            return None
        ev.on_step_end(state, metrics)  # a no-op if it already ran for this step
        if not ev.records or ev.records[-1].get("step") != state.step:
            return None
        results = {k: v for k, v in ev.records[-1].items() if k != "step"}
        protocol = next(iter(ev.protocol.values()), None) if ev.protocol else None
        return {**results, "protocol": protocol} if protocol is not None else results

    def _record(self, state: TrainState, metrics: dict[str, torch.Tensor], logged: dict[str, float] | None,
                evaluation: dict[str, Any] | None) -> dict[str, Any]:
        if logged is not None:
            record: dict[str, Any] = dict(logged)
        else:  # an evaluation between two metric records
            record = {"step": state.step, **metric_values(metrics), "seconds": state.seconds}
        step, seconds = record["step"], float(record.get("seconds", state.seconds))
        images = (step - self._last[0]) * state.config.batch_size * state.config.d_steps
        elapsed = seconds - self._last[1]
        record["images_per_s"] = images / elapsed if elapsed > 0 else None
        self._last = (step, seconds)
        if evaluation is not None:
            record["eval"] = evaluation
        return record

    def _truncate_after(self, step: int) -> None:
        """Keep what happened up to ``step`` (the step the run starts from); drop the rest."""
        path = self.run_dir / METRICS
        if path.exists():
            raw = path.read_bytes()
            kept = [line for line, record in metric_lines(path) if record["step"] <= step]
            if len(kept) != len(raw.splitlines()) or (raw and not raw.endswith(b"\n")):
                write_atomic(path, "".join(line + "\n" for line in kept).encode())
        for grid_step, grid in grid_steps(self.run_dir):
            if grid_step > step:
                grid.unlink(missing_ok=True)
                grid.with_suffix(".json").unlink(missing_ok=True)


def summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or a ConfigError saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ConfigError(f"--logger tensorboard needs the tensorboard package, which is not installed: "
                          f"{TENSORBOARD_HINT}") from exc
    return SummaryWriter


def _scalars(record: dict[str, Any]) -> Iterator[tuple[str, float]]:
    for key, value in record.items():
        if key not in ("step", "eval") and isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"train/{key}", float(value)
    for name, results in (record.get("eval") or {}).items():
        if name != "protocol" and isinstance(results, dict):
            for key, value in results.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    yield f"eval/{name}/{key}", float(value)
