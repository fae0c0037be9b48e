"""Conditional GANs: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
arXiv:1411.1784, and the projection discriminator of Miyato & Koyama 2018, "cGANs with
Projection Discriminator", arXiv:1802.05637.

Three architectures, all conditional (they need labelled data and labels at forward):

- ``cgan``: the paper's MLP form. The class label enters as a one-hot vector
  concatenated to z in G and to the flattened sample in D; the MLPs are those of the
  vanilla ``gan`` (``ganzoo_gan``), so vectors and images both work.
- ``cdcgan``: a conditional DCGAN. G is the DCGAN generator (``ganzoo_dcgan``) fed
  ``[z, one_hot(y)]`` as its ``(N, latent + K, 1, 1)`` input; D is the DCGAN
  discriminator whose input carries the one-hot label as K extra constant channels,
  so its first convolution sees ``C + K`` channels.
- ``cdcgan-proj``: the cdcgan generator with a projection discriminator. D sees only the
  image; with ``phi(x)`` its final ``s0 x s0`` features and ``h`` their sum over space,
  ``logit = readout(phi(x)) + <embed(y), h>``: the label picks a direction in feature
  space instead of being concatenated, which is what the projection paper argues
  matches the form of the optimal conditional discriminator.

The convolutional and MLP stacks are imported from the sibling plugins, never copied.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from ganzoo_dcgan import (
    BASE_CHANNELS,
    discriminator_features,
    discriminator_readout,
    generator_body,
    image_layout,
    resolve_widths,
)
from ganzoo_gan import DEPTH, HIDDEN, check_mlp_options, discriminator_mlp, generator_mlp
from torch import nn

import ganzoo

__all__ = [
    "CDCGANDiscriminator",
    "CDCGANGenerator",
    "CGANDiscriminator",
    "CGANGenerator",
    "ProjectionDiscriminator",
    "one_hot",
    "require_classes",
    "require_labels",
]

# The convolutional forms' defaults, shared by cdcgan and cdcgan-proj.
CONV_DEFAULTS = {"latent_dim": 100, "base_channels": BASE_CHANNELS, "extra_layers": None}
PROJ_INIT_STD = 0.02  # class embeddings start small, like DCGAN weights, so initial logits stay O(1)


def require_classes(arch: str, num_classes: int) -> None:
    """Refuse unlabelled data in the constructor (the catalog also checks, but direct use may not)."""
    if int(num_classes) < 1:
        raise ganzoo.ShapeMismatchError(
            f"{arch} is conditional: it needs labelled data (num_classes >= 1), got num_classes={num_classes}. "
            "Pick a labelled dataset or an unconditional architecture."
        )


def require_labels(arch: str, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """The labels as class indices; refuses a missing tensor with a message saying what is needed."""
    if labels is None:
        raise ganzoo.ConfigError(
            f"{arch} is conditional: forward() needs labels, a LongTensor of N class indices in "
            f"0..{num_classes - 1}, got None"
        )
    return labels.long()


def one_hot(arch: str, labels: torch.Tensor | None, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """``(N, num_classes)`` one-hot rows in ``like``'s dtype (bf16 runs stay bf16); refuses missing labels."""
    return F.one_hot(require_labels(arch, labels, num_classes), num_classes).to(like.dtype)


class CGANGenerator(ganzoo.Generator):
    """[z, one_hot(y)] -> MLP -> sample of ``data_shape``."""

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0,
                 hidden: int = HIDDEN, depth: int = DEPTH, batchnorm: bool = True) -> None:
        require_classes("cgan", num_classes)
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        check_mlp_options("cgan", hidden, depth)
        self.net = generator_mlp(self.latent_dim + self.num_classes, self.data_shape, hidden, depth,
                                 bool(batchnorm))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = one_hot("cgan", labels, self.num_classes, z)
        return self.net(torch.cat([z, y], dim=1)).view(z.shape[0], *self.data_shape)


class CGANDiscriminator(ganzoo.Discriminator):
    """[flatten(x), one_hot(y)] -> MLP -> one logit."""

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 hidden: int = HIDDEN, depth: int = DEPTH) -> None:
        require_classes("cgan", num_classes)
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        check_mlp_options("cgan", hidden, depth)
        self.net = discriminator_mlp(math.prod(self.data_shape) + self.num_classes, hidden, depth)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = one_hot("cgan", labels, self.num_classes, x)
        return self.net(torch.cat([x.flatten(1), y], dim=1)).view(x.shape[0])


