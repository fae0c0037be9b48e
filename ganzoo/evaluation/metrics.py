"""Evaluation metrics: the 2-D mixture scores, Fréchet distance, KID, precision/recall and class histograms.

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

from ..errors import DataError

__all__ = [
    "MixtureScore",
    "class_histogram_kl",
    "frechet_distance",
    "kernel_inception_distance",
    "mixture_score",
    "precision_recall",
]


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


# -- feature-space metrics ----------------------------------------------------------------------


def _finite(metric: str, **features: torch.Tensor) -> None:
    """Refuse NaN or infinite features: linear algebra on them gives nonsense, or worse, crashes in LAPACK."""
    for name, f in features.items():
        if not bool(torch.isfinite(f).all()):
            raise DataError(f"{metric}: the {name} features are not finite (they hold NaN or infinite values); "
                            "check the samples they were computed from")


def _stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = features.detach().double().cpu()
    return f.mean(0), torch.cov(f.T)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017).

    ``|mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))``; the trace of the matrix square
    root is the sum of the square roots of the eigenvalues of ``S_r S_f`` (real and
    non-negative for covariance matrices; tiny negative round-off is clamped).
    """
    _finite("Frechet distance", real=real, fake=fake)
    mu_r, s_r = _stats(real)
    mu_f, s_f = _stats(fake)
    eig = torch.linalg.eigvals(s_r @ s_f).real.clamp_min(0)
    value = (mu_r - mu_f).pow(2).sum() + torch.trace(s_r) + torch.trace(s_f) - 2 * eig.sqrt().sum()
    return float(value.clamp_min(0))


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 50,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): unbiased MMD^2 with the kernel (x.y / d + 1)^3, mean and std over subsets."""
    _finite("KID", real=real, fake=fake)
    r, f = real.detach().double().cpu(), fake.detach().double().cpu()
    m = min(subset_size, len(r), len(f))
    d = r.shape[1]
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        x = r[torch.randperm(len(r), generator=g)[:m]]
        y = f[torch.randperm(len(f), generator=g)[:m]]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        off = 1 - torch.eye(m, dtype=torch.float64)
        mmd = (kxx * off).sum() / (m * (m - 1)) + (kyy * off).sum() / (m * (m - 1)) - 2 * kxy.mean()
        values.append(float(mmd))
    t = torch.tensor(values)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour balls.

    Precision: the share of generated samples inside some real sample's k-NN ball (quality);
    recall: the share of real samples inside some generated sample's k-NN ball (coverage).
    """
    r, f = real.detach().float().cpu(), fake.detach().float().cpu()

    def radii(x: torch.Tensor) -> torch.Tensor:
        dist = torch.cdist(x, x)
        return dist.kthvalue(min(k + 1, len(x)), dim=1).values  # +1: each point is its own 0-distance neighbour

    def covered(points: torch.Tensor, centres: torch.Tensor, r_centres: torch.Tensor) -> float:
        inside = torch.zeros(len(points), dtype=torch.bool)
        for chunk in range(0, len(points), 1024):  # bounded memory
            d = torch.cdist(points[chunk:chunk + 1024], centres)
            inside[chunk:chunk + 1024] = (d <= r_centres[None, :]).any(dim=1)
        return float(inside.float().mean())

    return covered(f, r, radii(r)), covered(r, f, radii(f))


def class_histogram_kl(predicted: torch.Tensor, reference: torch.Tensor, num_classes: int) -> float:
    """KL(histogram of generated classes || histogram of the data's classes), in nats."""
    p = torch.bincount(predicted.cpu(), minlength=num_classes).double()
    q = torch.bincount(reference.cpu(), minlength=num_classes).double()
    p, q = p / p.sum(), q / q.sum()
    nz = p > 0
    return float((p[nz] * (p[nz] / q[nz].clamp_min(1e-12)).log()).sum())
