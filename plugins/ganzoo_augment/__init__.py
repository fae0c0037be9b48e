"""Differentiable augmentation of everything the discriminator sees, for training on little data.

Two families, each an ordinary :class:`ganzoo.Augmentation` registered through the public hook:

- ``diffaugment`` (:mod:`ganzoo_augment.diffaugment`): Zhao et al. 2020, arXiv:2006.10738 (the
  ``color``, ``translation`` and ``cutout`` policies, combinable);
- ``ada`` (:mod:`ganzoo_augment.ada`): Karras et al. 2020, arXiv:2006.06676 (non-leaking flips, 90-degree
  turns, integer shifts and colour, with a probability that follows D's overfitting).

Both are written in plain torch (:mod:`ganzoo_augment.transforms`): per-sample transformations
drawn from the generator the trainer passes, with no host synchronization. docs/augmentation.md
explains the choice over kornia's augmentations, with the measurements behind it.
"""

from __future__ import annotations

from collections.abc import Callable

from ganzoo import hookimpl

from .ada import ADA
from .diffaugment import POLICIES, DiffAugment

__all__ = ["ADA", "POLICIES", "DiffAugment"]


@hookimpl
def register_augmentations(register: Callable[..., None]) -> None:
    register("diffaugment", DiffAugment,
             description="DiffAugment: color, translation, cutout on real and generated batches (Zhao et al. 2020; "
                         "option policy=translation,cutout ...)")
    register("ada", ADA,
             description="Adaptive augmentation: flips, 90-degree turns, shifts, colour with an adaptive p "
                         "(Karras et al. 2020; options target=0.6, interval, kimg, p)")
