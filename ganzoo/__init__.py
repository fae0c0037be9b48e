"""ganzoo: a plugin-based zoo of Generative Adversarial Networks with a local model registry.

The public API. Plugins import only what is listed here.
"""

from __future__ import annotations

from typing import Any

from .catalog import Catalog, PluginFailure, PluginInfo, get_catalog, load_catalog, reset_catalog
from .data import DataOptions, Dataset, DatasetSpec
from .errors import (
    ConfigError,
    DataError,
    GanzooError,
    IntegrityError,
    ModelNotFoundError,
    PluginError,
    RegistryError,
    ShapeMismatchError,
    UnknownNameError,
)
from .hookspecs import hookimpl
from .losses import Loss
from .models import Architecture, Discriminator, Generator, ModelSpec
from .trainer import Callback, TrainConfig, TrainingDiverged, TrainResult, fit
from .api import generate, load, publish, train  # noqa: E402 - needs the names above
from .registry import ModelRecord, Registry  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "Callback",
    "ModelRecord",
    "Registry",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "fit",
    "generate",
    "load",
    "publish",
    "train",
    "Catalog",
    "ConfigError",
    "DataError",
    "DataOptions",
    "Dataset",
    "DatasetSpec",
    "Discriminator",
    "GanzooError",
    "Generator",
    "IntegrityError",
    "Loss",
    "ModelNotFoundError",
    "ModelSpec",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "RegistryError",
    "ShapeMismatchError",
    "UnknownNameError",
    "__version__",
    "create",
    "get_catalog",
    "hookimpl",
    "list_architectures",
    "list_datasets",
    "list_losses",
    "load_catalog",
    "reset_catalog",
]


def list_architectures() -> list[str]:
    """Names of every registered architecture."""
    return sorted(get_catalog().architectures)


def list_losses() -> list[str]:
    """Names of every registered loss."""
    return sorted(get_catalog().losses)


def list_datasets() -> list[str]:
    """Names of every registered dataset."""
    return sorted(get_catalog().datasets)


def create(name: str, *, data_shape: tuple[int, ...], num_classes: int = 0,
           **overrides: Any) -> tuple[Generator, Discriminator]:
    """Build the generator and discriminator of architecture ``name`` for data of ``data_shape``."""
    return get_catalog().create(name, data_shape, num_classes, **overrides)
