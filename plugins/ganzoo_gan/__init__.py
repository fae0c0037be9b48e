"""Vanilla GAN: Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661.

Both networks are multilayer perceptrons, as in the paper's MNIST/TFD experiments:

- G: ``depth`` hidden Linear layers of width ``hidden`` with ReLU, then a Linear layer to
  ``prod(data_shape)`` values reshaped to ``data_shape``. Images (``(C, H, W)``) end in
  tanh so they lie in [-1, 1] like the normalized data; vectors (``(D,)``, e.g. the 2-D
  Gaussian mixtures spanning [-4, 4]) end linearly, since tanh would cap them at 1.
- D: the flattened sample through ``depth`` hidden Linear layers with LeakyReLU(0.2)
  (the paper used maxout; LeakyReLU is the common stand-in that also keeps gradients
  alive for negative pre-activations), then a Linear layer to one raw logit.

One departure from the 2014 paper, on by default and switchable (``batchnorm=False``):
BatchNorm after each hidden layer of G, as in the later GAN baselines (e.g. PacGAN's
2-D experiments). The default widths and this choice are the ones docs/results.md
measured ("Choices behind the defaults").

``hidden`` is the width of both networks; ``d_hidden`` sets the discriminator's apart
(``-o hidden=256 -o d_hidden=128``: a wider G against the default D).

It works on any ``data_shape``: images are flattened, so spatial structure is ignored.
Labels are ignored (unconditional). The MLP builders are public so that the
conditional MLP (``ganzoo_cgan``) reuses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

import ganzoo

__all__ = ["MLPDiscriminator", "MLPGenerator", "check_mlp_options", "discriminator_mlp", "generator_mlp"]

LEAK = 0.2  # LeakyReLU slope of the discriminator
HIDDEN = 128  # layer width of both MLPs
DEPTH = 3  # hidden layers of both MLPs


def check_mlp_options(arch: str, hidden: int, depth: int) -> None:
    """Refuse widths and depths an MLP cannot have, with the option name in the message."""
    if not isinstance(hidden, int) or hidden < 1:
        raise ganzoo.ConfigError(f"{arch}: hidden must be a positive integer (layer width), got {hidden!r}")
    if not isinstance(depth, int) or depth < 1:
        raise ganzoo.ConfigError(f"{arch}: depth must be a positive integer (hidden layers), got {depth!r}")


def _mlp(in_features: int, out_features: int, hidden: int, depth: int,
         activation: Callable[[], nn.Module], batchnorm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden))
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(activation())
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return layers


def generator_mlp(in_features: int, data_shape: tuple[int, ...], hidden: int, depth: int,
                  batchnorm: bool = True) -> nn.Sequential:
    """ReLU MLP from ``in_features`` to ``prod(data_shape)`` values; tanh only for images."""
    layers = _mlp(in_features, math.prod(data_shape), hidden, depth, nn.ReLU, batchnorm)
    if len(data_shape) == 3:  # images are normalized to [-1, 1]; vectors are unbounded
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def discriminator_mlp(in_features: int, hidden: int, depth: int) -> nn.Sequential:
    """LeakyReLU MLP from ``in_features`` to one logit per sample, shape ``(N, 1)``.

    No BatchNorm: D sees real and fake batches separately, and batch statistics would let
    it tell them apart by the batch rather than by the sample.
    """
    return nn.Sequential(*_mlp(in_features, 1, hidden, depth, lambda: nn.LeakyReLU(LEAK)))


class MLPGenerator(ganzoo.Generator):
    """z -> MLP -> sample of ``data_shape``."""

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0,
                 hidden: int = HIDDEN, depth: int = DEPTH, batchnorm: bool = True) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        check_mlp_options("gan", hidden, depth)
        self.net = generator_mlp(self.latent_dim, self.data_shape, hidden, depth, bool(batchnorm))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.data_shape)


class MLPDiscriminator(ganzoo.Discriminator):
    """Flattened sample -> MLP -> one logit. ``d_hidden`` sets D's width apart from G's (None: ``hidden``)."""

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0,
                 hidden: int = HIDDEN, depth: int = DEPTH, d_hidden: int | None = None) -> None:
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        width = hidden if d_hidden is None else d_hidden
        check_mlp_options("gan", hidden, depth)
        if d_hidden is not None and (isinstance(d_hidden, bool) or not isinstance(d_hidden, int) or d_hidden < 1):
            raise ganzoo.ConfigError(f"gan: d_hidden must be a positive integer (D's layer width) or null "
                                     f"(the same as hidden), got {d_hidden!r}")
        self.net = discriminator_mlp(math.prod(self.data_shape), width, depth)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1)).view(x.shape[0])


@ganzoo.hookimpl
def register_architectures(register: Callable[[ganzoo.Architecture], None]) -> None:
    register(ganzoo.Architecture(
        name="gan",
        generator=MLPGenerator,
        discriminator=MLPDiscriminator,
        description="Vanilla GAN: MLP generator and discriminator; vectors or flattened images",
        paper="Goodfellow et al. 2014, arXiv:1406.2661",
        conditional=False,
        default_loss="non-saturating",
        defaults={"latent_dim": 100, "hidden": HIDDEN, "depth": DEPTH, "batchnorm": True, "d_hidden": None},
    ))
