"""Evaluation metrics.

2-D mixtures follow VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
a sample is *high quality* when it lies within 3 standard deviations of its nearest
mode centre; a mode is *covered* when at least ``min_count`` high-quality samples fall
in it (PacGAN: a mode with fewer than 20 of 2,500 samples is lost); the reverse KL
compares the histogram of samples over modes with the uniform mode distribution.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

__all__ = ["MixtureScore", "mixture_score"]


@dataclass(frozen=True)
class MixtureScore:
    modes_covered: int  # modes with at least min_count high-quality samples
    num_modes: int  # modes of the true distribution
    high_quality: float  # fraction of samples within 3 std of their nearest centre
    reverse_kl: float  # KL(generated mode histogram || uniform over modes)
    samples: int  # number of samples scored
    min_count: int  # the covered-mode threshold used

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mixture_score(samples: torch.Tensor, centers: torch.Tensor, std: float, *, min_count: int = 20) -> MixtureScore:
    """Score 2-D samples against a Gaussian mixture with equal weights and isotropic ``std``."""
    samples = samples.detach().float().cpu()
    centers = centers.float().cpu()
    dist = torch.cdist(samples, centers)  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)
    finite = torch.isfinite(nearest_dist)
    hq = finite & (nearest_dist <= 3 * std)
    counts = torch.bincount(nearest[hq], minlength=len(centers)).float()
    covered = int((counts >= min_count).sum())
    k = len(centers)
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * k).log()).sum())
    else:
        reverse_kl = math.inf
    return MixtureScore(covered, k, float(hq.float().mean()), reverse_kl, len(samples), min_count)
