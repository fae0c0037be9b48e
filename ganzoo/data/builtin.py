"""The built-in datasets: scikit-learn's digits and the 2-D Gaussian mixtures defined here, then the
downloaded ones (MNIST, Fashion-MNIST, CIFAR-10) and ``folder`` from their own modules."""

from __future__ import annotations

import math

import torch

from ..errors import DataError
from .cifar import CIFAR10_SPEC
from .core import DataOptions, Dataset, DatasetSpec
from .folder import FOLDER_SPEC
from .mnist import FASHION_SPEC, MNIST_SPEC

__all__ = ["BUILTIN_DATASETS", "STACKED_SIZE", "grid25_centers", "load_digits", "load_stacked_digits",
           "ring8_centers"]

MIXTURE_SIZE = 100_000  # points drawn once (fixed seed) for the 2-D mixtures
MIXTURE_SEED = 0

RING_RADIUS, RING_STD = 1.0, 0.01  # VEEGAN (Srivastava et al. 2017) / PacGAN (Lin et al. 2018)
GRID_STD = 0.05


def ring8_centers() -> torch.Tensor:
    """8 centres on the unit circle at angles 2*pi*k/8, k = 0..7 (not linspace(0, 2*pi, 8))."""
    angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    return (RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_centers() -> torch.Tensor:
    """25 centres at {-4, -2, 0, 2, 4}^2, row-major."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(ticks, ticks)


def _mixture(name: str, centers: torch.Tensor, std: float) -> Dataset:
    g = torch.Generator().manual_seed(MIXTURE_SEED)
    labels = torch.randint(len(centers), (MIXTURE_SIZE,), generator=g)
    points = centers[labels] + std * torch.randn(MIXTURE_SIZE, 2, generator=g)
    return Dataset(name=name, data=points, labels=labels, num_classes=len(centers),
                   preprocessing={"mixture": {"centers": len(centers), "std": std, "seed": MIXTURE_SEED}})


def load_ring8(options: DataOptions) -> Dataset:
    return _mixture("ring8", ring8_centers(), RING_STD)


def load_grid25(options: DataOptions) -> Dataset:
    return _mixture("grid25", grid25_centers(), GRID_STD)


def load_digits(options: DataOptions) -> Dataset:
    """scikit-learn's bundled 1,797 handwritten digits, 8x8, 17 grey levels (0-16) scaled to 0-255."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("the 'digits' dataset needs scikit-learn: pip install scikit-learn") from exc
    bunch = sk_load_digits()
    pixels = torch.as_tensor(bunch.images, dtype=torch.float32)  # (1797, 8, 8) in 0..16
    data = (pixels * (255.0 / 16.0)).round().to(torch.uint8).unsqueeze(1)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return Dataset(name="digits", data=data, labels=labels, num_classes=10,
                   class_names=[str(i) for i in range(10)])


STACKED_SIZE = 60_000  # images drawn once (fixed seed) for stacked-digits


def load_stacked_digits(options: DataOptions) -> Dataset:
    """Three digits drawn independently and stacked as R, G and B: 1,000 modes (labels 100*r + 10*g + b).

    An 8x8 analogue of Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017), built
    from scikit-learn's digits; not the same benchmark.
    """
    digits = load_digits(options)
    g = torch.Generator().manual_seed(MIXTURE_SEED)
    idx = torch.randint(len(digits), (STACKED_SIZE, 3), generator=g)
    data = digits.data[idx.flatten(), 0].view(STACKED_SIZE, 3, 8, 8).contiguous()
    assert digits.labels is not None
    parts = digits.labels[idx]
    labels = parts[:, 0] * 100 + parts[:, 1] * 10 + parts[:, 2]
    return Dataset(name="stacked-digits", data=data, labels=labels, num_classes=1000,
                   class_names=[f"{i:03d}" for i in range(1000)],
                   preprocessing={"stacked": {"from": "digits", "channels": 3, "seed": MIXTURE_SEED}})


BUILTIN_DATASETS = [
    DatasetSpec(
        name="digits", load=load_digits, shape=(1, 8, 8), size=1797, num_classes=10,
        description="Handwritten digits 0-9, 8x8 grey (bundled with scikit-learn; the offline default)",
        source="scikit-learn (UCI optical recognition of handwritten digits)",
    ),
    DatasetSpec(
        name="ring8", load=load_ring8, shape=(2,), size=MIXTURE_SIZE, num_classes=8,
        description="8 Gaussians on the unit circle, std 0.01 (VEEGAN/PacGAN mode-collapse protocol)",
        source="synthetic",
    ),
    DatasetSpec(
        name="grid25", load=load_grid25, shape=(2,), size=MIXTURE_SIZE, num_classes=25,
        description="25 Gaussians on a 5x5 grid {-4..4}^2, std 0.05 (VEEGAN/PacGAN protocol)",
        source="synthetic",
    ),
    DatasetSpec(
        name="stacked-digits", load=load_stacked_digits, shape=(3, 8, 8), size=STACKED_SIZE, num_classes=1000,
        description="Three digits stacked as RGB, 1,000 modes (an 8x8 analogue of Stacked MNIST)",
        source="synthetic, from scikit-learn's digits",
    ),
    MNIST_SPEC,
    FASHION_SPEC,
    CIFAR10_SPEC,
    FOLDER_SPEC,
]
