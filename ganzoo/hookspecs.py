"""Every hook a ganzoo plugin can implement.

Registration hooks take a ``register`` callback, so a plugin registers as many
things as it likes and the host validates each one as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("ganzoo")
hookimpl = pluggy.HookimplMarker("ganzoo")


@hookspec
def register_architectures(register: Callable[[Any], None]) -> None:
    """Register GAN architectures: call ``register(ganzoo.Architecture(...))`` once per architecture."""


@hookspec
def register_losses(register: Callable[..., None]) -> None:
    """Register adversarial losses: ``register(name, LossClass, description="...")``.

    ``LossClass`` subclasses :class:`ganzoo.Loss`. ``--loss NAME`` constructs it with no
    arguments; ``--loss NAME:KEY=VALUE,...`` passes the options as keyword arguments, so
    every option needs a default.
    """


@hookspec
def register_datasets(register: Callable[[Any], None]) -> None:
    """Register datasets: call ``register(ganzoo.DatasetSpec(...))`` once per dataset."""
