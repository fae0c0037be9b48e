"""The conformance kit: checks that any registered architecture or loss keeps ganzoo's contracts.

Plugin authors call these from their own tests; ganzoo's test suite runs them over every
registered architecture and loss (its own and any installed plugin's)::

    from ganzoo import testing

    def test_my_architecture_conforms():
        testing.check_architecture("myarch", options={"width": 8})

    def test_my_loss_conforms():
        testing.check_loss("my-loss")

Every check raises :class:`AssertionError` whose message names the architecture or loss
(and its plugin) and says what broke; an exception raised by the plugin's own code while
a check runs is turned into such an AssertionError too, chained to the original. The
checks draw from their own random numbers: the caller's global RNG state is restored.

Architecture checks (``check_architecture`` runs them all):

- :func:`check_shape_contract`: ``G(z, labels)`` has shape ``(N, *data_shape)`` (images in
  [-1, 1]), ``D(x, labels)`` returns raw logits of shape ``(N,)``, gradients reach every
  parameter of both networks;
- :func:`check_conditioning`: a conditional model refuses missing labels, and both G's
  samples and D's logits depend on the label;
- :func:`check_training_step`: one step of :func:`ganzoo.fit` on a tiny dataset gives every
  parameter of G and D a gradient, moves those it gives a signal, and records finite metrics;
- :func:`check_round_trip`: publish to a throwaway registry, load back (by name and from the
  bare ``.safetensors`` file): the same samples and the same logits;
- :func:`check_determinism`: the same seed gives the same weights, latents, outputs and
  trained weights; another seed gives other latents.

Loss checks (:func:`check_loss`): finite scalar outputs, gradients in the right direction,
D's loss lower when it tells real from fake, G's loss lower when D is fooled, no in-place
changes to the logits, and a finite non-negative penalty (if any) that reaches D's weights.

Augmentation checks (:func:`check_augmentation`): shape and dtype kept, the gradient reaches
the input, the identity at strength 0, deterministic under a seeded generator (and the
global one left alone), the state round-trips through a checkpoint, and a training step runs.
"""

from __future__ import annotations

from .architectures import (
    check_architecture,
    check_conditioning,
    check_determinism,
    check_round_trip,
    check_shape_contract,
    check_training_step,
)
from .augmentations import check_augmentation
from .losses import check_loss
from .support import DEFAULT_SHAPES, fitting_shapes, tiny_dataset

__all__ = [
    "DEFAULT_SHAPES",
    "check_architecture",
    "check_augmentation",
    "check_conditioning",
    "check_determinism",
    "check_loss",
    "check_round_trip",
    "check_shape_contract",
    "check_training_step",
    "fitting_shapes",
    "tiny_dataset",
]
