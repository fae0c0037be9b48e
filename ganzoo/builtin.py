"""The core plugin: registers the built-in losses and datasets through the public hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .data.builtin import BUILTIN_DATASETS
from .hookspecs import hookimpl
from .losses import BUILTIN_LOSSES


@hookimpl
def register_losses(register: Callable[..., None]) -> None:
    for name, cls, description in BUILTIN_LOSSES:
        register(name, cls, description=description)


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    for spec in BUILTIN_DATASETS:
        register(spec)
