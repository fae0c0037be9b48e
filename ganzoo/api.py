"""The Python facade: train, publish, load, generate, evaluate. Nothing inside ganzoo imports it.

>>> result = ganzoo.train("gan", "ring8", steps=100)          # doctest: +SKIP
>>> record = ganzoo.publish(result)                           # doctest: +SKIP
>>> g = ganzoo.load(record.ref)                               # doctest: +SKIP
>>> x = ganzoo.generate(g, 64, seed=0)                        # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

import torch

from .evaluation.stored import evaluate_stored
from .models import Generator
from .registry import Registry, load_generator
from .sampling import generate
from .training.checkpoint import Checkpointer
from .training.config import TrainConfig
from .training.loop import fit
from .training.options import architecture_train_defaults
from .training.progress import ProgressCallback
from .training.publish import default_model_name, publish
from .training.state import Callback, TrainResult

__all__ = ["default_model_name", "evaluate", "generate", "load", "publish", "train"]


def train(architecture: str = "dcgan", dataset: str = "digits", *, callbacks: Iterable[Callback] = (),
          run_dir: str | os.PathLike[str] | None = None, progress: bool | None = None,
          registry: Registry | str | os.PathLike[str] | None = None, **options: Any) -> TrainResult:
    """Train ``architecture`` on ``dataset``; ``options`` are :class:`TrainConfig` fields.

    With ``run_dir`` the run is checkpointed there (``checkpoint_every=N``, the last step,
    and on Ctrl-C); ``fit(config, resume_from=run_dir)`` continues it. ``progress`` shows a
    progress bar on stderr: by default only when stderr is a terminal; ``False`` never.
    ``init_from="name:3"`` starts from a stored model's weights, read from ``registry``.
    The architecture's own ``train_defaults`` (e.g. resnet's ``d_steps=5``) apply to the
    options not given here.
    """
    own = architecture_train_defaults(architecture)
    config = TrainConfig(architecture=architecture, dataset=dataset, **{**own, **options})
    extra: list[Callback] = [Checkpointer(run_dir, config.checkpoint_every)] if run_dir is not None else []
    if progress or (progress is None and sys.stderr.isatty()):
        extra.insert(0, ProgressCallback())
    return fit(config, callbacks=[*callbacks, *extra], registry=registry)


def load(ref: str | os.PathLike[str], *, registry: Registry | str | os.PathLike[str] | None = None,
         ema: bool = True, device: str | torch.device = "cpu") -> Generator:
    """Load a generator from the registry (``name``, ``name:3``, ``name@alias``) or a ``.safetensors`` file."""
    return load_generator(ref, registry=registry, ema=ema, device=device)


def evaluate(ref: str | os.PathLike[str], *, registry: Any = None, samples: int | None = None, seed: int = 0,
             data_dir: str | None = None, save: bool = True, inception: bool = False,
             split: str = "train", device: str | torch.device = "cpu") -> tuple[str, dict[str, Any]]:
    """Evaluate a stored model on the dataset it was trained on; returns ``(metric set, results)``.

    See :func:`ganzoo.evaluation.stored.evaluate_stored`.
    """
    return evaluate_stored(ref, registry=registry, samples=samples, seed=seed, data_dir=data_dir, save=save,
                           inception=inception, split=split, device=device)
