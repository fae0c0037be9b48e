"""SNGAN for ganzoo: Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for
Generative Adversarial Networks", arXiv:1802.05957; and the relativistic average loss of
Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element missing from
standard GAN", arXiv:1807.00734.

A third-party ganzoo plugin: it imports only ganzoo's public API (and the public DCGAN
layout helpers that ship with ganzoo) and is found through its ``ganzoo`` entry point.

Spectral normalization divides each weight of D by its largest singular value, estimated
by one step of power iteration per training forward pass (the paper's setting), so every
layer is 1-Lipschitz and so is D (LeakyReLU is too). Unlike a gradient penalty it costs
one matrix-vector product per layer and needs no second backward pass.

The networks follow the paper's "standard CNN" (Table 3), with depth derived from the
image size as in ``ganzoo_dcgan`` (``size = s0 * 2**k``, ``s0`` in 4..7):

- D: for each of the ``k`` halvings a 3x3 stride-1 convolution and a 4x4 stride-2
  convolution (widths ``base_channels * 2**i``), then a 3x3 convolution of width
  ``base_channels * 2**k`` and a dense read-out to one logit (without bias); LeakyReLU(0.1);
  no BatchNorm; spectral normalization on every layer. For 32x32 images and
  ``base_channels=64`` this is the paper's 64-64-128-128-256-256-512 network.
- G: z -> dense -> ``s0 x s0`` map of width ``base_channels * 2**k`` (BatchNorm, ReLU),
  ``k`` 4x4 stride-2 transposed convolutions that halve the width (BatchNorm, ReLU), then
  a 3x3 convolution to the image channels and tanh. No spectral normalization in G.

Defaults: ``latent_dim=128`` and ``base_channels=64`` as in the paper; the hinge loss,
the paper's best, unless the user names another.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from ganzoo_dcgan import dcgan_layout, image_layout
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo

__all__ = ["LEAK", "RelativisticAverage", "SNGANDiscriminator", "SNGANGenerator", "spectral_norms"]

__version__ = "0.1.0"

LEAK = 0.1  # LeakyReLU slope of D (the paper's Table 3)
BASE_CHANNELS = 64  # D's width at the first stage; G's at full resolution
LATENT_DIM = 128  # the paper's z dimension


def _check_options(base_channels: int, power_iterations: int = 1) -> None:
    if not isinstance(base_channels, int) or isinstance(base_channels, bool) or base_channels < 1:
        raise ganzoo.ConfigError(f"sngan: base_channels must be a positive integer, got {base_channels!r}")
    if not isinstance(power_iterations, int) or isinstance(power_iterations, bool) or power_iterations < 1:
        raise ganzoo.ConfigError(f"sngan: power_iterations must be a positive integer, got {power_iterations!r}")


class SNGANGenerator(ganzoo.Generator):
    """z -> dense to an s0 x s0 map -> k upsampling transposed convolutions -> 3x3 conv -> tanh."""

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS) -> None:
        channels, size = image_layout(data_shape, "sngan", "gan")  # refuses vectors and odd sizes first
        _check_options(base_channels)
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        s0, k = dcgan_layout(size, "sngan")
        self.s0, self.width = s0, base_channels * 2**k
        self.project = nn.Linear(self.latent_dim, self.width * s0 * s0)
        self.project_norm = nn.BatchNorm1d(self.width * s0 * s0)
        layers: list[nn.Module] = []
        width = self.width
        for _ in range(k):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.project_norm(self.project(z)))
        return self.body(h.view(z.shape[0], self.width, self.s0, self.s0))


class SNGANDiscriminator(ganzoo.Discriminator):
    """image -> k x (3x3 conv, 4x4 stride-2 conv) -> 3x3 conv -> dense -> one logit; all spectrally normalized."""

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 base_channels: int = BASE_CHANNELS, power_iterations: int = 1) -> None:
        channels, size = image_layout(data_shape, "sngan", "gan")
        _check_options(base_channels, power_iterations)
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        s0, k = dcgan_layout(size, "sngan")

        def sn(layer: nn.Module) -> nn.Module:
            return spectral_norm(layer, n_power_iterations=power_iterations)

        layers: list[nn.Module] = []
        width_in = channels
        for i in range(k):
            width = base_channels * 2**i
            layers += [sn(nn.Conv2d(width_in, width, 3, 1, 1)), nn.LeakyReLU(LEAK),
                       sn(nn.Conv2d(width, width, 4, 2, 1)), nn.LeakyReLU(LEAK)]
            width_in = width
        top = base_channels * 2**k
        layers += [sn(nn.Conv2d(width_in, top, 3, 1, 1)), nn.LeakyReLU(LEAK)]
        self.features = nn.Sequential(*layers)
        # No bias on the read-out: the hinge loss's gradient on an offset shared by real and
        # generated logits cancels exactly while they sit inside its margin (as at the start),
        # and Wasserstein-style losses never see it, so it would be a parameter that never learns.
        self.readout = sn(nn.Linear(top * s0 * s0, 1, bias=False))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.readout(self.features(x).flatten(1)).view(x.shape[0])  # raw logits, shape (N,)


def spectral_norms(module: nn.Module) -> dict[str, float]:
    """The largest singular value of every spectrally normalized weight, as its layer uses it.

    A convolution's weight is read as a ``(out, in * kh * kw)`` matrix, as spectral_norm
    treats it. Each value is close to 1 once power iteration has converged (a few training
    forward passes). Reading is done in eval mode, so it runs no power iteration itself.
    """
    was_training = module.training
    module.eval()
    try:
        out = {}
        with torch.no_grad():
            for name, m in module.named_modules():
                if torch.nn.utils.parametrize.is_parametrized(m, "weight"):
                    out[name] = float(torch.linalg.matrix_norm(m.weight.flatten(1), ord=2))
        return out
    finally:
        module.train(was_training)


class RelativisticAverage(ganzoo.Loss):
    """RaSGAN (Jolicoeur-Martineau 2018): D estimates how much more realistic real data is
    than the average generated sample, and the other way round.

    With logits ``r`` (real) and ``f`` (generated), ``-log sigmoid(a) = softplus(-a)``:

    - D minimizes ``softplus(-(r - mean f)) + softplus(f - mean r)`` (batch means);
    - G minimizes ``softplus(-(f - mean r)) + softplus(r - mean f)``: the same game with
      the roles swapped, so G also gets a gradient through the real samples' term.

    G's phase needs D's logits on real data, and ``generator_loss`` is given only the fake
    ones. Each run gets its own loss object, so ``discriminator_loss`` records the real
    logits of the latest discriminator step (detached) and G's phase uses those. The
    reference code re-scores that real batch with D after its update; the recorded logits
    are D's before the update: one optimizer step apart.
    """

    def __init__(self) -> None:
        self._real_logits: torch.Tensor | None = None

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        self._real_logits = real_logits.detach()
        return (F.softplus(-(real_logits - fake_logits.mean())).mean()
                + F.softplus(fake_logits - real_logits.mean()).mean())

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        real = self._real_logits
        if real is None:
            raise ganzoo.ConfigError("relativistic-average: generator_loss needs D's logits on real data; call "
                                     "discriminator_loss first (the trainer always does)")
        return F.softplus(-(fake_logits - real.mean())).mean() + F.softplus(real - fake_logits.mean()).mean()


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    register(ganzoo.Architecture(
        name="sngan",
        generator=SNGANGenerator,
        discriminator=SNGANDiscriminator,
        description="SNGAN: spectrally normalized CNN discriminator, DCGAN-style generator",
        paper="Miyato et al. 2018, arXiv:1802.05957",
        default_loss="hinge",
        defaults={"latent_dim": LATENT_DIM, "base_channels": BASE_CHANNELS, "power_iterations": 1},
    ))


@ganzoo.hookimpl
def register_losses(register: Callable[..., None]) -> None:
    register("relativistic-average", RelativisticAverage,
             description="Relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2018)")
