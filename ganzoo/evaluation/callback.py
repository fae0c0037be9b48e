"""Evaluation during training: a callback that scores the generator every N steps (``--eval-every``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..data import Dataset
from ..data.loading import load_dataset
from ..errors import ConfigError
from ..training.batchnorm import recalibrate_for_sampling
from ..training.state import Callback, TrainState
from .protocols import evaluate

__all__ = ["EvalCallback"]


class EvalCallback(Callback):
    """Evaluates the generator every ``every`` steps during training (``ganzoo train --eval-every N``).

    The averaged (EMA) generator is scored when there is one, as a copy whose BatchNorm
    statistics are recomputed for its weights (as at the end of training). Records are kept in
    ``records`` (``{"step": ..., "<set>": {...}}``) and passed to ``report`` as they come.
    Evaluation draws from its own seeded generators, so training's random streams (and
    exact resume) are unaffected. A run on a ``--subset`` is scored against the whole training
    split, as ``ganzoo eval`` scores it. Feature classifiers are cached in ``cache`` (default: the user
    cache folder every registry shares).
    """

    def __init__(self, every: int, *, samples: int | None = None,
                 report: Callable[[dict[str, Any]], None] | None = None, cache: Path | None = None) -> None:
        if every < 1:
            raise ConfigError(f"--eval-every must be a positive number of steps, got {every}")
        self.every, self.samples, self.report = every, samples, report
        self.cache = Path(cache) if cache is not None else None
        self.records: list[dict[str, Any]] = []
        self.protocol: dict[str, Any] = {}
        self._full: Dataset | None = None  # the whole training split of a run on a subset

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        if state.step % self.every or (self.records and self.records[-1]["step"] == state.step):
            return  # not an evaluation step, or already evaluated (a RunLogger may have asked first)
        # score what a run stopped here would hand back: a copy with its BatchNorm statistics recomputed
        generator = copy.deepcopy(state.ema.module if state.ema is not None else state.generator)
        recalibrate_for_sampling(generator, state.dataset, state.config)
        name, results = evaluate(generator.eval(), self._reference(state), samples=self.samples, seed=0,
                                 cache=self.cache)
        self.protocol = {name: results.pop("protocol", {})}
        record = {"step": state.step, name: results}
        self.records.append(record)
        if self.report is not None:
            self.report(record)

    def _reference(self, state: TrainState) -> Dataset:
        """The data ``ganzoo eval`` would score against: the whole training split, also for a run on a subset."""
        if state.config.subset is None:
            return state.dataset
        if self._full is None:
            config = state.config
            self._full = load_dataset(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
        return self._full
