"""The typed, frozen configuration of a training run, and the ``--fast`` preset."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

__all__ = ["FAST_PATH", "PRECISIONS", "TrainConfig"]

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Saved as JSON beside the weights."""

    architecture: str = "dcgan"  # registered architecture name
    dataset: str = "digits"  # registered dataset name
    loss: str | None = None  # registered loss name; None = the architecture's default
    steps: int = 5000  # generator steps (each preceded by d_steps discriminator steps)
    batch_size: int = 64  # samples per batch, real and generated alike
    d_steps: int = 1  # k: discriminator steps per generator step
    lr_g: float = 2e-4  # Adam learning rate of the generator
    lr_d: float = 2e-4  # Adam learning rate of the discriminator
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas (DCGAN's beta1 = 0.5)
    ema: float = 0.999  # decay of the generator's exponential moving average; 0 disables it
    lr_decay: float = 0.0  # share of the run, at its end, over which both learning rates fall linearly towards 0
    seed: int = 0  # seeds the weights, the noise and the data order
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    image_size: int | None = None  # resize images once at load; None = native size
    model: dict[str, Any] = field(default_factory=dict)  # architecture hyperparameter overrides
    data_dir: str | None = None  # where dataset files live; None = $GANZOO_DATA or the user data dir
    log_every: int = 50  # steps between metric records
    deterministic: bool = False  # torch.use_deterministic_algorithms for bit-exact reruns
    checkpoint_every: int = 0  # steps between run checkpoints (with a run_dir); 0 = only at interruption
    # The fast path (docs/guide.md, "Speed"): each option trades exactness for speed, so each is opt-in.
    channels_last: bool = False  # images and conv weights in NHWC memory layout (faster conv kernels)
    reuse_fake: bool = False  # G's step reuses the last D step's generated batch: one G forward fewer per step
    fused_adam: bool = False  # Adam's fused kernel (one pass over all weights; rounds differently)
    compile: bool = False  # torch.compile G and D (slow first steps; helps most on GPUs)

    def __post_init__(self) -> None:
        positive = {"steps": self.steps, "batch_size": self.batch_size, "d_steps": self.d_steps,
                    "log_every": self.log_every}
        for name, n in positive.items():
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"{name} must be a positive integer, got {n!r}")
        for name, lr in {"lr_g": self.lr_g, "lr_d": self.lr_d}.items():
            if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
                raise ConfigError(f"{name} must be a positive number, got {lr!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be at least 2 (batch statistics need two samples), "
                              f"got {self.batch_size}")
        if isinstance(self.lr_decay, bool) or not isinstance(self.lr_decay, (int, float)) \
                or not (0 <= self.lr_decay <= 1):
            raise ConfigError(f"lr_decay must be a fraction in [0, 1] (the share of the run at its end over which "
                              f"the learning rates fall to 0; 0 keeps them constant), got {self.lr_decay!r}")
        if not (0 <= self.ema < 1):
            raise ConfigError(f"ema must be in [0, 1) (0 disables it), got {self.ema!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.checkpoint_every, int) or isinstance(self.checkpoint_every, bool) \
                or self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be 0 or a positive integer, got {self.checkpoint_every!r}")
        for name in ("deterministic", "channels_last", "reuse_fake", "fused_adam", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.image_size is not None and self.image_size < 1:
            raise ConfigError(f"image_size must be a positive integer, got {self.image_size!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


# What `ganzoo train --fast` turns on: the speed options that help on CPUs and GPUs alike (docs/guide.md, "Speed").
FAST_PATH: dict[str, Any] = {"precision": "bf16", "channels_last": True, "reuse_fake": True, "fused_adam": True}
