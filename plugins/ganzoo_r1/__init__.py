"""R1 regularization: Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do
actually Converge?", arXiv:1801.04406 (ICML 2018).

Registers the loss ``non-saturating-r1``: the non-saturating loss of Goodfellow et al. plus
a penalty on the discriminator's gradient at real data,

    R1 = gamma / 2 * E_{x ~ p_data} || grad_x D(x) ||^2      (D's raw logit),

added to D's loss at every D step. At an equilibrium where p_g = p_data, D is flat on
the data and the penalty is zero, so the fixed point is unchanged; away from it the
penalty stops D from growing steep walls around the real samples, which is what makes
plain GAN training oscillate. The paper proves local convergence with it.

``gamma`` (default 1.0) is the penalty's weight; pass it as ``--loss non-saturating-r1:gamma=3``.
It depends on the data's scale: the gradient is per unit of the data, so data spread over a
wider range (the 2-D grid spans [-4, 4]) takes a larger gamma than data in [-1, 1].

``decay`` (default 0: constant) weakens the penalty over the last share of the run, on the
same schedule as ``--lr-decay``: with ``decay=0.3`` the weight falls linearly from ``gamma``
towards ``gamma_end`` (default 0) over the last 30% of the steps, e.g.
``--loss non-saturating-r1:gamma=10,decay=0.3,gamma_end=1``. The settings the 2-D recipes
use, and how they were chosen, are in docs/results.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

import ganzoo
from ganzoo.losses import NonSaturating, input_gradient

__all__ = ["NonSaturatingR1", "r1_penalty"]


def r1_penalty(discriminator: nn.Module, real: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """E || grad_x D(x) ||^2 over the real batch (one value, differentiable w.r.t. D's weights)."""
    return input_gradient(discriminator, real, labels).flatten(1).pow(2).sum(1).mean()


def _number(name: str, value: object, what: str, upper: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= upper:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


class NonSaturatingR1(NonSaturating):
    """Non-saturating loss + (gamma / 2) * R1 penalty on real data; optionally weakening
    towards ``gamma_end`` over the last ``decay`` share of the run."""

    def __init__(self, gamma: float = 1.0, decay: float = 0.0, gamma_end: float = 0.0) -> None:
        self.gamma = _number("gamma", gamma, "a number >= 0 (the R1 penalty's weight)")
        self.decay = _number("decay", decay, "a fraction in [0, 1] (the share of the run, at its end, over which "
                                             "the weight falls to gamma_end; 0 keeps it constant)", upper=1)
        self.gamma_end = _number("gamma_end", gamma_end, "a number >= 0 (the weight at the end of the decay)")
        self.weight = self.gamma  # the weight at the current step

    def set_progress(self, step: int, steps: int) -> None:
        from ganzoo import lr_scale

        self.weight = self.gamma_end + (self.gamma - self.gamma_end) * lr_scale(step, steps, self.decay)

    def penalty(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor | None:
        if self.weight == 0:
            return None
        return 0.5 * self.weight * r1_penalty(discriminator, real, labels)


@ganzoo.hookimpl
def register_losses(register: Callable[..., None]) -> None:
    register("non-saturating-r1", NonSaturatingR1,
             description="Non-saturating + R1 gradient penalty on real data, gamma=1 "
                         "(Mescheder et al. 2018; options: --loss non-saturating-r1:gamma=G[,decay=F,gamma_end=G2])")
