"""What a run exposes to the code around it: the live state, the callback interface, the result, and how runs stop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..augment import Augmentation
from ..data import Dataset, TensorSampler
from ..errors import GanzooError
from ..losses import Loss
from ..models import Discriminator, Generator, ModelSpec
from .config import TrainConfig

__all__ = ["Callback", "TrainResult", "TrainState", "TrainingDiverged", "TrainingInterrupted", "metric_values"]


class TrainingDiverged(GanzooError, FloatingPointError):
    """A loss or a gradient became NaN or infinite; the optimizer step was not taken.

    A :class:`~ganzoo.training.checkpoint.Checkpointer` sets ``run_dir`` and ``checkpoint_step``
    to the last good checkpoint it kept, and the message then names it.
    """

    run_dir: Path | None = None
    checkpoint_step: int | None = None

    def __str__(self) -> str:
        message = super().__str__()
        if self.run_dir is not None:
            message += f" The last good checkpoint (step {self.checkpoint_step}) is kept in {self.run_dir}."
        return message


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run after a complete step; callbacks saved what they save."""

    def __init__(self, step: int, run_dir: Path | None = None) -> None:
        super().__init__(f"interrupted after step {step}")
        self.step = step  # the last completed generator step
        self.run_dir = run_dir  # where the run was checkpointed, if anywhere
        self.resume_command: str | None = None  # the command that continues it, when the caller knows better


@dataclass
class TrainState:
    """What callbacks see: the live objects of a run."""

    config: TrainConfig
    spec: ModelSpec
    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    ema: Any  # timm ModelEmaV3 wrapper; the averaged generator is ``ema.module``
    loss: Loss
    device: torch.device
    fixed_z: torch.Tensor  # the latent every progress grid is drawn from
    fixed_labels: torch.Tensor | None
    step: int = 0  # generator steps completed
    opt_g: torch.optim.Optimizer | None = None
    opt_d: torch.optim.Optimizer | None = None
    sampler: TensorSampler | None = None  # the real-data batches, with their random state
    history: list[dict[str, float]] = field(default_factory=list)  # the metric records so far
    notes: list[str] = field(default_factory=list)  # what a user should know about this run (shown at start)
    seconds: float = 0.0  # training time before this process (a resumed run's earlier part)
    loss_name: str = ""  # the loss actually used: config.loss, or the architecture's default
    # how the run folder is kept (grid cadence, logger, evaluation), set by the callbacks that keep it;
    # stored in config.json under "logging" so that ``--resume`` keeps them
    logging: dict[str, Any] = field(default_factory=dict)
    augmentation: Augmentation | None = None  # what D's inputs pass through (``augment``), with its state
    augment_rng: torch.Generator | None = None  # the augmentation's random numbers, on the training device
    parent: dict[str, str] | None = None  # the stored model the run started from (``init_from``), if any
    guard: Any = None  # how NaN/inf updates are caught (ganzoo.training.guard), set by fit

    def raise_if_diverged(self) -> None:
        """Raise :class:`TrainingDiverged` if an update since the last check was not applied.

        With deferred NaN checks (``nan_check``) a bad update is found on the device and reported
        at the steps the loop knows something is written (metrics, checkpoints, grids, evaluations,
        the end); a callback that saves the run at other steps calls this first. Otherwise a no-op.
        """
        if self.guard is not None:
            self.guard.read(self)


def metric_values(metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Scalar metric tensors as floats, read from the device in one transfer (one wait, not one per value)."""
    if not metrics:
        return {}
    values = [v.detach().float().reshape(()) for v in metrics.values()]
    device = values[0].device
    return dict(zip(metrics, torch.stack([v.to(device) for v in values]).tolist(), strict=True))


class Callback:
    """Hooks into a run. Override what you need; every method is optional.

    In a multi-process run only rank 0 calls a callback, unless its class sets ``all_ranks = True``.
    """

    all_ranks: bool = False  # also run on ranks other than 0 (e.g. to observe every process's slice)

    def on_train_start(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        """After each generator step; ``metrics`` are detached scalar tensors."""

    def on_train_end(self, state: TrainState) -> None: ...

    def on_interrupt(self, state: TrainState) -> None:
        """After a complete step, when Ctrl-C asked the run to stop (e.g. save a checkpoint)."""

    def on_exception(self, error: TrainingDiverged | TrainingInterrupted) -> None:
        """When the run ends by divergence or interruption, before the error reaches the caller
        (e.g. name the checkpoint that was kept: ``error.run_dir``, ``error.checkpoint_step``)."""


@dataclass
class TrainResult:
    config: TrainConfig
    spec: ModelSpec
    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    ema_generator: Generator | None  # BatchNorm statistics recalibrated for the averaged weights
    history: list[dict[str, float]]  # one record per ``log_every`` steps
    steps: int
    seconds: float
    loss_name: str = ""  # the loss actually used: config.loss, or the architecture's default
    started_at: int = 0  # the step the run continued from (0 for a new run)
    parent: dict[str, str] | None = None  # the stored model the run started from: {"ref": name:version, ...}

    @property
    def best_generator(self) -> Generator:
        """The generator to sample from: the EMA one when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def dataset_info(self) -> dict[str, Any]:
        return self.dataset.info()
