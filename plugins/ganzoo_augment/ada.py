"""ADA, adaptive discriminator augmentation: Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020,
"Training Generative Adversarial Networks with Limited Data", arXiv:2006.06676 (NeurIPS 2020).

A pipeline of transformations, each applied to a sample with one probability ``p``, on every
batch D sees (real and generated, in D's steps and in G's). The transformations are
*non-leaking*: each is invertible in distribution (a flip, a turn or a shift applied with
probability below 1 can be told apart from its absence), so as long as ``p`` stays below about
0.8 G cannot lower its loss by generating augmented images and learns the clean data. The
pipeline here is the paper's "blit" group and the colour transformations that make sense for
grey and colour images alike, in the paper's order:

- x-flip: with probability ``p``, mirrored left to right half the time;
- 90-degree rotations: with probability ``p``, turned by 0, 90, 180 or 270 degrees (0 or 180
  for images that are not square);
- integer translation: with probability ``p``, shifted by up to 1/8 of the size in each
  direction, rounded to whole pixels, the image mirrored at its edges;
- brightness + N(0, 0.2); contrast x 2^N(0, 0.5) around mid-grey; and, for colour images,
  saturation x 2^N(0, 1) (each with probability ``p``).

``p`` adapts. After each D step the sign of D's logits on the real batch is summed; every
``interval`` D steps the overfitting signal r_t = E[sign(D(x_real))] (0: D undecided, 1: every
real image confidently real) moves ``p`` up when r_t is above ``target`` (default 0.6, the
paper's) and down otherwise, by (images seen in the interval) / (``kimg`` x 1000), clamped to
[0, 1]: ``p`` can go from 0 to 1 over ``kimg`` thousand real images. The paper uses 500 over
runs of 25 million images; ganzoo's default is 100, for runs of about a million (15,625 steps
of 64). ``p`` starts at ``p`` (default 0) and, with r_t, is logged with the run's metrics
(``augment_p``, ``augment_rt``) and kept in checkpoints, so a resumed run continues exactly.

Images only (vectors are refused), as for ``diffaugment``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

import ganzoo

from . import transforms as T
from .diffaugment import check_probability, images_only

__all__ = ["ADA"]

TRANSLATION = 1 / 8  # the largest integer shift, as a share of the image size
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # of log2 of the factor
SATURATION_STD = 1.0  # of log2 of the factor
_TENSORS = ("p", "sum", "rt")


class ADA(ganzoo.Augmentation):
    """Flips, 90-degree turns, integer shifts and colour, each with a probability ``p`` that follows D's overfitting."""

    def __init__(self, target: float = 0.6, interval: int = 4, kimg: float = 100.0, p: float = 0.0) -> None:
        self.target = check_probability("target", target, "a number in [0, 1] (the overfitting signal "
                                                          "E[sign(D(real))] that p steers towards)")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ganzoo.ConfigError(f"interval must be a positive whole number of D steps between adjustments "
                                     f"of p, got {interval!r}")
        self.interval = interval
        if isinstance(kimg, bool) or not isinstance(kimg, (int, float)) or not 0 < kimg < float("inf"):
            raise ganzoo.ConfigError(f"kimg must be a positive number (thousands of real images over which p can "
                                     f"go from 0 to 1), got {kimg!r}")
        self.kimg = float(kimg)
        start = check_probability("p", p, "a probability in [0, 1] (where p starts)")
        self._p = torch.tensor(start)  # the probability of each transformation: a tensor, so nothing waits for it
        self._sum = torch.tensor(0.0)  # signs of the real logits seen since the last adjustment
        self._rt = torch.tensor(0.0)  # the overfitting signal of the last completed interval
        self._count = 0  # real logits seen since the last adjustment
        self._calls = 0  # D steps since the last adjustment

    @property
    def strength(self) -> float:
        """``p`` (reading it waits for the device)."""
        return float(self._p)

    @strength.setter
    def strength(self, value: float) -> None:
        self._p = torch.full((), check_probability("p", value, "a probability in [0, 1]"), device=self._p.device)

    def check_shape(self, data_shape: tuple[int, ...]) -> None:
        images_only("ada", data_shape)

    def _follow(self, device: torch.device) -> None:
        """Keep the state on the data's device (moved once, at the first batch or after a restore)."""
        if self._p.device != device:
            self._p, self._sum, self._rt = (t.to(device) for t in (self._p, self._sum, self._rt))

    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self._follow(x.device)
        n, _, h, w = x.shape

        def picked() -> torch.Tensor:  # the samples a transformation is applied to: each with probability p
            return T.draw(n, x, generator) < self._p

        def normal() -> torch.Tensor:
            return torch.randn(n, generator=generator, device=x.device)

        # Flip, quarter turns and integer shift, in that order: one gather, the coordinates undone last first.
        flipped = (T.draw(n, x, generator) < 0.5) & picked()
        turns = torch.randint(0, 4, (n,), generator=generator, device=x.device) * picked()
        dy = ((T.draw(n, x, generator) * 2 - 1) * TRANSLATION * h).round().long()
        dx = ((T.draw(n, x, generator) * 2 - 1) * TRANSLATION * w).round().long()
        shifted = picked()
        grid = T.Coordinates.identity(x)
        grid.unshift(dy * shifted, dx * shifted, reflect=True)
        grid.unturn(turns)
        grid.unflip(flipped)
        x = grid.gather(x)
        # Colour: the neutral offset or factor for the samples not picked.
        x = T.brightness(x, torch.where(picked(), normal() * BRIGHTNESS_STD, 0.0))
        x = T.contrast(x, torch.where(picked(), torch.exp2(normal() * CONTRAST_STD), 1.0), around_mean=False)
        return T.saturation(x, torch.where(picked(), torch.exp2(normal() * SATURATION_STD), 1.0))

    def observe(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
        self._follow(real_logits.device)
        self._sum = self._sum + real_logits.detach().float().sign().sum()
        self._count += real_logits.numel()
        self._calls += 1
        if self._calls < self.interval:
            return
        rt = self._sum / self._count
        self._p = (self._p + torch.sign(rt - self.target) * (self._count / (self.kimg * 1000))).clamp(0, 1)
        self._rt = rt
        self._sum = torch.zeros_like(self._sum)
        self._count = self._calls = 0

    def metrics(self) -> dict[str, torch.Tensor]:
        return {"p": self._p, "rt": self._rt}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self._p.detach().cpu().clone(), "sum": self._sum.detach().cpu().clone(),
                "rt": self._rt.detach().cpu().clone(), "count": self._count, "calls": self._calls}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        tensors_ok = all(isinstance(state.get(k), torch.Tensor) and state[k].dim() == 0 for k in _TENSORS)
        counts_ok = all(isinstance(state.get(k), int) and state[k] >= 0 for k in ("count", "calls"))
        if not (tensors_ok and counts_ok):
            raise ganzoo.ConfigError(f"the saved state of ada is damaged: expected scalar tensors "
                                     f"{', '.join(_TENSORS)} and counts count, calls, got keys {sorted(state)}")
        device = self._p.device
        self._p, self._sum, self._rt = (state[k].float().to(device) for k in _TENSORS)
        self._count, self._calls = state["count"], state["calls"]
