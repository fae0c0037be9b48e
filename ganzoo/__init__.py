"""ganzoo: a plugin-based zoo of Generative Adversarial Networks with a local model registry.

The public API. Plugins import only what is listed here.
"""

from __future__ import annotations

from typing import Any

from .api import generate, load, publish, train
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
    StorageError,
    UnknownNameError,
)
from .hookspecs import hookimpl
from .losses import Loss
from .models import Architecture, Discriminator, Generator, ModelSpec
from .registry import ModelRecord, Registry
from .report import write_report
from .runlog import RunLogger
from .sampling import interpolate
from .version import __version__
from .trainer import Callback, TrainConfig, TrainingDiverged, TrainingInterrupted, TrainResult, TrainState, fit



__all__ = [
    "Architecture",
    "Callback",
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
    "ModelRecord",
    "ModelSpec",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "Registry",
    "RegistryError",
    "RunLogger",
    "ShapeMismatchError",
    "StorageError",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "TrainingDiverged",
    "TrainingInterrupted",
    "UnknownNameError",
    "__version__",
    "create",
    "fit",
    "generate",
    "get_catalog",
    "hookimpl",
    "interpolate",
    "list_architectures",
    "list_datasets",
    "list_losses",
    "load",
    "load_catalog",
    "publish",
    "reset_catalog",
    "train",
    "write_report",
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
