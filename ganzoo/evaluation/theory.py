"""A numerical check of the GAN theory (Goodfellow et al. 2014, Proposition 1 and Theorem 1).

For a fixed generator distribution p_g, the discriminator that maximizes
V(D, G) = E_{p_data} log D(x) + E_{p_g} log(1 - D(x)) is D*(x) = p_data / (p_data + p_g),
and at D* the value is V = 2 JS(p_data || p_g) - 2 log 2. With 1-D Gaussians both sides are
known in closed form or by quadrature, so a discriminator trained by ganzoo's own loss can
be compared against them. See docs/theory.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..losses import Minimax

__all__ = ["OptimalDiscriminatorCheck", "check_optimal_discriminator", "normal_pdf"]


def normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class OptimalDiscriminatorCheck:
    max_abs_error: float  # max |D(x) - D*(x)| where either density exceeds ``mass_threshold``
    value: float  # V(D, G) of the trained D, by quadrature
    theory_value: float  # 2 JS(p_data || p_g) - 2 log 2, by quadrature
    js: float  # JS(p_data || p_g) in nats
    grid: torch.Tensor  # the x grid
    d: torch.Tensor  # trained D(x) on the grid
    d_star: torch.Tensor  # D*(x) on the grid

    @property
    def value_error(self) -> float:
        return abs(self.value - self.theory_value)


def check_optimal_discriminator(
    g_mean: float, g_std: float, *, data_mean: float = 0.0, data_std: float = 1.0, steps: int = 1000,
    batch_size: int = 2048, seed: int = 0, mass_threshold: float = 0.01,
) -> OptimalDiscriminatorCheck:
    """Train a small D against fixed Gaussians p_data and p_g with the minimax D loss; compare with theory."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        d_net = nn.Sequential(nn.Linear(1, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
    loss = Minimax()
    opt = torch.optim.Adam(d_net.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # anneal: converge, don't hover
    for _ in range(steps):
        real = data_mean + data_std * torch.randn(batch_size, 1, generator=gen)
        fake = g_mean + g_std * torch.randn(batch_size, 1, generator=gen)
        d_loss = loss.discriminator_loss(d_net(real).squeeze(1), d_net(fake).squeeze(1))
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        opt.step()
        schedule.step()

    lo = min(data_mean - 8 * data_std, g_mean - 8 * g_std)
    hi = max(data_mean + 8 * data_std, g_mean + 8 * g_std)
    x = torch.linspace(lo, hi, 40_001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    p_data, p_g = normal_pdf(x, data_mean, data_std), normal_pdf(x, g_mean, g_std)
    with torch.no_grad():
        logits = d_net(x.float()[:, None]).squeeze(1).double()
    d = torch.sigmoid(logits)
    d_star = p_data / (p_data + p_g)
    mass = (p_data > mass_threshold) | (p_g > mass_threshold)
    # log D = -softplus(-l), log(1 - D) = -softplus(l): exact even where D rounds to 0 or 1
    value = float((-p_data * nn.functional.softplus(-logits) - p_g * nn.functional.softplus(logits)).sum() * dx)
    mix = 0.5 * (p_data + p_g)

    def kl_to_mix(p: torch.Tensor) -> float:
        return float((p * torch.log(p / mix)).nan_to_num().sum() * dx)

    js = 0.5 * (kl_to_mix(p_data) + kl_to_mix(p_g))
    return OptimalDiscriminatorCheck(
        max_abs_error=float((d - d_star).abs()[mass].max()),
        value=value, theory_value=2 * js - 2 * math.log(2), js=js, grid=x, d=d, d_star=d_star,
    )
