"""DiffAugment: Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training", arXiv:2006.10738 (NeurIPS 2020).

The same random, differentiable transformations are applied to every batch D sees, real and
generated, in D's steps and in G's. Augmenting only the real images would teach G to generate
augmented images; augmenting both, differentiably, keeps D from memorizing a small training set
while G still learns the undistorted distribution. The paper's three policies, per sample:

- ``color``: brightness + U(-0.5, 0.5); saturation (distance from the grey value) x U(0, 2);
  contrast (distance from the image mean) x U(0.5, 1.5);
- ``translation``: a shift of up to 1/8 of the image size (rounded) in each direction, integer
  pixels, with zero padding;
- ``cutout``: a square of half the image size (rounded) set to zero, centred anywhere in the image.

``policy`` combines them, comma-separated, applied in that order: ``--augment
diffaugment:policy=translation,cutout`` (what the paper's CIFAR-10 BigGAN results use; the
default, all three, is its recommendation for datasets of a few hundred or thousand images).
``p`` (default 1, as in the paper) is the probability that each transformation is applied to
a sample; ``p=0`` leaves every batch unchanged.

Images only: vector data (the 2-D mixtures) has no pixels to shift, cut out or recolour, so it
is refused with a ShapeMismatchError rather than given a made-up meaning.
"""

from __future__ import annotations

import difflib
import math

import torch

import ganzoo

from . import transforms as T

__all__ = ["POLICIES", "DiffAugment"]

POLICIES = ("color", "translation", "cutout")
TRANSLATION = 1 / 8  # the largest shift, as a share of the image size
CUTOUT = 1 / 2  # the cut square's side, as a share of the image size


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ``("translation", "cutout")``, in the paper's order; an unknown name is refused."""
    if not isinstance(policy, str):
        raise ganzoo.ConfigError(f"policy must be a text such as 'translation,cutout', got {policy!r}")
    names = [name.strip() for name in policy.split(",") if name.strip()]
    if not names:
        raise ganzoo.ConfigError(f"policy is empty; name one or more of {', '.join(POLICIES)} "
                                 "(e.g. --augment diffaugment:policy=translation,cutout)")
    for name in names:
        if name not in POLICIES:
            close = difflib.get_close_matches(name, POLICIES, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise ganzoo.ConfigError(f"unknown policy {name!r}{hint} Policies: {', '.join(POLICIES)}, "
                                     "comma-separated (e.g. --augment diffaugment:policy=translation,cutout)")
    return tuple(name for name in POLICIES if name in names)


def check_probability(name: str, value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ganzoo.ConfigError(f"{name} must be {what}, got {value!r}")
    return float(value)


def images_only(augmentation: str, data_shape: tuple[int, ...]) -> None:
    """Refuse anything but ``(C, H, W)`` images."""
    if len(data_shape) != 3:
        raise ganzoo.ShapeMismatchError(
            f"--augment {augmentation} transforms images (C, H, W); this dataset holds "
            f"{math.prod(data_shape)}-d vectors, which have no pixels to shift, turn or recolour. "
            "Train without --augment, or on an image dataset")


class DiffAugment(ganzoo.Augmentation):
    """The paper's ``color``, ``translation`` and ``cutout``, each applied to a sample with probability ``p``."""

    def __init__(self, policy: str = "color,translation,cutout", p: float = 1.0) -> None:
        self.policy = parse_policy(policy)
        self.strength = check_probability("p", p, "a probability in [0, 1] (of each transformation, per sample)")

    def check_shape(self, data_shape: tuple[int, ...]) -> None:
        images_only("diffaugment", data_shape)

    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, _, h, w = x.shape

        def picked() -> torch.Tensor:  # the samples a transformation is applied to
            return T.draw(n, x, generator) < self.strength

        def uniform(low: float, high: float, neutral: float) -> torch.Tensor:  # per sample; neutral if not picked
            value = T.draw(n, x, generator) * (high - low) + low
            return torch.where(picked(), value, neutral)

        for name in self.policy:
            if name == "color":
                x = T.brightness(x, uniform(-0.5, 0.5, 0.0))
                x = T.saturation(x, uniform(0.0, 2.0, 1.0))
                x = T.contrast(x, uniform(0.5, 1.5, 1.0), around_mean=True)
            elif name == "translation":
                sy, sx = int(h * TRANSLATION + 0.5), int(w * TRANSLATION + 0.5)
                dy = torch.randint(-sy, sy + 1, (n,), generator=generator, device=x.device)
                dx = torch.randint(-sx, sx + 1, (n,), generator=generator, device=x.device)
                applied = picked()
                grid = T.Coordinates.identity(x)
                grid.unshift(dy * applied, dx * applied, reflect=False)
                x = grid.gather(x)
            else:  # cutout
                ch, cw = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
                cy = torch.randint(0, h + (1 - ch % 2), (n,), generator=generator, device=x.device)
                cx = torch.randint(0, w + (1 - cw % 2), (n,), generator=generator, device=x.device)
                x = T.cutout(x, cy, cx, ch, cw, applied=picked())
        return x
