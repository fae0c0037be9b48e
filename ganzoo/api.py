"""The Python API the CLI is built on: train, publish, load, generate."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from typing import Any

import torch

from .catalog import get_catalog
from .errors import ConfigError
from .models import Generator
from .rendering import grid_columns, reference_points, samples_png
from .sampling import generate
from .trainer import Callback, TrainConfig, TrainResult, fit

__all__ = ["default_model_name", "generate", "load", "publish", "train"]


def train(architecture: str = "dcgan", dataset: str = "digits", *, callbacks: Iterable[Callback] = (),
          run_dir: str | os.PathLike[str] | None = None, **options: Any) -> TrainResult:
    """Train ``architecture`` on ``dataset``; ``options`` are :class:`TrainConfig` fields.

    With ``run_dir`` the run is checkpointed there (``checkpoint_every=N``, and on Ctrl-C);
    ``fit(config, resume_from=run_dir)`` continues it.

    >>> result = ganzoo.train("gan", "ring8", steps=100)  # doctest: +SKIP
    """
    config = TrainConfig(architecture=architecture, dataset=dataset, **options)
    return fit(config, callbacks=callbacks, run_dir=run_dir)


def default_model_name(config: TrainConfig) -> str:
    """``<architecture>-<dataset>``, the name a trained model is published under unless told otherwise."""
    return f"{config.architecture}-{config.dataset}"


def publish(result: TrainResult, *, name: str | None = None, registry: Any = None,
            aliases: Iterable[str] = ("latest",), extra: dict[str, Any] | None = None) -> Any:
    """Store a trained model in the registry as a new version; returns its ModelRecord.

    ``extra`` adds fields to the manifest (e.g. ``evaluations`` recorded during training).
    """
    from .registry import Registry
    from .weights import weight_metadata

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    name = name or default_model_name(result.config)
    dataset_info = result.dataset_info()
    weights = {"generator": result.generator.state_dict(), "discriminator": result.discriminator.state_dict()}
    if result.ema_generator is not None:
        weights["generator_ema"] = result.ema_generator.state_dict()
    arch = get_catalog().architectures.get(result.spec.architecture)
    manifest = {
        "architecture": result.spec.architecture,
        "plugin": arch.plugin if arch else None,
        "spec": result.spec.to_dict(),
        "dataset": dataset_info,
        "training": {**result.config.to_dict(),
                     "loss": result.config.loss or (arch.value.default_loss if arch else None)},
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "history": result.history[-1:] if result.history else [],
        "host": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
    }
    manifest.update(extra or {})
    metadata = weight_metadata("generator", result.spec, dataset_info)
    preview = generate(result.best_generator, 64, seed=result.config.seed)
    extra = {"samples.png": samples_png(preview, nrow=grid_columns(result.spec.num_classes),
                                        reference=reference_points(result.dataset))}
    return reg.publish(name, weights, manifest, metadata=metadata, extra_files=extra, aliases=aliases)


def load(ref: str | os.PathLike[str], *, registry: Any = None, ema: bool = True, device: str = "cpu") -> Generator:
    """Load a generator from the registry (``name``, ``name:3``, ``name@alias``) or a ``.safetensors`` file."""
    from .registry import load_generator

    return load_generator(ref, registry=registry, ema=ema, device=device)


def evaluate(ref: str | os.PathLike[str], *, registry: Any = None, samples: int | None = None, seed: int = 0,
             data_dir: str | None = None, save: bool = True, inception: bool = False,
             split: str = "train") -> tuple[str, dict[str, Any]]:
    """Evaluate a stored model on the dataset it was trained on; returns ``(metric set, results)``.

    ``split="test"`` compares against the dataset's test split (where it has one) instead of
    its training images; the metric set is then named ``<set>-test``. Registry models get the
    results written into their manifest (``metrics.<set>``) unless ``save`` is False; a bare
    ``.safetensors`` file is evaluated and nothing is written.
    """
    import json

    from .evaluation import evaluate as run_evaluation
    from .registry import Registry, is_path_ref
    from .trainer import load_dataset
    from .weights import read_metadata

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    g = load(ref, registry=reg)
    if is_path_ref(ref):
        info = json.loads(read_metadata(ref).get("ganzoo.dataset", "{}"))
    else:
        info = (g.ganzoo_manifest or {}).get("dataset", {})
    if not info.get("name"):
        raise ConfigError(f"{ref}: the model does not record the dataset it was trained on")
    resize = (info.get("preprocessing") or {}).get("resize")
    size = resize["to"][0] if resize else None
    reference = None
    if split != "train":  # checked before the (slow) training data is loaded
        reference = load_dataset(info["name"], image_size=size, data_dir=data_dir, split=split)
    dataset = load_dataset(info["name"], image_size=size, data_dir=data_dir)
    if inception:
        from .evaluation import evaluate_inception

        name, results = "inception", evaluate_inception(g, dataset, reg.root, samples=samples or 2000, seed=seed,
                                                        reference=reference)
    else:
        name, results = run_evaluation(g, dataset, reg.root, samples=samples, seed=seed, reference=reference)
    if reference is not None:
        name = f"{name}-{split}"
    if save and not is_path_ref(ref):
        reg.record_metrics(str(ref), name, results)
    return name, results
