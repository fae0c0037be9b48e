"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434.

The paper's architecture guidelines (section 3), followed here:

- no pooling: D downsamples with strided convolutions (kernel 4, stride 2, padding 1),
  G upsamples with transposed ("fractionally-strided") convolutions;
- no hidden fully-connected layers: G's first layer is a transposed convolution that
  projects z, seen as ``(N, latent, 1, 1)``, to an ``s0 x s0`` map (kernel ``s0``, stride 1);
  D's last layer is a convolution with kernel ``s0`` that reads out one logit;
- BatchNorm in G on every layer but the output, in D on every layer but the first and
  the read-out;
- ReLU in G with tanh on its output; LeakyReLU(0.2) in D;
- weights drawn from N(0, 0.02), BatchNorm scales from N(1, 0.02), biases 0.

Depth is derived from the image size: a square image of size ``S = s0 * 2**k`` with
``s0`` in 4..7 and ``k >= 1`` (``k`` as large as possible) gets ``k + 1`` transposed
convolutions in G and ``k`` strided convolutions plus the read-out in D, so 8x8 digits,
28x28 MNIST, 32x32 CIFAR-10 and 64x64 faces all fit without resizing. Widths are
``base_channels`` at the highest hidden resolution and double at each halving (the
paper's 64x64 model is ``base_channels=128``: 1024 channels at 4x4).
``extra_layers`` adds stride-1 3x3 blocks (BatchNorm + ReLU in G, LeakyReLU in D) at
the highest hidden resolution, as the original dcgan.torch code allowed. In G they are
transposed convolutions too (stride 1 makes that the same layer as a convolution), so
G stays "transposed convolutions only".

Defaults: ``base_channels=64``, ``latent_dim=100`` and ``extra_layers=None`` ("auto"):
2 extra blocks when the derived depth is ``k = 1`` (sizes 8 to 14), none otherwise.
Why: the paper's rules alone give an 8x8 image ``k = 1``, so D is one conv layer and a
read-out (about 2,100 parameters); it never learned to tell digits from blobs (its loss
stayed at 2 ln 2) and G drew blurred strokes. On ``digits`` (4000 steps, batch 64, Adam
2e-4/0.5, 2 seeds), scored by a digit classifier, one extra block gave an
Inception-style score of 7.8 and two gave 8.3 (real held-out digits: 9.4), at 55 steps/s
on 2 CPU cores. At larger sizes the blocks run at size/2 and are costly (two made a
64x64 step 4x slower) while the paper's depth already suffices, so auto adds none.

The builders (:func:`generator_body`, :func:`discriminator_features`,
:func:`discriminator_readout`, :func:`image_layout`) are public: the conditional
variants in ``ganzoo_cgan`` reuse them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

import ganzoo

__all__ = [
    "BASE_CHANNELS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "dcgan_layout",
    "discriminator_features",
    "discriminator_readout",
    "generator_body",
    "image_layout",
    "init_dcgan_weights",
    "resolve_widths",
    "supported_sizes",
]

MIN_BASE, MAX_BASE = 4, 7  # the smallest map G starts from / D reads out from is s0 x s0, s0 in 4..7
LEAK = 0.2  # LeakyReLU slope in D (paper)
INIT_STD = 0.02  # weight init std (paper)
BASE_CHANNELS = 64  # width at the highest hidden resolution (dcgan.torch's ngf/ndf)
SHALLOW_EXTRA_LAYERS = 2  # extra 3x3 blocks that extra_layers=None adds when k == 1 (see the docstring)


def supported_sizes(limit: int = 256) -> list[int]:
    """Every image size DCGAN can build for, up to ``limit``."""
    sizes = set()
    for s0 in range(MIN_BASE, MAX_BASE + 1):
        size = 2 * s0
        while size <= limit:
            sizes.add(size)
            size *= 2
    return sorted(sizes)


def _nearest_supported(size: int) -> int:
    # On a tie prefer the larger size: upsampling loses no information.
    return min(supported_sizes(max(2 * abs(size), 16)), key=lambda n: (abs(n - size), -n))


def dcgan_layout(size: int, arch: str = "dcgan") -> tuple[int, int]:
    """Split an image size into ``(s0, k)`` with ``size == s0 * 2**k``, ``s0`` in 4..7, ``k >= 1``.

    ``k`` is as large as possible. Raises :class:`ganzoo.ShapeMismatchError` for sizes
    that do not split that way, suggesting the nearest one that does.
    """
    s0, k = int(size), 0
    while s0 % 2 == 0 and s0 // 2 >= MIN_BASE:
        s0, k = s0 // 2, k + 1
    if k < 1 or not MIN_BASE <= s0 <= MAX_BASE:
        listed = ", ".join(str(n) for n in supported_sizes())
        raise ganzoo.ShapeMismatchError(
            f"{arch} cannot build for image size {size}: the size must be s0 * 2**k with s0 in "
            f"{MIN_BASE}..{MAX_BASE} and k >= 1, so that stride-2 convolutions halve it down to a small map. "
            f"Supported sizes up to 256: {listed}. Use --image-size {_nearest_supported(int(size))} "
            "to resize the data."
        )
    return s0, k


def image_layout(data_shape: tuple[int, ...], arch: str = "dcgan", alternative: str = "gan",
                 image_size: int | None = None) -> tuple[int, int]:
    """Check that ``data_shape`` is a square image DCGAN can handle; return ``(channels, size)``.

    ``alternative`` is the architecture suggested for vector data. ``image_size``, when
    given, pins the network to that size (e.g. the paper's 64x64 model) and data of any
    other size is refused: the classic 64-vs-32 mismatch is caught before any training.
    """
    shape = tuple(int(s) for s in data_shape)
    if len(shape) != 3:
        given = f"{shape[0]}-d vectors" if len(shape) == 1 else f"data of shape {shape}"
        raise ganzoo.ShapeMismatchError(
            f"{arch} needs images (C,H,W); the dataset gives {given}; use the {alternative!r} architecture"
        )
    channels, height, width = shape
    if height != width:
        raise ganzoo.ShapeMismatchError(
            f"{arch} needs square images, got {height}x{width} (data_shape {shape}). "
            f"Use --image-size {_nearest_supported(max(height, width))} to resize them to a supported square size."
        )
    if image_size is not None and image_size != height:
        raise ganzoo.ShapeMismatchError(
            f"{arch} is set to {image_size}x{image_size} images (image_size={image_size}) but the data is "
            f"{height}x{width}. Pass --image-size {image_size} to resize the data once at load, or drop "
            f"-o image_size={image_size} so the network's depth follows the data."
        )
    dcgan_layout(height, arch)
    if channels < 1:
        raise ganzoo.ShapeMismatchError(f"{arch} needs at least one image channel, got data_shape {shape}")
    return channels, height


def resolve_widths(arch: str, size: int, base_channels: int, extra_layers: int | None) -> tuple[int, int]:
    """Check the width options and resolve ``extra_layers=None`` ("auto") for this image size."""
    if not isinstance(base_channels, int) or base_channels < 1:
        raise ganzoo.ConfigError(f"{arch}: base_channels must be a positive integer, got {base_channels!r}")
    if extra_layers is None:
        _, k = dcgan_layout(size, arch)
        extra_layers = SHALLOW_EXTRA_LAYERS if k == 1 else 0
    if not isinstance(extra_layers, int) or extra_layers < 0:
        raise ganzoo.ConfigError(f"{arch}: extra_layers must be an integer >= 0 or None (auto), got {extra_layers!r}")
    return base_channels, extra_layers


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's init, drawn from the global RNG so ``torch.manual_seed`` fixes it."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, INIT_STD)
            nn.init.zeros_(m.bias)


def _block(conv: nn.Module, channels: int, act: Callable[[], nn.Module], norm: bool = True) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels), act()] if norm else [conv, act()]


