"""The abstract networks every architecture implements, and the ``Architecture`` record.

A plugin subclasses :class:`Generator` and :class:`Discriminator`, then registers
an :class:`Architecture` that names the pair. The core never looks inside the
networks: it relies only on the contract written here.
"""

from __future__ import annotations

import abc
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .errors import ConfigError
from .values import check_int, check_number

__all__ = ["TRAIN_DEFAULT_OPTIONS", "Architecture", "Discriminator", "Generator", "ModelSpec", "check_name",
           "check_train_defaults"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _betas(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"{name} must be two numbers in [0, 1), got {value!r}")
    first, second = (check_number(name, b, minimum=0, below=1, kind="two numbers in [0, 1)") for b in value)
    return first, second


# The training options an architecture may give its own defaults for (Architecture.train_defaults):
# how its networks are best optimized. Each is checked as TrainConfig checks the option of that name.
TRAIN_DEFAULT_OPTIONS: dict[str, Callable[[str, Any], Any]] = {
    "d_steps": lambda name, v: check_int(name, v, minimum=1, kind="a positive integer"),
    "lr_g": lambda name, v: check_number(name, v, above=0, kind="a positive number"),
    "lr_d": lambda name, v: check_number(name, v, above=0, kind="a positive number"),
    "betas": _betas,
    "ema": lambda name, v: check_number(name, v, minimum=0, below=1, kind="in [0, 1) (0 disables it)"),
    "lr_decay": lambda name, v: check_number(name, v, minimum=0, maximum=1, kind="a fraction in [0, 1]"),
}


def check_train_defaults(architecture: str, defaults: object) -> dict[str, Any]:
    """``defaults`` checked as :attr:`Architecture.train_defaults`: known options, valid values.

    Returns them normalized (numbers as ``float``, ``betas`` as a tuple); raises
    :class:`~ganzoo.errors.ConfigError` naming the architecture, the option and what it takes.
    """
    where = f"architecture {architecture!r}: train_defaults"
    if not isinstance(defaults, dict) or not all(isinstance(k, str) for k in defaults):
        raise ConfigError(f"{where} must be a dict of training options, e.g. {{'d_steps': 5}}, got {defaults!r}")
    checked: dict[str, Any] = {}
    for key, value in defaults.items():
        check = TRAIN_DEFAULT_OPTIONS.get(key)
        if check is None:
            close = difflib.get_close_matches(key, TRAIN_DEFAULT_OPTIONS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where} has no option {key!r}{hint}; an architecture may set "
                              f"{', '.join(TRAIN_DEFAULT_OPTIONS)}")
        checked[key] = check(f"{where} {key}", value)
    return checked


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

    ``train_defaults`` are the training options this architecture trains best with (any of
    :data:`TRAIN_DEFAULT_OPTIONS`: ``d_steps``, ``lr_g``, ``lr_d``, ``betas``, ``ema``,
    ``lr_decay``), e.g. ``{"d_steps": 5, "betas": (0.0, 0.9)}``. ``ganzoo train`` and
    :func:`ganzoo.train` use them for every such option the user does not give (on the
    command line, in a ``--config`` file, through ``--from``, or as a keyword); the run
    records the values it used. :func:`ganzoo.fit` trains the :class:`~ganzoo.TrainConfig`
    it is given as it is: TrainConfig's own defaults know nothing of architectures.
    They are checked when the Architecture is made, so a bad one fails its registration.
    """

    name: str  # the name users type: ``ganzoo train <name>``
    generator: type[Generator]  # the generator class
    discriminator: type[Discriminator]  # the discriminator class
    description: str = ""  # one line shown by ``ganzoo list``
    paper: str = ""  # the reference, e.g. "Radford et al. 2015, arXiv:1511.06434"
    conditional: bool = False  # True: G and D take class labels, the data must have labels
    default_loss: str = "non-saturating"  # the loss used when the user names none
    defaults: dict[str, Any] = field(default_factory=dict)  # constructor keyword defaults
    train_defaults: dict[str, Any] = field(default_factory=dict)  # training options used unless the user gives them

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
        object.__setattr__(self, "train_defaults", check_train_defaults(self.name, self.train_defaults))


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
