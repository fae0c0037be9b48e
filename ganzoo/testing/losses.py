"""The loss check: finite scalars, gradients in the right direction, an honest penalty."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..catalog import Catalog, get_catalog
from ..models import Discriminator
from .support import BATCH, SEED, ensure, own_rng, raises_as_failure, registered_class

__all__ = ["check_loss"]


class _Critic(Discriminator):
    """A small critic on 2-d vectors for checking penalties."""

    def __init__(self, *, data_shape: tuple[int, ...] = (2,), num_classes: int = 0) -> None:
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.net = nn.Sequential(nn.Linear(math.prod(data_shape), 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1)).view(x.shape[0])


def _scalar(value: object, where: str, what: str) -> torch.Tensor:
    ensure(isinstance(value, torch.Tensor), where, f"{what} must return a tensor, got {type(value).__name__}")
    assert isinstance(value, torch.Tensor)
    ensure(value.dim() == 0, where, f"{what} must return a scalar (0-dim) tensor, got shape {tuple(value.shape)}")
    ensure(value.is_floating_point() and bool(torch.isfinite(value.detach())), where,
           f"{what} must be a finite floating-point number, got {value.detach()!r}")
    return value


@own_rng
def check_loss(name: str, *, catalog: Catalog | None = None) -> None:
    """A registered loss gives finite scalars, sensible gradients and a sane ordering.

    Each phase is called in the trainer's order: ``discriminator_loss`` (and ``penalty``)
    on a real and a generated batch, then ``generator_loss`` on a generated batch, on a
    fresh instance for every probe.
    """
    where, fresh = registered_class(catalog if catalog is not None else get_catalog(), "loss", name)

    def phases(real: torch.Tensor, fake_d: torch.Tensor, fake_g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss = fresh()
        with raises_as_failure(where, "discriminator_loss(real_logits, fake_logits)"):
            d_loss = loss.discriminator_loss(real, fake_d)
        with raises_as_failure(where, "generator_loss(fake_logits)"):
            g_loss = loss.generator_loss(fake_g)
        return (_scalar(d_loss, where, "discriminator_loss"), _scalar(g_loss, where, "generator_loss"))

    rng = torch.Generator().manual_seed(SEED)
    n = 2 * BATCH

    # 1. Finite scalars whose gradients reach the logits, pushing the right way: D's loss
    #    falls as real logits rise and fake ones fall; G's loss falls as fake logits rise.
    real = (0.1 * torch.randn(n, generator=rng)).requires_grad_(True)
    fake_d = (0.1 * torch.randn(n, generator=rng)).requires_grad_(True)
    fake_g = (0.1 * torch.randn(n, generator=rng)).requires_grad_(True)
    kept = [t.detach().clone() for t in (real, fake_d, fake_g)]
    d_loss, g_loss = phases(real, fake_d, fake_g)
    for t, original in zip((real, fake_d, fake_g), kept, strict=True):
        ensure(torch.equal(t.detach(), original), where, "a loss changed the logits it was given in place")
    with raises_as_failure(where, "backward through the discriminator loss"):
        d_loss.backward()
    with raises_as_failure(where, "backward through the generator loss"):
        g_loss.backward()
    for what, t in (("real_logits", real), ("fake_logits", fake_d)):
        ensure(t.grad is not None and bool(torch.isfinite(t.grad).all()) and bool(t.grad.abs().sum() > 0), where,
               f"discriminator_loss gives {what} no finite non-zero gradient")
    ensure(fake_g.grad is not None and bool(torch.isfinite(fake_g.grad).all()) and bool(fake_g.grad.abs().sum() > 0),
           where, "generator_loss gives fake_logits no finite non-zero gradient")
    assert real.grad is not None and fake_d.grad is not None and fake_g.grad is not None
    ensure(float(real.grad.sum()) < 0, where,
           "raising the real logits raises the discriminator loss near 0: D must be rewarded for scoring real "
           "samples high (D minimizes discriminator_loss)")
    ensure(float(fake_d.grad.sum()) > 0, where,
           "raising the fake logits lowers the discriminator loss near 0: D must be rewarded for scoring "
           "generated samples low")
    ensure(float(fake_g.grad.sum()) < 0, where,
           "raising the fake logits raises the generator loss near 0: G must be rewarded when D scores its "
           "samples high (G minimizes generator_loss)")

    # 2. Orderings at clearly separated logits. G's probes share D's view of the real batch
    #    (logits 0), which relativistic losses compare the fake logits with.
    high, low, zero = torch.full((n,), 2.0), torch.full((n,), -2.0), torch.zeros(n)
    d_right, _ = phases(high, low, low)
    d_wrong, _ = phases(low, high, low)
    _, g_fooled = phases(zero, zero, high)
    _, g_caught = phases(zero, zero, low)
    ensure(float(d_right) < float(d_wrong), where,
           f"the discriminator loss is not lower when D is right (real logits +2, fake -2: {float(d_right):.4g}) "
           f"than when it is wrong (real -2, fake +2: {float(d_wrong):.4g})")
    ensure(float(g_fooled) < float(g_caught), where,
           f"the generator loss is not lower when D is fooled (fake logits +2: {float(g_fooled):.4g}) than when "
           f"it is not (fake -2: {float(g_caught):.4g})")

    # 3. Stable at large logits (a confident D): still finite.
    big = torch.full((n,), 100.0)
    phases(big, -big, -big)
    phases(-big, big, big)

    # 4. The penalty, if any: a finite, non-negative scalar whose gradient reaches D's weights.
    critic = _Critic()
    x_real, x_fake = torch.randn(n, 2, generator=rng), torch.randn(n, 2, generator=rng)
    with raises_as_failure(where, "penalty(discriminator, real, fake, labels)"):
        penalty = fresh().penalty(critic, x_real, x_fake, None)
    if penalty is not None:
        value = _scalar(penalty, where, "penalty")
        ensure(float(value.detach()) >= 0, where,
               f"penalty must be non-negative (it is added to D's loss), got {float(value.detach())}")
        ensure(value.requires_grad, where, "penalty is detached from the discriminator's weights")
        with raises_as_failure(where, "backward through the penalty"):
            value.backward()
        grads = {k: p.grad for k, p in critic.named_parameters() if p.grad is not None}
        ensure(any(bool(g.abs().sum() > 0) for g in grads.values()), where,
               "the penalty's gradient reaches none of the discriminator's weights")
        bad = [k for k, g in grads.items() if not bool(torch.isfinite(g).all())]
        ensure(not bad, where, f"the penalty gives the discriminator's {', '.join(bad)} a non-finite gradient")
