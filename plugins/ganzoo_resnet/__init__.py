"""ResNet GANs: SNGAN's residual networks (Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral
Normalization for Generative Adversarial Networks", arXiv:1802.05957) and their conditional
form with conditional BatchNorm and a projection discriminator (Miyato & Koyama 2018, "cGANs
with Projection Discriminator", arXiv:1802.05637), the design BigGAN scaled up (Brock,
Donahue & Simonyan 2019, arXiv:1809.11096).

Two architectures:

- ``resnet``: unconditional, SNGAN.
- ``resnet-cond``: conditional. G's BatchNorm layers get a gain and a bias per class, D adds
  a projection term. Needs labelled data (``fashion-mnist``, ``digits``, ``stacked-digits``,
  ``cifar10``, ``folder`` with class sub-folders).

The rules, and where each comes from:

- **Residual blocks** (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs",
  arXiv:1704.00028, appendix; the ResNet networks of SNGAN's appendix). G's up-block:
  BatchNorm, ReLU, nearest-neighbour x2 up-sampling, 3x3 conv, BatchNorm, ReLU, 3x3 conv,
  plus a shortcut that is a 1x1 conv of the up-sampled input (done here as the 1x1 conv
  then the up-sampling: nearest-neighbour up-sampling commutes with a 1x1 conv, and it
  costs a quarter). D's down-block: ReLU, 3x3 conv, ReLU, 3x3 conv, 2x2 average pooling,
  plus a shortcut 1x1 conv then pooling; a block that keeps the size and the width has the
  identity as its shortcut.
- **D's first block is "optimized"** (the same sources' code): its first conv comes before
  any activation (a ReLU on the input image would discard its negative half), and its
  shortcut pools first, then applies the 1x1 conv.
- **G**: z ~ N(0, I) of ``latent_dim=128``; a linear layer to an ``s0 x s0`` map; one
  up-block per doubling; then BatchNorm, ReLU, a 3x3 conv to the image channels and tanh.
- **D**: no BatchNorm; after the blocks a ReLU, a *sum* over the spatial positions (global
  sum pooling, SNGAN) and a linear read-out to one logit.
- **Spectral normalization on every layer of D** (the read-out and the class embedding
  included), none in G (SNGAN). ``torch.nn.utils.parametrizations.spectral_norm``: one
  power iteration per training forward pass; its vectors ``u`` and ``v`` are buffers of
  D (``...parametrizations.weight.0._u`` / ``._v``), so they are saved with the weights
  and in checkpoints, and a resumed run continues them exactly.
- **Initialization** as in the SNGAN authors' code: Xavier-uniform (Glorot & Bengio 2010)
  with gain sqrt(2) for the two convs of every residual branch, gain 1 for shortcuts, the
  linear layers, G's output conv and the class embedding; biases 0.
- **Training** (``train_defaults``, SNGAN's ResNet setting, also Mimicry's CIFAR-10
  reproduction, Lee & Town 2020): 5 D steps per G step, Adam with learning rate 2e-4 for
  both networks and betas (0, 0.9). The default loss is the hinge loss (Lim & Ye 2017,
  arXiv:1705.02894), the loss of SNGAN's ResNet results. Options the user gives win.
  Mimicry's reproduction also lets the learning rates fall linearly to 0 over the run:
  ``--lr-decay 1``.
- **Conditioning** (``resnet-cond``): every BatchNorm inside G's blocks normalizes without
  its own affine parameters, then multiplies by a gain and adds a bias looked up for the
  sample's class (conditional BatchNorm, de Vries et al. 2017, arXiv:1707.00683, as used by
  Miyato & Koyama). Gains start at N(1, 0.02) and biases at 0, so G starts close to the
  unconditional network but already depends on the label. G's last BatchNorm stays plain.
  D's logit is ``readout(h) + <embed(y), h>`` with ``h`` the summed features (the
  projection discriminator). BigGAN's further devices (a shared class embedding feeding
  linear layers, splitting z across blocks, self-attention, orthogonal regularization) are
  left out.

**Sizes.** A square image of size ``S = s0 * 2**k`` with ``s0`` in 4..7 and ``k >= 1``
(as for ``dcgan``: 8, 10, ..., 16, 28, 32, 64, 128, ...; other sizes are refused, naming
the nearest that works). A map of size ``s0 * 2**j`` is at level ``j``. G starts at level 0
and has ``k`` up-blocks. D halves the map in its optimized block and then in further
down-blocks until it reaches level 1 (``2 * s0``: 8x8 for 32x32 images, 14x14 for 28x28;
level 0 when ``k = 1``), then runs two blocks that keep the size. Widths: ``base_channels``
(G, default 256) and ``d_channels`` (D, default half of ``base_channels``) at every level up
to 3, halving with each level above it (so a 64x64 model's largest maps are half as wide,
a 128x128 model's a quarter). With the defaults, ``--image-size 32`` (or CIFAR-10) is
SNGAN's CIFAR-10 network exactly: G 256 channels and three up-blocks from 4x4, D 128
channels with two down-blocks to 8x8 and two blocks at 8x8. ``image_size`` pins the network
to one size, as for ``dcgan``: data of another size is then refused before training.

The blocks and layout helpers are public, for plugins that build on them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from ganzoo_cgan import require_classes, require_labels
from ganzoo_dcgan import dcgan_layout, image_layout
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo

__all__ = [
    "BASE_CHANNELS",
    "LATENT_DIM",
    "TRAIN_DEFAULTS",
    "ConditionalBatchNorm2d",
    "ConditionalResNetDiscriminator",
    "ConditionalResNetGenerator",
    "DiscriminatorBlock",
    "GeneratorBlock",
    "OptimizedBlock",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "discriminator_plan",
    "generator_widths",
    "resolve_channels",
    "width_at",
]

LATENT_DIM = 128  # z's size (SNGAN)
BASE_CHANNELS = 256  # G's width up to level 3 (SNGAN's CIFAR-10 G); D's defaults to half of it (128)
FULL_WIDTH_LEVELS = 3  # levels 0..3 (up to 32x32 for s0 = 4) get the full width; each level above halves it
FLAT_BLOCKS = 2  # D's blocks that keep the size, after the last halving (SNGAN's CIFAR-10 D)
CBN_GAIN_STD = 0.02  # conditional gains start at N(1, 0.02): near plain BatchNorm, but label-dependent
TRAIN_DEFAULTS = {"d_steps": 5, "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.9)}  # SNGAN's ResNet setting


def width_at(base: int, level: int) -> int:
    """The width of a map at ``level`` (size ``s0 * 2**level``): ``base`` up to level 3, halved per level above."""
    return max(1, base >> max(0, level - FULL_WIDTH_LEVELS))


def generator_widths(base: int, k: int) -> list[int]:
    """G's widths at levels 0..k: the projected map, then each up-block's output."""
    return [width_at(base, j) for j in range(k + 1)]


def discriminator_plan(channels: int, base: int, k: int) -> list[tuple[int, int, bool]]:
    """D's blocks as ``(in, out, halves)``: the optimized block first, down to level 1 (0 if k = 1), then two flat."""
    level = k - 1  # after the optimized block
    plan = [(channels, width_at(base, level), True)]
    while level > 1:
        plan.append((width_at(base, level), width_at(base, level - 1), True))
        level -= 1
    plan += [(width_at(base, level), width_at(base, level), False)] * FLAT_BLOCKS
    return plan


