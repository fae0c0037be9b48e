"""Adversarial losses. A loss owns the maths of each phase; the trainer only iterates phases.

Every loss works on raw discriminator logits ``l``, with D(x) = sigmoid(l). Using
``softplus`` keeps the log-sigmoid terms exact and numerically stable:
``-log sigmoid(l) = softplus(-l)`` and ``-log(1 - sigmoid(l)) = softplus(l)``.
"""

from __future__ import annotations

import abc

import torch
import torch.nn.functional as F
from torch import nn

from .values import check_number

__all__ = ["Hinge", "LeastSquares", "Loss", "Minimax", "NonSaturating", "WassersteinGP", "input_gradient", "lr_scale"]


def lr_scale(step: int, steps: int, decay: float) -> float:
    """The factor of ``--lr-decay decay`` at ``step`` (1-based) of ``steps``: the trainer's learning-rate schedule.

    1 until the last ``n = round(decay * steps)`` steps, then falling linearly: the last step
    of the run uses 1 / n of the rate, so no step is taken with a rate of 0. A loss that
    weakens a term on the same schedule (``Loss.set_progress``) calls it too.
    """
    if decay <= 0:
        return 1.0
    n = max(1, round(decay * steps))
    return min(1.0, (steps - step + 1) / n)


def input_gradient(discriminator: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The gradient of D's summed logits with respect to its input, for gradient penalties.

    ``x`` is detached first, so the gradient flows to D's weights only (``create_graph``),
    never into whatever produced ``x``. The sum is taken in fp32, so the penalty stays
    accurate under bf16 autocast.
    """
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x, labels).float().sum(), x, create_graph=True)
    return grad.float()


class Loss(abc.ABC):
    """An adversarial objective, split into the discriminator's and the generator's phase."""

    @abc.abstractmethod
    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The quantity D minimizes, from logits on a real and a generated batch."""

    @abc.abstractmethod
    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The quantity G minimizes, from D's logits on a generated batch."""

    def penalty(
        self,
        discriminator: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor | None:
        """An extra term added to D's loss (a gradient penalty, say). None: no penalty."""
        return None

    def set_progress(self, step: int, steps: int) -> None:
        """Called by the trainer before each generator step (``step`` is 1-based, of ``steps``).

        Override it for a loss that follows a schedule (a penalty that weakens over the run,
        say). Make it a function of the step alone, so that a resumed run follows it exactly.
        """
        return None


class Minimax(Loss):
    """The original saturating game (Goodfellow et al. 2014, Algorithm 1).

    D maximizes log D(x) + log(1 - D(G(z))); G minimizes log(1 - D(G(z))). Its gradient
    vanishes when D confidently rejects samples, which is why it is rarely used alone.
    """

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake_logits).mean()  # = mean log(1 - D(G(z)))


class NonSaturating(Minimax):
    """The paper's practical variant: G maximizes log D(G(z)) instead (same fixed point)."""

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()  # = mean -log D(G(z))


class Hinge(Loss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


class LeastSquares(Loss):
    """Least-squares GAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1 (G's aim)."""

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * (real_logits - 1.0).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * (fake_logits - 1.0).pow(2).mean()


class WassersteinGP(Loss):
    """Wasserstein GAN with gradient penalty (Gulrajani et al. 2017), lambda = 10.

    The penalty pushes the critic's gradient norm towards 1 on random interpolates
    between real and generated samples. The paper trains the critic 5 times per
    generator step (``--d-steps 5``) with Adam(1e-4, betas=(0.0, 0.9)).
    """

    def __init__(self, weight: float = 10.0) -> None:
        self.weight = check_number("weight", weight, minimum=0, kind="a number >= 0 (the gradient penalty's weight)")

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()

    def penalty(
        self,
        discriminator: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, device=real.device, dtype=real.dtype)
        mixed = alpha * real.detach() + (1 - alpha) * fake.detach()
        norms = input_gradient(discriminator, mixed, labels).flatten(1).norm(2, dim=1)
        return self.weight * (norms - 1.0).pow(2).mean()


BUILTIN_LOSSES: list[tuple[str, type[Loss], str]] = [
    ("minimax", Minimax, "The original saturating game: G minimizes log(1 - D(G(z))) (Goodfellow et al. 2014)"),
    ("non-saturating", NonSaturating, "G maximizes log D(G(z)); the usual choice (Goodfellow et al. 2014)"),
    ("hinge", Hinge, "Hinge loss (Lim & Ye 2017; Miyato et al. 2018)"),
    ("least-squares", LeastSquares, "Least-squares GAN, a-b-c = 0-1-1 (Mao et al. 2017)"),
    ("wasserstein-gp", WassersteinGP, "Wasserstein critic + gradient penalty 10 (Gulrajani et al. 2017)"),
]
