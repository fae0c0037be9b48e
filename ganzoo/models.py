"""The abstract networks every architecture implements, and the ``Architecture`` record.

A plugin subclasses :class:`Generator` and :class:`Discriminator`, then registers
an :class:`Architecture` that names the pair. The core never looks inside the
networks: it relies only on the contract written here.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .errors import ConfigError

__all__ = ["Architecture", "Discriminator", "Generator", "ModelSpec", "check_name"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid registration name, else raise ConfigError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"invalid {kind} name {name!r}: use 1-64 characters from a-z, 0-9, '-' and '_', "
            "starting with a letter or digit"
        )
    return name


class Generator(nn.Module, metaclass=abc.ABCMeta):
    """Maps latent noise (and optionally class labels) to samples.

    Subclasses add their own keyword hyperparameters and call
    ``super().__init__(data_shape=..., latent_dim=..., num_classes=...)``.
    ``forward`` returns a tensor of shape ``(N, *data_shape)``; images lie in [-1, 1].
    """

    ganzoo_spec: ModelSpec | None = None  # set by ganzoo when it builds the network
    ganzoo_manifest: dict[str, Any] | None = None  # set when loaded from the registry

    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.data_shape: tuple[int, ...] = tuple(int(s) for s in data_shape)
        self.latent_dim = int(latent_dim)
        self.num_classes = int(num_classes)
        if not self.data_shape or any(s <= 0 for s in self.data_shape):
            raise ConfigError(f"data_shape must be positive sizes, got {data_shape!r}")
        if self.latent_dim <= 0:
            raise ConfigError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        if self.num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0, got {num_classes!r}")

    @abc.abstractmethod
    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generate ``(N, *data_shape)`` samples from latents ``z`` of shape ``(N, latent_dim)``."""

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors; a standard normal by default."""
        first = next(self.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
        return torch.randn(n, self.latent_dim, generator=generator, device=device)


class Discriminator(nn.Module, metaclass=abc.ABCMeta):
    """Scores samples. ``forward`` returns raw logits of shape ``(N,)``: D(x) = sigmoid(logit)."""

    ganzoo_spec: ModelSpec | None = None  # set by ganzoo when it builds the network
    # D scores batches whose size is a multiple of this (a packed D judges groups of samples);
    # 1: any batch. Set it in ``__init__``; ganzoo's own checks call D with such batch sizes.
    batch_multiple: int = 1

    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        self.data_shape: tuple[int, ...] = tuple(int(s) for s in data_shape)
        self.num_classes = int(num_classes)
        if not self.data_shape or any(s <= 0 for s in self.data_shape):
            raise ConfigError(f"data_shape must be positive sizes, got {data_shape!r}")
        if self.num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0, got {num_classes!r}")

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Return one logit per sample, shape ``(N,)``, for any ``N`` that ``batch_multiple`` divides."""


@dataclass(frozen=True)
class Architecture:
    """A registered GAN architecture: a generator class and a discriminator class.

    ``defaults`` are keyword arguments merged into the constructors: each key goes to
    every constructor that accepts it (so ``latent_dim`` reaches only the generator
    while a shared width can reach both).
    """

    name: str  # the name users type: ``ganzoo train <name>``
    generator: type[Generator]  # the generator class
    discriminator: type[Discriminator]  # the discriminator class
    description: str = ""  # one line shown by ``ganzoo list``
    paper: str = ""  # the reference, e.g. "Radford et al. 2015, arXiv:1511.06434"
    conditional: bool = False  # True: G and D take class labels, the data must have labels
    default_loss: str = "non-saturating"  # the loss used when the user names none
    defaults: dict[str, Any] = field(default_factory=dict)  # constructor keyword defaults

    def __post_init__(self) -> None:
        check_name("architecture", self.name)
        if not (isinstance(self.generator, type) and issubclass(self.generator, Generator)):
            raise ConfigError(
                f"architecture {self.name!r}: generator must be a subclass of ganzoo.Generator, "
                f"got {self.generator!r}"
            )
        if not (isinstance(self.discriminator, type) and issubclass(self.discriminator, Discriminator)):
            raise ConfigError(
                f"architecture {self.name!r}: discriminator must be a subclass of ganzoo.Discriminator, "
                f"got {self.discriminator!r}"
            )
        if not isinstance(self.defaults, dict) or not all(isinstance(k, str) for k in self.defaults):
            raise ConfigError(f"architecture {self.name!r}: defaults must be a dict with string keys")
        if not isinstance(self.default_loss, str):
            raise ConfigError(f"architecture {self.name!r}: default_loss must be a loss name")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a generator/discriminator pair: stored beside the weights."""

    architecture: str  # registered architecture name
    data_shape: tuple[int, ...]  # (C, H, W) or (D,)
    num_classes: int  # 0 for unconditional models
    generator_kwargs: dict[str, Any]  # constructor keywords of the generator (latent_dim included)
    discriminator_kwargs: dict[str, Any]  # constructor keywords of the discriminator

    @property
    def latent_dim(self) -> int:
        return int(self.generator_kwargs["latent_dim"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "data_shape": list(self.data_shape),
            "num_classes": self.num_classes,
            "generator_kwargs": dict(self.generator_kwargs),
            "discriminator_kwargs": dict(self.discriminator_kwargs),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        try:
            return cls(
                architecture=str(d["architecture"]),
                data_shape=tuple(int(s) for s in d["data_shape"]),
                num_classes=int(d["num_classes"]),
                generator_kwargs=dict(d["generator_kwargs"]),
                discriminator_kwargs=dict(d["discriminator_kwargs"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed model spec {d!r}: {exc}") from exc