def resolve_channels(arch: str, base_channels: int, d_channels: int | None) -> tuple[int, int]:
    """Check the width options; ``d_channels=None`` becomes half of ``base_channels`` (at least 1)."""
    if isinstance(base_channels, bool) or not isinstance(base_channels, int) or base_channels < 1:
        raise ganzoo.ConfigError(f"{arch}: base_channels must be a positive integer (G's width), "
                                 f"got {base_channels!r}")
    if d_channels is None:
        return base_channels, max(1, base_channels // 2)
    if isinstance(d_channels, bool) or not isinstance(d_channels, int) or d_channels < 1:
        raise ganzoo.ConfigError(f"{arch}: d_channels must be a positive integer (D's width) or null (half of "
                                 f"base_channels), got {d_channels!r}; e.g. -o d_channels=128")
    return base_channels, d_channels


_Layer = TypeVar("_Layer", nn.Conv2d, nn.Linear, nn.Embedding)


def _xavier(layer: _Layer, gain: float = 1.0) -> _Layer:
    nn.init.xavier_uniform_(layer.weight, gain)
    bias = getattr(layer, "bias", None)
    if bias is not None:
        nn.init.zeros_(bias)
    return layer


def _conv(c_in: int, c_out: int, kernel: int, gain: float = 1.0) -> nn.Conv2d:
    return _xavier(nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2), gain)


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without affine parameters, then a gain and a bias looked up for each sample's class."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.gain.weight, 1.0, CBN_GAIN_STD)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.gain(labels)[:, :, None, None] + self.bias(labels)[:, :, None, None]


def _normalize(norm: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return norm(x, labels) if isinstance(norm, ConditionalBatchNorm2d) else norm(x)


class GeneratorBlock(nn.Module):
    """Up-block: [BN, ReLU, up x2, 3x3 conv, BN, ReLU, 3x3 conv] + up x2 of a 1x1 conv of the input."""

    def __init__(self, c_in: int, c_out: int, num_classes: int = 0) -> None:
        super().__init__()

        def norm(channels: int) -> nn.Module:
            return ConditionalBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)

        self.norm1 = norm(c_in)
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.norm2 = norm(c_out)
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(_up(F.relu(_normalize(self.norm1, x, labels))))
        h = self.conv2(F.relu(_normalize(self.norm2, h, labels)))
        return h + _up(self.shortcut(x))


