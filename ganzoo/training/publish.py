"""Storing a trained model in the registry: its weights, a manifest of how it was made, a sample grid."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from typing import Any

import torch

from ..catalog import get_catalog
from ..registry import ModelRecord, Registry, parse_ref
from ..rendering import grid_columns, grid_size, reference_points, samples_png
from ..sampling import generate
from ..weights import weight_metadata
from .config import TrainConfig
from .state import TrainResult

__all__ = ["default_model_name", "publish"]


def default_model_name(config: TrainConfig, from_ref: str | None = None) -> str:
    """The name a trained model is published under unless told otherwise: the stored model's own name when
    it was retrained from ``from_ref`` (``name``, ``name:VERSION`` or ``name@ALIAS``), else
    ``<architecture>-<dataset>``."""
    if from_ref is not None:
        return parse_ref(from_ref).name
    return f"{config.architecture}-{config.dataset}"


def publish(result: TrainResult, *, name: str | None = None, registry: Registry | Any = None,
            aliases: Iterable[str] = ("latest",), extra: dict[str, Any] | None = None) -> ModelRecord:
    """Store a trained model in the registry as a new version; returns its ModelRecord.

    ``extra`` adds fields to the manifest (e.g. ``evaluations`` recorded during training).
    """
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    name = name or default_model_name(result.config)
    dataset_info = result.dataset.info()
    weights = {"generator": result.generator.state_dict(), "discriminator": result.discriminator.state_dict()}
    if result.ema_generator is not None:
        weights["generator_ema"] = result.ema_generator.state_dict()
    arch = get_catalog().architectures.get(result.spec.architecture)
    manifest = {
        "architecture": result.spec.architecture,
        "plugin": arch.plugin if arch else None,
        "spec": result.spec.to_dict(),
        "dataset": dataset_info,
        "training": {**result.config.to_dict(), "loss": result.loss_name or result.config.loss},
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "history": result.history[-1:] if result.history else [],
        "host": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
    }
    if result.parent is not None:  # fine-tuned: where its starting weights came from
        manifest["parent"] = dict(result.parent)
    manifest.update(extra or {})
    metadata = weight_metadata("generator", result.spec, dataset_info)
    preview = generate(result.best_generator, grid_size(result.spec.num_classes), seed=result.config.seed)
    files = {"samples.png": samples_png(preview, nrow=grid_columns(result.spec.num_classes),
                                        reference=reference_points(result.dataset))}
    return reg.publish(name, weights, manifest, metadata=metadata, extra_files=files, aliases=aliases)