def generator_body(in_features: int, out_channels: int, size: int, base_channels: int,
                   extra_layers: int) -> nn.Sequential:
    """Transposed-convolution stack: ``(N, in_features, 1, 1)`` -> ``(N, out_channels, size, size)`` in [-1, 1]."""
    s0, k = dcgan_layout(size)
    widths = [base_channels * 2 ** (k - 1 - i) for i in range(k)]  # at s0, 2*s0, ..., size/2
    # Bias is dropped before BatchNorm: its mean subtraction would cancel it anyway.
    layers = _block(nn.ConvTranspose2d(in_features, widths[0], s0, 1, 0, bias=False), widths[0], nn.ReLU)
    for c_in, c_out in itertools.pairwise(widths):
        layers += _block(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), c_out, nn.ReLU)
    for _ in range(extra_layers):  # stride 1, kernel 3, padding 1 keeps the resolution
        layers += _block(nn.ConvTranspose2d(widths[-1], widths[-1], 3, 1, 1, bias=False), widths[-1], nn.ReLU)
    layers += [nn.ConvTranspose2d(widths[-1], out_channels, 4, 2, 1), nn.Tanh()]
    body = nn.Sequential(*layers)
    init_dcgan_weights(body)
    return body


def discriminator_features(in_channels: int, size: int, base_channels: int,
                           extra_layers: int) -> tuple[nn.Sequential, int]:
    """Strided-convolution stack: ``(N, in_channels, size, size)`` -> ``(N, width, s0, s0)``; returns it and width."""
    _, k = dcgan_layout(size)
    widths = [base_channels * 2**i for i in range(k)]  # at size/2, size/4, ..., s0

    def act() -> nn.Module:
        return nn.LeakyReLU(LEAK)

    # No BatchNorm on the input layer: the paper found BatchNorm on every layer made samples oscillate.
    layers = _block(nn.Conv2d(in_channels, widths[0], 4, 2, 1), widths[0], act, norm=False)
    for _ in range(extra_layers):
        layers += _block(nn.Conv2d(widths[0], widths[0], 3, 1, 1, bias=False), widths[0], act)
    for c_in, c_out in itertools.pairwise(widths):
        layers += _block(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), c_out, act)
    body = nn.Sequential(*layers)
    init_dcgan_weights(body)
    return body, widths[-1]


