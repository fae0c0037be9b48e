"""PacGAN: Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative
adversarial networks", arXiv:1712.04086 (NeurIPS 2018).

The discriminator judges *packs* of m samples, all real or all generated, instead of
single samples. A generator that drops modes makes packs that are too alike, which is
easier to spot from m samples at once; the paper shows that packing penalizes mode
collapse and reports more modes covered on the 2-D ring and grid than without packing.

- G: the MLP generator of the vanilla ``gan`` (``ganzoo_gan``), unchanged.
- D: the ``gan`` MLP discriminator with an input layer ``pack`` times wider. A batch
  ``(N, *data_shape)`` is flattened to ``(N, d)``, reshaped to ``(N / pack, pack * d)``
  (consecutive samples form a pack), scored, and each pack's logit is repeated ``pack``
  times. D thus keeps ganzoo's contract of one logit per sample, shape ``(N,)``, so every
  loss and the one trainer work unchanged: a loss's mean over the ``N`` repeated logits
  equals its mean over the ``N / pack`` packs. A batch size that ``pack`` does not
  divide is refused. ``pack=4`` (the default) is the paper's PacGAN4; ``pack=1`` is the
  unpacked ``gan`` discriminator.
- ``spectral_norm=True`` wraps each Linear layer of D in spectral normalization
  (Miyato et al. 2018, arXiv:1802.05957): one power iteration per forward pass keeps
  each layer's largest singular value near 1. Off by default.

A gradient penalty differentiates ``D(x).sum()``; since each pack logit appears ``pack``
times in that sum, a penalty on the squared gradient norm is ``pack`` times stronger
than on an unpacked D with the same weight.

Labels are ignored (unconditional). Images are flattened like in ``gan``. How it does on
the 2-D mixtures (recipe ``pacgan``) is in docs/results.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from ganzoo_gan import DEPTH, HIDDEN, MLPGenerator, check_mlp_options, discriminator_mlp
from torch import nn

import ganzoo

__all__ = ["PACK", "PackedDiscriminator", "pack_samples", "unpack_logits"]

PACK = 4  # samples per pack: PacGAN4


def check_pack(pack: int) -> None:
    if not isinstance(pack, int) or isinstance(pack, bool) or pack < 1:
        raise ganzoo.ConfigError(f"pacgan: pack must be a positive integer (samples per pack), got {pack!r}")


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """``(N, ...)`` -> ``(N / pack, pack * d)``: consecutive samples, flattened, side by side."""
    n = x.shape[0]
    if n % pack:
        lower, upper = n - n % pack, n + pack - n % pack
        raise ganzoo.ConfigError(
            f"pacgan: a batch of {n} samples cannot be split into packs of {pack}; use a batch size that "
            f"{pack} divides (e.g. {lower or upper} or {upper}), or another pack (--model pack=...)"
        )
    return x.reshape(n // pack, pack * math.prod(x.shape[1:]))


def unpack_logits(logits: torch.Tensor, pack: int) -> torch.Tensor:
    """One logit per pack, ``(N / pack,)`` -> one per sample, ``(N,)``: each repeated ``pack`` times."""
    return logits.repeat_interleave(pack)


class PackedDiscriminator(ganzoo.Discriminator):
    """Packs of ``pack`` flattened samples -> MLP -> one logit per pack, repeated per sample."""

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0, hidden: int = HIDDEN,
                 depth: int = DEPTH, pack: int = PACK, spectral_norm: bool = False) -> None:
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        check_mlp_options("pacgan", hidden, depth)
        check_pack(pack)
        self.pack = pack
        self.batch_multiple = pack
        self.net = discriminator_mlp(pack * math.prod(self.data_shape), hidden, depth)
        if spectral_norm:
            for i, layer in enumerate(self.net):
                if isinstance(layer, nn.Linear):
                    self.net[i] = nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return unpack_logits(self.net(pack_samples(x, self.pack)).view(-1), self.pack)


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    register(ganzoo.Architecture(
        name="pacgan",
        generator=MLPGenerator,
        discriminator=PackedDiscriminator,
        description="PacGAN: the gan MLPs, D judging packs of m samples (default 4); optional spectral norm",
        paper="Lin et al. 2018, arXiv:1712.04086",
        conditional=False,
        default_loss="non-saturating",
        defaults={"latent_dim": 100, "hidden": HIDDEN, "depth": DEPTH, "batchnorm": True, "pack": PACK,
                  "spectral_norm": False},
    ))
