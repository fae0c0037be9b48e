"""ganzoo: a plugin-based zoo of Generative Adversarial Networks with a local model registry.

The public API. Plugins import only what is listed here. Names are handed on lazily
(PEP 562): ``import ganzoo`` imports neither torch nor torchvision until a name that
needs them is used, so the command line answers ``--help`` at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("evaluate", "generate", "load", "publish", "train"), "ganzoo.api"),
    **dict.fromkeys(("Catalog", "PluginFailure", "PluginInfo", "get_catalog", "load_catalog", "reset_catalog"),
                    "ganzoo.catalog"),
    **dict.fromkeys(("DataOptions", "Dataset", "DatasetSpec"), "ganzoo.data"),
    **dict.fromkeys(("ConfigError", "DataError", "GanzooError", "IntegrityError", "ModelNotFoundError",
                     "PluginError", "PluginWarning", "RegistryError", "ShapeMismatchError", "StorageError",
                     "UnknownNameError"),
                    "ganzoo.errors"),
    "hookimpl": "ganzoo.hookspecs",
    "Augmentation": "ganzoo.augment",
    **dict.fromkeys(("Loss", "lr_scale"), "ganzoo.losses"),
    **dict.fromkeys(("Architecture", "Discriminator", "Generator", "ModelSpec"), "ganzoo.models"),
    **dict.fromkeys(("ModelRecord", "Registry"), "ganzoo.registry"),
    "write_report": "ganzoo.report",
    "interpolate": "ganzoo.sampling",
    **dict.fromkeys(("TrainConfig", "FAST_PATH"), "ganzoo.training.config"),
    **dict.fromkeys(("Callback", "TrainResult", "TrainState", "TrainingDiverged", "TrainingInterrupted"),
                    "ganzoo.training.state"),
    "fit": "ganzoo.training.loop",
    "Checkpointer": "ganzoo.training.checkpoint",
    "RunLogger": "ganzoo.training.runlog",
    **dict.fromkeys(("ResolvedRun", "resolve_run"), "ganzoo.training.options"),
    "EvalCallback": "ganzoo.evaluation.callback",
}

__all__ = [
    "FAST_PATH",
    "Architecture",
    "Augmentation",
    "Callback",
    "Catalog",
    "Checkpointer",
    "ConfigError",
    "DataError",
    "DataOptions",
    "Dataset",
    "DatasetSpec",
    "Discriminator",
    "EvalCallback",
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
    "PluginWarning",
    "Registry",
    "RegistryError",
    "ResolvedRun",
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
    "evaluate",
    "fit",
    "generate",
    "get_catalog",
    "hookimpl",
    "interpolate",
    "list_architectures",
    "list_augmentations",
    "list_datasets",
    "list_losses",
    "load",
    "load_catalog",
    "lr_scale",
    "publish",
    "reset_catalog",
    "resolve_run",
    "train",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def list_architectures() -> list[str]:
    """Names of every registered architecture."""
    from .catalog import get_catalog

    return sorted(get_catalog().architectures)


def list_losses() -> list[str]:
    """Names of every registered loss."""
    from .catalog import get_catalog

    return sorted(get_catalog().losses)


def list_augmentations() -> list[str]:
    """Names of every registered augmentation."""
    from .catalog import get_catalog

    return sorted(get_catalog().augmentations)


def list_datasets() -> list[str]:
    """Names of every registered dataset."""
    from .catalog import get_catalog

    return sorted(get_catalog().datasets)


def create(name: str, *, data_shape: tuple[int, ...], num_classes: int = 0,
           **overrides: Any) -> tuple[Generator, Discriminator]:
    """Build the generator and discriminator of architecture ``name`` for data of ``data_shape``."""
    from .catalog import get_catalog

    return get_catalog().create(name, data_shape, num_classes, **overrides)


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on first use
    from .api import evaluate, generate, load, publish, train
    from .augment import Augmentation
    from .catalog import Catalog, PluginFailure, PluginInfo, get_catalog, load_catalog, reset_catalog
    from .data import DataOptions, Dataset, DatasetSpec
    from .errors import (
        ConfigError,
        DataError,
        GanzooError,
        IntegrityError,
        ModelNotFoundError,
        PluginError,
        PluginWarning,
        RegistryError,
        ShapeMismatchError,
        StorageError,
        UnknownNameError,
    )
    from .evaluation.callback import EvalCallback
    from .hookspecs import hookimpl
    from .losses import Loss, lr_scale
    from .models import Architecture, Discriminator, Generator, ModelSpec
    from .registry import ModelRecord, Registry
    from .report import write_report
    from .sampling import interpolate
    from .training.checkpoint import Checkpointer
    from .training.config import FAST_PATH, TrainConfig
    from .training.loop import fit
    from .training.options import ResolvedRun, resolve_run
    from .training.runlog import RunLogger
    from .training.state import Callback, TrainingDiverged, TrainingInterrupted, TrainResult, TrainState