def discriminator_readout(channels: int, size: int) -> nn.Conv2d:
    """The last layer: a convolution over the whole ``s0 x s0`` map to one logit (no sigmoid)."""
    s0, _ = dcgan_layout(size)
    readout = nn.Conv2d(channels, 1, s0, 1, 0)
    init_dcgan_weights(readout)
    return readout


class DCGANGenerator(ganzoo.Generator):
    """z -> projection transposed conv -> k upsampling transposed convs -> tanh image."""

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, extra_layers: int | None = None,
                 image_size: int | None = None) -> None:
        channels, size = image_layout(data_shape, "dcgan", "gan", image_size)  # before anything is built
        base_channels, extra_layers = resolve_widths("dcgan", size, base_channels, extra_layers)
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        self.extra_layers: int = extra_layers  # resolved from None (auto) for this size
        self.net = generator_body(self.latent_dim, channels, size, base_channels, extra_layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(ganzoo.Discriminator):
    """image -> k strided convs -> s0 x s0 read-out conv -> one logit."""

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, extra_layers: int | None = None,
                 image_size: int | None = None) -> None:
        channels, size = image_layout(data_shape, "dcgan", "gan", image_size)
        base_channels, extra_layers = resolve_widths("dcgan", size, base_channels, extra_layers)
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.extra_layers: int = extra_layers  # resolved from None (auto) for this size
        self.features, width = discriminator_features(channels, size, base_channels, extra_layers)
        self.readout = discriminator_readout(width, size)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.readout(self.features(x)).view(x.shape[0])


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    register(ganzoo.Architecture(
        name="dcgan",
        generator=DCGANGenerator,
        discriminator=DCGANDiscriminator,
        description="DCGAN: strided/transposed convolutions with BatchNorm; depth derived from the image size",
        paper="Radford et al. 2015, arXiv:1511.06434",
        conditional=False,
        default_loss="non-saturating",
        defaults={"latent_dim": 100, "base_channels": BASE_CHANNELS, "extra_layers": None},
    ))