def conv_layout(arch: str, data_shape: tuple[int, ...], num_classes: int, base_channels: int,
                extra_layers: int | None, image_size: int | None) -> tuple[int, int, int, int]:
    """Check a conditional conv model's inputs: ``(channels, size, base_channels, extra_layers)``."""
    require_classes(arch, num_classes)
    channels, size = image_layout(data_shape, arch, "cgan", image_size)
    base_channels, resolved = resolve_widths(arch, size, base_channels, extra_layers)
    return channels, size, base_channels, resolved


class CDCGANGenerator(ganzoo.Generator):
    """The DCGAN generator fed ``[z, one_hot(y)]`` as a 1x1 map."""

    arch = "cdcgan"

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, extra_layers: int | None = None,
                 image_size: int | None = None) -> None:
        channels, size, base_channels, extra_layers = conv_layout(self.arch, data_shape, num_classes, base_channels,
                                                                  extra_layers, image_size)
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        self.extra_layers: int = extra_layers  # resolved from None (auto) for this size
        self.net = generator_body(self.latent_dim + self.num_classes, channels, size, base_channels,
                                  extra_layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = one_hot(self.arch, labels, self.num_classes, z)
        return self.net(torch.cat([z, y], dim=1).reshape(z.shape[0], -1, 1, 1))


class CDCGANDiscriminator(ganzoo.Discriminator):
    """The DCGAN discriminator on ``[x, one_hot(y) broadcast over H x W]`` (C + K channels)."""

    arch = "cdcgan"

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, extra_layers: int | None = None,
                 image_size: int | None = None) -> None:
        channels, size, base_channels, extra_layers = conv_layout(self.arch, data_shape, num_classes, base_channels,
                                                                  extra_layers, image_size)
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.extra_layers: int = extra_layers  # resolved from None (auto) for this size
        self.features, width = discriminator_features(channels + self.num_classes, size, base_channels,
                                                      extra_layers)
        self.readout = discriminator_readout(width, size)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = one_hot(self.arch, labels, self.num_classes, x)
        y = y[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # constant label planes
        return self.readout(self.features(torch.cat([x, y], dim=1))).view(x.shape[0])


class ProjectionGenerator(CDCGANGenerator):
    """Same network as the cdcgan generator; only the name in messages differs."""

    arch = "cdcgan-proj"


class ProjectionDiscriminator(ganzoo.Discriminator):
    """DCGAN features phi(x); logit = readout(phi(x)) + <embed(y), sum over space of phi(x)>."""

    arch = "cdcgan-proj"

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, extra_layers: int | None = None,
                 image_size: int | None = None) -> None:
        channels, size, base_channels, extra_layers = conv_layout(self.arch, data_shape, num_classes, base_channels,
                                                                  extra_layers, image_size)
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.extra_layers: int = extra_layers  # resolved from None (auto) for this size
        self.features, width = discriminator_features(channels, size, base_channels, extra_layers)
        self.readout = discriminator_readout(width, size)  # the unconditional term psi(phi(x))
        self.embed = nn.Embedding(self.num_classes, width)  # the class projection vectors V
        nn.init.normal_(self.embed.weight, 0.0, PROJ_INIT_STD)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = require_labels(self.arch, labels, self.num_classes)
        phi = self.features(x)
        h = phi.sum(dim=(2, 3))  # global sum pooling, as in the projection paper
        projection = (self.embed(y) * h).sum(dim=1)
        return self.readout(phi).view(x.shape[0]) + projection


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    register(ganzoo.Architecture(
        name="cgan",
        generator=CGANGenerator,
        discriminator=CGANDiscriminator,
        description="Conditional GAN (MLP): one-hot label concatenated to z and to D's input",
        paper="Mirza & Osindero 2014, arXiv:1411.1784",
        conditional=True,
        default_loss="non-saturating",
        defaults={"latent_dim": 100, "hidden": HIDDEN, "depth": DEPTH, "batchnorm": True},
    ))
    register(ganzoo.Architecture(
        name="cdcgan",
        generator=CDCGANGenerator,
        discriminator=CDCGANDiscriminator,
        description="Conditional DCGAN: one-hot label joins z in G and enters D as constant channels",
        paper="Mirza & Osindero 2014, arXiv:1411.1784; Radford et al. 2015, arXiv:1511.06434",
        conditional=True,
        default_loss="non-saturating",
        defaults=dict(CONV_DEFAULTS),
    ))
    register(ganzoo.Architecture(
        name="cdcgan-proj",
        generator=ProjectionGenerator,
        discriminator=ProjectionDiscriminator,
        description="Conditional DCGAN with a projection discriminator: logit + <embed(y), features>",
        paper="Miyato & Koyama 2018, arXiv:1802.05637; Radford et al. 2015, arXiv:1511.06434",
        conditional=True,
        default_loss="non-saturating",
        defaults=dict(CONV_DEFAULTS),
    ))
