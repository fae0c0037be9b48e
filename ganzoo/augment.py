"""The augmentation interface: a differentiable transformation of every batch the discriminator sees.

With little data, D memorizes the training set and training collapses. Augmenting what D sees,
real and generated batches alike, and differentiably, so that G's gradient flows back through
the transformation, is the fix of DiffAugment (Zhao et al. 2020) and ADA (Karras et al. 2020).
A plugin subclasses :class:`Augmentation` and registers it (``register_augmentations``);
``ganzoo train --augment NAME`` then passes every real and generated batch of every D step, and
the generated batch of G's step, through it. Without ``--augment`` nothing here runs.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["Augmentation"]


class Augmentation(abc.ABC):
    """Transforms a batch of D's inputs, differentiably; may keep state and adapt to D's outputs.

    Constructed once per run: with no arguments for ``--augment NAME``, with keyword options
    for ``--augment NAME:KEY=VALUE,...`` (so every option needs a default).
    """

    # How much of the augmentation is applied, 0 to 1 (for the built-ins: the probability that
    # each transformation is applied to a sample). At 0 ``augment`` returns its input unchanged.
    # An adaptive augmentation moves it itself (ADA's p).
    strength: float = 1.0

    @abc.abstractmethod
    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x`` of shape ``(N, *data_shape)``, transformed: the same shape and dtype, differentiable in ``x``.

        Every random number comes from ``generator`` (on ``x``'s device) when one is given, from
        torch's global generator otherwise. Each sample is transformed on its own, so the result
        does not depend on how a batch is split.
        """

    def check_shape(self, data_shape: tuple[int, ...]) -> None:
        """Raise :class:`ganzoo.ShapeMismatchError`, saying why, for data this augmentation cannot transform.

        Called before training starts, with the shape of one sample: ``(C, H, W)`` or ``(D,)``.
        The default accepts every shape.
        """
        return None

    def observe(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
        """After each discriminator step: D's raw logits on the (augmented) real and generated batch.

        Override it to adapt (ADA raises or lowers its strength from the sign of the real
        logits). In a multi-process run the logits of every process's slice arrive here,
        so every process adapts alike. Keep it free of host synchronization: tensors stay
        on their device.
        """
        return None

    def metrics(self) -> dict[str, torch.Tensor]:
        """Scalars logged with the run's metrics after each step, as ``augment_<key>`` (e.g. ADA's ``p``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What :meth:`load_state_dict` needs to continue exactly: tensors and plain values only
        (it is stored in the run checkpoint, which is read back with ``weights_only=True``)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (``ganzoo train --resume``)."""
        return None
