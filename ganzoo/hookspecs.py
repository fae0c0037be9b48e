"""Every hook a ganzoo plugin can implement.

Registration hooks take a ``register`` callback, so a plugin registers as many
things as it likes and the host validates each one as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:  # for the annotations only: importing this module loads no models, losses or data
    from .data.core import DatasetSpec
    from .losses import Loss
    from .models import Architecture

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


class LossRegistrar(Protocol):
    """The ``register`` callback of :func:`register_losses`."""

    def __call__(self, name: str, loss_cls: type[Loss], description: str = "") -> None: ...


@hookspec
def register_architectures(register: Callable[[Architecture], None]) -> None:
    """Register GAN architectures: call ``register(ganzoo.Architecture(...))`` once per architecture."""


@hookspec
def register_losses(register: LossRegistrar) -> None:
    """Register adversarial losses: ``register(name, LossClass, description="...")``.

    ``LossClass`` subclasses :class:`ganzoo.Loss`. ``--loss NAME`` constructs it with no
    arguments; ``--loss NAME:KEY=VALUE,...`` passes the options as keyword arguments, so
    every option needs a default.
    """


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets: call ``register(ganzoo.DatasetSpec(...))`` once per dataset."""
