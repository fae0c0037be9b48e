"""The Python facade: train, publish, load, generate, evaluate. Nothing inside ganzoo imports it.

>>> result = ganzoo.train("gan", "ring8", steps=100)          # doctest: +SKIP
>>> record = ganzoo.publish(result)                           # doctest: +SKIP
>>> g = ganzoo.load(record.ref)                               # doctest: +SKIP
>>> x = ganzoo.generate(g, 64, seed=0)                        # doctest: +SKIP
"""

from __future__ import annotations

import os
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
from .training.publish import default_model_name, publish
from .training.state import Callback, TrainResult

__all__ = ["default_model_name", "evaluate", "generate", "load", "publish", "train"]


def train(architecture: str = "dcgan", dataset: str = "digits", *, callbacks: Iterable[Callback] = (),
          run_dir: str | os.PathLike[str] | None = None, **options: Any) -> TrainResult:
    """Train ``architecture`` on ``dataset``; ``options`` are :class:`TrainConfig` fields.

    With ``run_dir`` the run is checkpointed there (``checkpoint_every=N``, the last step,
    and on Ctrl-C); ``fit(config, resume_from=run_dir)`` continues it.
    """
    config = TrainConfig(architecture=architecture, dataset=dataset, **options)
    extra = [Checkpointer(run_dir, config.checkpoint_every)] if run_dir is not None else []
    return fit(config, callbacks=[*callbacks, *extra])


def load(ref: str | os.PathLike[str], *, registry: Registry | str | os.PathLike[str] | None = None,
         ema: bool = True, device: str | torch.device = "cpu") -> Generator:
    """Load a generator from the registry (``name``, ``name:3``, ``name@alias``) or a ``.safetensors`` file."""
    return load_generator(ref, registry=registry, ema=ema, device=device)


def evaluate(ref: str | os.PathLike[str], *, registry: Any = None, samples: int | None = None, seed: int = 0,
             data_dir: str | None = None, save: bool = True, inception: bool = False,
             split: str = "train") -> tuple[str, dict[str, Any]]:
    """Evaluate a stored model on the dataset it was trained on; returns ``(metric set, results)``.

    See :func:`ganzoo.evaluation.stored.evaluate_stored`.
    """
    return evaluate_stored(ref, registry=registry, samples=samples, seed=seed, data_dir=data_dir, save=save,
                           inception=inception, split=split)
