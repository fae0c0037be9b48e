"""The typed, frozen configuration of a training run, and the ``--fast`` preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError
from ..values import check_bool, check_int, check_number, check_text

__all__ = ["FAST_PATH", "MAX_IMAGE_SIZE", "NAN_CHECKS", "PRECISIONS", "TrainConfig"]

PRECISIONS = ("fp32", "bf16")
NAN_CHECKS = ("auto", "eager", "deferred")  # when NaN/inf updates are caught (ganzoo.training.guard)
MAX_IMAGE_SIZE = 4096  # --image-size: larger images are refused before anything is resized


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
    init_from: str | None = None  # a stored model (name:version) whose G, D and EMA weights the run starts from
    # Training on little data (docs/augmentation.md).
    augment: str | None = None  # registered augmentation of all D sees, NAME or NAME:KEY=VALUE,...; None = none
    subset: int | None = None  # train on a fixed, class-balanced subset of this many items; None = all of them
    subset_seed: int = 0  # which items the subset holds (apart from seed, so runs of several seeds share one)
    # The fast path (docs/guide.md, "Speed"): each option trades exactness for speed, so each is opt-in.
    channels_last: bool = False  # images and conv weights in NHWC memory layout (faster conv kernels)
    reuse_fake: bool = False  # G's step reuses the last D step's generated batch: one G forward fewer per step
    fused_adam: bool = False  # Adam's fused kernel (one pass over all weights; rounds differently)
    compile: bool = False  # torch.compile G and D (slow first steps; helps most on GPUs)
    cuda_graphs: bool = False  # capture D's and G's updates as CUDA graphs and replay them (CUDA only)
    # NaN/inf losses and gradients are never applied: eager = checked on the host before each update
    # (raises at once); deferred = on the device, reported at the next logged step (runs Adam fused);
    # auto = deferred on CUDA (and with cuda_graphs), else eager
    nan_check: str = "auto"

    def __post_init__(self) -> None:
        # One set of rules for every source of an option (command line, --config, --from, Python):
        # no booleans as numbers, no fractions cut to whole numbers, finite numbers in range.
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)  # normalized (3.0 -> 3, a list of betas -> a tuple)

        for name in ("architecture", "dataset", "device"):
            check_text(name, getattr(self, name))
        if self.loss is not None:
            check_text("loss", self.loss)
        if self.data_dir is not None:
            check_text("data_dir", self.data_dir)
        if self.augment is not None:
            check_text("augment", self.augment)
        if self.subset is not None:
            put("subset", check_int("subset", self.subset, minimum=1,
                                    kind="a positive number of training items (leave it out to train on all)"))
        put("subset_seed", check_int("subset_seed", self.subset_seed, minimum=0))
        if self.subset is None and self.subset_seed:
            raise ConfigError(f"subset_seed is {self.subset_seed} but no subset is asked for; pass --subset N too "
                              "(or leave --subset-seed out)")
        if self.init_from is not None:
            check_text("init_from", self.init_from)
        for name in ("steps", "batch_size", "d_steps", "log_every"):
            put(name, check_int(name, getattr(self, name), minimum=1, kind="a positive integer"))
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be at least 2 (batch statistics need two samples), "
                              f"got {self.batch_size}")
        put("seed", check_int("seed", self.seed, minimum=0))
        put("checkpoint_every", check_int("checkpoint_every", self.checkpoint_every, minimum=0,
                                          kind="0 or a positive integer"))
        if self.image_size is not None:
            put("image_size", check_int("image_size", self.image_size, minimum=1, maximum=MAX_IMAGE_SIZE,
                                        kind=f"a positive integer of at most {MAX_IMAGE_SIZE}"))
        for name in ("lr_g", "lr_d"):
            put(name, check_number(name, getattr(self, name), above=0, kind="a positive number"))
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise ConfigError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        put("betas", tuple(check_number("betas", b, minimum=0, below=1, kind="two numbers in [0, 1)")
                           for b in self.betas))
        put("lr_decay", check_number("lr_decay", self.lr_decay, minimum=0, maximum=1,
                                     kind="a fraction in [0, 1] (the share of the run at its end over which the "
                                          "learning rates fall to 0; 0 keeps them constant)"))
        put("ema", check_number("ema", self.ema, minimum=0, below=1, kind="in [0, 1) (0 disables it)"))
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for name in ("deterministic", "channels_last", "reuse_fake", "fused_adam", "compile", "cuda_graphs"):
            check_bool(name, getattr(self, name))
        if self.nan_check not in NAN_CHECKS:
            raise ConfigError(f"nan_check must be one of {', '.join(NAN_CHECKS)}, got {self.nan_check!r}")
        if self.cuda_graphs:
            self._check_graphs()
        if not isinstance(self.model, dict) or not all(isinstance(k, str) for k in self.model):
            raise ConfigError(f"model must be a table of architecture options (name = value), got {self.model!r}")
        for key in ("data_shape", "num_classes"):
            if key in self.model:
                raise ConfigError(f"{key!r} comes from the dataset; it cannot be set as a model option (-o {key})")

    def _check_graphs(self) -> None:
        """What a replayed CUDA graph cannot do (ganzoo.training.graphs)."""
        if self.compile:
            raise ConfigError("cuda_graphs cannot be combined with compile: torch.compile's own CUDA graphs "
                              "(mode='reduce-overhead') are the other way to the same end; drop --compile or "
                              "--cuda-graphs")
        if self.nan_check == "eager":
            raise ConfigError("cuda_graphs needs the NaN checks on the device, but nan_check is 'eager' (it reads "
                              "values on the host in the middle of each update); drop --nan-check eager")
        if self.augment is not None:
            raise ConfigError(f"cuda_graphs cannot be combined with augment ({self.augment!r}): an augmentation "
                              "keeps its state in Python between steps, which a replayed graph would not update; "
                              "drop --augment or --cuda-graphs")

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