class OptimizedBlock(nn.Module):
    """D's first block: [3x3 conv, ReLU, 3x3 conv, 2x2 avg-pool] + 1x1 conv of the pooled input."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = spectral_norm(_conv(c_in, c_out, 3, math.sqrt(2)))
        self.conv2 = spectral_norm(_conv(c_out, c_out, 3, math.sqrt(2)))
        self.shortcut = spectral_norm(_conv(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DiscriminatorBlock(nn.Module):
    """[ReLU, 3x3 conv, ReLU, 3x3 conv, (2x2 avg-pool)] + shortcut (1x1 conv, then pool) or the identity."""

    def __init__(self, c_in: int, c_out: int, halves: bool) -> None:
        super().__init__()
        self.halves = halves
        self.conv1 = spectral_norm(_conv(c_in, c_out, 3, math.sqrt(2)))
        self.conv2 = spectral_norm(_conv(c_out, c_out, 3, math.sqrt(2)))
        self.shortcut = spectral_norm(_conv(c_in, c_out, 1)) if halves or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.halves:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class ResNetGenerator(ganzoo.Generator):
    """z -> linear to an s0 x s0 map -> k up-blocks -> BN, ReLU, 3x3 conv, tanh."""

    arch = "resnet"
    conditional = False

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, d_channels: int | None = None,
                 image_size: int | None = None) -> None:
        if self.conditional:
            require_classes(self.arch, num_classes)
        channels, size = image_layout(data_shape, self.arch, "cgan" if self.conditional else "gan", image_size)
        base_channels, _ = resolve_channels(self.arch, base_channels, d_channels)
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        s0, k = dcgan_layout(size, self.arch)
        widths = generator_widths(base_channels, k)
        classes = self.num_classes if self.conditional else 0
        self.s0, self.width = s0, widths[0]
        self.project = _xavier(nn.Linear(self.latent_dim, widths[0] * s0 * s0))
        self.blocks = nn.ModuleList(GeneratorBlock(a, b, classes) for a, b in itertools.pairwise(widths))
        self.norm = nn.BatchNorm2d(widths[-1])
        self.to_image = _conv(widths[-1], channels, 3)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = require_labels(self.arch, labels, self.num_classes) if self.conditional else None
        h = self.project(z).view(z.shape[0], self.width, self.s0, self.s0)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.to_image(F.relu(self.norm(h))))


class ResNetDiscriminator(ganzoo.Discriminator):
    """image -> optimized block -> down-blocks -> two flat blocks -> ReLU, global sum -> linear -> one logit."""

    arch = "resnet"
    conditional = False

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, d_channels: int | None = None,
                 image_size: int | None = None) -> None:
        if self.conditional:
            require_classes(self.arch, num_classes)
        channels, size = image_layout(data_shape, self.arch, "cgan" if self.conditional else "gan", image_size)
        _, d_channels = resolve_channels(self.arch, base_channels, d_channels)
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        _, k = dcgan_layout(size, self.arch)
        plan = discriminator_plan(channels, d_channels, k)
        self.d_channels: int = d_channels  # resolved from None (half of base_channels)
        first = OptimizedBlock(plan[0][0], plan[0][1])
        self.blocks = nn.Sequential(first, *(DiscriminatorBlock(a, b, halves) for a, b, halves in plan[1:]))
        width = plan[-1][1]
        self.readout = spectral_norm(_xavier(nn.Linear(width, 1)))
        if self.conditional:  # the projection: one vector per class, compared with the pooled features
            self.embed = spectral_norm(_xavier(nn.Embedding(self.num_classes, width)))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        y = require_labels(self.arch, labels, self.num_classes) if self.conditional else None
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        logits = self.readout(h).view(x.shape[0])
        if y is not None:
            logits = logits + (self.embed(y) * h).sum(dim=1)
        return logits


class ConditionalResNetGenerator(ResNetGenerator):
    """The resnet generator with a conditional BatchNorm in every up-block."""

    arch = "resnet-cond"
    conditional = True


class ConditionalResNetDiscriminator(ResNetDiscriminator):
    """The resnet discriminator plus the projection term <embed(y), h>."""

    arch = "resnet-cond"
    conditional = True


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    defaults = {"latent_dim": LATENT_DIM, "base_channels": BASE_CHANNELS, "d_channels": None, "image_size": None}
    register(ganzoo.Architecture(
        name="resnet",
        generator=ResNetGenerator,
        discriminator=ResNetDiscriminator,
        description="SNGAN ResNet: residual up-/down-blocks, spectral norm in D, hinge loss, 5 D steps per G step",
        paper="Miyato et al. 2018, arXiv:1802.05957",
        conditional=False,
        default_loss="hinge",
        defaults=dict(defaults),
        train_defaults=dict(TRAIN_DEFAULTS),
    ))
    register(ganzoo.Architecture(
        name="resnet-cond",
        generator=ConditionalResNetGenerator,
        discriminator=ConditionalResNetDiscriminator,
        description="Conditional SNGAN ResNet: conditional BatchNorm in G, projection discriminator",
        paper="Miyato & Koyama 2018, arXiv:1802.05637; Miyato et al. 2018, arXiv:1802.05957",
        conditional=True,
        default_loss="hinge",
        defaults=dict(defaults),
        train_defaults=dict(TRAIN_DEFAULTS),
    ))
