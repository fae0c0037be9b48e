"""Every hook a ganzoo plugin can implement.

Registration hooks take a ``register`` callback, so a plugin registers as many
things as it likes and the host validates each one as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:  # for the annotations only: importing this module loads no models, losses or data
    from .augment import Augmentation
    from .data.core import DatasetSpec
    from .losses import Loss
    from .models import Architecture

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


class LossRegistrar(Protocol):
    """The ``register`` callback of :func:`register_losses`."""

    def __call__(self, name: str, loss_cls: type[Loss], description: str = "") -> None: ...


class AugmentationRegistrar(Protocol):
    """The ``register`` callback of :func:`register_augmentations`."""

    def __call__(self, name: str, augmentation_cls: type[Augmentation], description: str = "") -> None: ...


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


@hookspec
def register_augmentations(register: AugmentationRegistrar) -> None:
    """Register augmentations of what the discriminator sees: ``register(name, AugmentationClass, description="...")``.

    ``AugmentationClass`` subclasses :class:`ganzoo.Augmentation`. ``--augment NAME`` constructs it
    with no arguments; ``--augment NAME:KEY=VALUE,...`` passes the options as keyword arguments, so
    every option needs a default.
    """
