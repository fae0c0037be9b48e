"""The one adversarial trainer: k discriminator steps, then one generator step.

Every architecture and every loss goes through :func:`fit`. The loop reads top to
bottom (Goodfellow et al. 2014, Algorithm 1); the loss object owns the maths of
each phase, callbacks own everything that is not training (progress, logging, grids).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .catalog import Catalog, get_catalog
from .data import DataOptions, Dataset, TensorSampler, resize_images
from .distributed import World, current_world
from .errors import ConfigError, GanzooError
from .losses import Loss
from .models import Discriminator, Generator, ModelSpec

__all__ = ["FAST_PATH", "Callback", "TrainConfig", "TrainResult", "TrainState", "TrainingDiverged",
           "TrainingInterrupted", "data_labels", "fit", "load_dataset", "recalibrate_batchnorm",
           "recalibrate_for_sampling", "resolve_device"]

PRECISIONS = ("fp32", "bf16")


class TrainingDiverged(GanzooError, FloatingPointError):
    """A loss or a gradient became NaN or infinite; the optimizer step was not taken."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run after a complete step; callbacks saved what they save."""

    def __init__(self, step: int, run_dir: Path | None = None) -> None:
        super().__init__(f"interrupted after step {step}")
        self.step = step  # the last completed generator step
        self.run_dir = run_dir  # where the run was checkpointed, if anywhere


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


@dataclass
class TrainState:
    """What callbacks see: the live objects of a run."""

    config: TrainConfig
    spec: ModelSpec
    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    ema: Any  # timm ModelEmaV3 wrapper; the averaged generator is ``ema.module``
    loss: Loss
    device: torch.device
    fixed_z: torch.Tensor  # the latent every progress grid is drawn from
    fixed_labels: torch.Tensor | None
    step: int = 0  # generator steps completed
    opt_g: torch.optim.Optimizer | None = None
    opt_d: torch.optim.Optimizer | None = None
    sampler: TensorSampler | None = None  # the real-data batches, with their random state
    history: list[dict[str, float]] = field(default_factory=list)  # the metric records so far
    notes: list[str] = field(default_factory=list)  # what a user should know about this run (shown at start)
    seconds: float = 0.0  # training time before this process (a resumed run's earlier part)
    # how the run folder is kept (grid cadence, logger, evaluation), set by the callbacks that keep it;
    # stored in config.json under "logging" so that ``--resume`` keeps them
    logging: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Hooks into a run. Override what you need; every method is optional."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        """After each generator step; ``metrics`` are detached scalar tensors."""

    def on_train_end(self, state: TrainState) -> None: ...

    def on_interrupt(self, state: TrainState) -> None:
        """After a complete step, when Ctrl-C asked the run to stop (e.g. save a checkpoint)."""


@dataclass
class TrainResult:
    config: TrainConfig
    spec: ModelSpec
    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    ema_generator: Generator | None  # BatchNorm statistics recalibrated for the averaged weights
    history: list[dict[str, float]]  # one record per ``log_every`` steps
    steps: int
    seconds: float

    @property
    def best_generator(self) -> Generator:
        """The generator to sample from: the EMA one when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def dataset_info(self) -> dict[str, Any]:
        return {"name": self.dataset.name, "shape": list(self.dataset.shape),
                "num_classes": self.dataset.num_classes, "size": len(self.dataset),
                "preprocessing": self.dataset.preprocessing}


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} requested but MPS is not available here; use --device cpu")
    return device


def load_dataset(name: str, *, image_size: int | None = None, data_dir: str | None = None,
                 catalog: Catalog | None = None, split: str = "train") -> Dataset:
    """Load a registered dataset at its native size, resized once if ``image_size`` is given.

    ``split="test"`` loads the held-out split of datasets that have one (``DatasetSpec.splits``).
    """
    catalog = catalog or get_catalog()
    spec = catalog.dataset(name)
    if split not in spec.splits:
        raise ConfigError(f"dataset {name!r} has no {split!r} split; it has: {', '.join(spec.splits)}")
    options = (DataOptions(image_size=image_size, split=split) if data_dir is None
               else DataOptions(data_dir=Path(data_dir), image_size=image_size, split=split))
    dataset = spec.load(options)
    if image_size is not None:
        dataset = resize_images(dataset, image_size)
    if split != "train":
        dataset.preprocessing = {**dataset.preprocessing, "split": split}
    return dataset


def fit(config: TrainConfig, *, callbacks: Iterable[Callback] = (), catalog: Catalog | None = None,
        dataset: Dataset | None = None, run_dir: str | os.PathLike[str] | None = None,
        resume_from: str | os.PathLike[str] | None = None) -> TrainResult:
    """Train ``config.architecture`` on ``config.dataset`` with ``config.loss``; returns the trained networks.

    With ``run_dir`` the run is checkpointed there (every ``config.checkpoint_every`` steps,
    at the last step, and on Ctrl-C); ``resume_from`` continues the run saved in that folder
    (and keeps checkpointing into it unless ``run_dir`` says otherwise). Ctrl-C finishes the
    current step, lets callbacks save, then raises :class:`TrainingInterrupted`.

    Inside an initialized ``torch.distributed`` process group (``torchrun``; see
    :mod:`ganzoo.distributed`) every process trains its own slice of each global batch of
    ``batch_size * world_size`` through DistributedDataParallel; only rank 0 runs the
    callbacks (those with ``all_ranks = True`` run everywhere) and writes ``run_dir``.
    """
    catalog = catalog or get_catalog()
    world = current_world()
    callbacks = [cb for cb in callbacks if world.is_main or getattr(cb, "all_ranks", False)]
    if not world.is_main:
        run_dir = None  # other ranks read a checkpoint to resume from, but write nothing
    checkpoint = None
    if resume_from is not None:
        from .checkpoint import load_checkpoint

        checkpoint = load_checkpoint(resume_from)  # a bad folder fails before the data is loaded
        if world.is_main:
            run_dir = resume_from if run_dir is None else run_dir
    checkpointer = None
    if run_dir is not None:
        from .checkpoint import Checkpointer

        checkpointer = Checkpointer(run_dir, config.checkpoint_every)
        callbacks.append(checkpointer)
    arch = catalog.architecture(config.architecture)
    loss = catalog.loss(config.loss or arch.default_loss)
    device = resolve_device(config.device)
    if world.distributed and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", world.local_rank)  # one GPU per process
    if dataset is None:
        dataset = _load_once(world, lambda: load_dataset(config.dataset, image_size=config.image_size,
                                                          data_dir=config.data_dir, catalog=catalog))

    was_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        if config.deterministic:
            if device.type == "cuda":  # cuBLAS is deterministic only with a fixed workspace (PyTorch docs)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        with _sigint_deferred() as interrupted:
            return _fit(config, callbacks, catalog, dataset, loss, device, checkpoint, interrupted, world)
    except TrainingDiverged as exc:
        if checkpointer is not None and checkpointer.saved_step is not None:
            raise TrainingDiverged(f"{exc} The last good checkpoint (step {checkpointer.saved_step}) is kept "
                                   f"in {checkpointer.run_dir}.") from None
        raise
    except TrainingInterrupted as exc:
        if checkpointer is not None and checkpointer.saved_step == exc.step:
            exc.run_dir = checkpointer.run_dir
        raise
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _fit(config: TrainConfig, callbacks: list[Callback], catalog: Catalog, dataset: Dataset, loss: Loss,
         device: torch.device, checkpoint: dict[str, Any] | None, interrupted: Callable[[], bool],
         world: World) -> TrainResult:
    torch.manual_seed(config.seed)
    random.seed(config.seed)  # unused by the loop; seeded (and checkpointed) for plugins that draw from it
    spec = catalog.resolve_spec(config.architecture, dataset.shape, dataset.num_classes, **config.model)
    G, D = catalog.build(spec)  # refuses data that does not fit, before any step
    if world.distributed and device.type == "cuda":  # batch statistics over the global batch
        G = nn.SyncBatchNorm.convert_sync_batchnorm(G)
        D = nn.SyncBatchNorm.convert_sync_batchnorm(D)
    G.to(device).train()
    D.to(device).train()
    layout = torch.channels_last if config.channels_last and len(dataset.shape) == 3 else None
    if layout is not None:
        G.to(memory_format=layout)
        D.to(memory_format=layout)
    data_rng = torch.Generator().manual_seed(config.seed + 1)
    sampler = TensorSampler(dataset, config.batch_size, device, data_rng, rank=world.rank, world=world.size)

    fused = {"fused": True} if config.fused_adam else {}
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=config.betas, **fused)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=config.betas, **fused)
    ema = _make_ema(G, config.ema)
    fixed_z = G.sample_latent(64)
    fixed_labels = _grid_labels(64, spec.num_classes, device)
    state = TrainState(config, spec, dataset, G, D, ema, loss, device, fixed_z, fixed_labels,
                       opt_g=opt_g, opt_d=opt_d, sampler=sampler)
    if checkpoint is not None:
        from .checkpoint import restore

        restore(state, checkpoint)  # weights, optimizers, random states, history: the run continues exactly
    history = state.history
    b = config.batch_size
    if checkpoint is not None and int(checkpoint.get("world_size", 1)) != world.size:
        was = int(checkpoint.get("world_size", 1))
        state.notes.append(f"this run was checkpointed by {was} process(es) and resumes in {world.size}: the "
                           f"global batch changes from {b * was} to {b * world.size} (batch size {b} per "
                           "process); the data order and the random streams continue from the checkpoint")
    # The networks as called in the loop. G_sync and D_sync average gradients across processes
    # (DistributedDataParallel); a forward that is never backpropagated, or whose gradients stay
    # local (D in G's step), goes through the bare module. Compiled, if asked; all share G's and D's weights.
    G_sync, D_sync = (_ddp(G, device), _ddp(D, device)) if world.distributed else (G, D)
    gen: nn.Module = G
    disc: nn.Module = D
    if config.compile:  # one compiled wrapper per distinct module: alone, the bare and the synced are one
        G_sync, D_sync = _compiled(G_sync), _compiled(D_sync)
        gen, disc = (_compiled(G), _compiled(D)) if world.distributed else (G_sync, D_sync)

    def latent() -> torch.Tensor:  # this process's slice of one global noise batch (all ranks draw alike)
        return G.sample_latent(b * world.size)[world.rank * b : (world.rank + 1) * b]

    for cb in callbacks:
        cb.on_train_start(state)
    start = time.perf_counter() - state.seconds
    for step in range(state.step + 1, config.steps + 1):
        loss.set_progress(step, config.steps)  # every registered loss is a ganzoo.Loss
        if config.lr_decay:  # a function of the step alone, so a resumed run follows the same schedule
            scale = lr_scale(step, config.steps, config.lr_decay)
            for opt, lr in ((opt_g, config.lr_g), (opt_d, config.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * scale
        # 1. k discriminator steps: D ascends V(D, G) on a real batch and a fresh generated one.
        D.requires_grad_(True)
        for i in range(config.d_steps):
            real, labels = sampler.next()
            if layout is not None:
                real = real.contiguous(memory_format=layout)
            keep = config.reuse_fake and i == config.d_steps - 1  # this fake batch feeds G's step too
            with torch.set_grad_enabled(keep), _autocast(config, device):
                fake = (G_sync if keep else gen)(latent(), labels)
            with _autocast(config, device):
                real_logits = D_sync(real, labels)
                fake_logits = D_sync(fake.detach(), labels)
                d_loss = loss.discriminator_loss(real_logits.float(), fake_logits.float())
                penalty = loss.penalty(disc, real, fake.detach(), labels)
                if penalty is not None:
                    d_loss = d_loss + penalty.float()
            _check_finite(d_loss, step, "discriminator", world)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            _check_gradients(D, step, "discriminator")
            opt_d.step()

        # 2. one generator step, on fresh noise (Goodfellow et al.) unless it reuses D's last batch;
        # labels follow the data's label distribution.
        D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
        with _autocast(config, device):
            if not config.reuse_fake:
                labels = sampler.sample_labels(b)
                fake = G_sync(latent(), labels)
            g_logits = disc(fake, labels)
            g_loss = loss.generator_loss(g_logits.float())
        _check_finite(g_loss, step, "generator", world)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        _check_gradients(G, step, "generator")
        opt_g.step()
        del fake  # with reuse_fake it holds G's graph; free it before the next D step

        # 3. bookkeeping: EMA, metrics, callbacks (checkpoints among them); then honour a Ctrl-C.
        if ema is not None:
            ema.update(G, step=step)
        state.step = step
        metrics = {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),  # mean D(x)
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),  # mean D(G(z))
        }
        state.seconds = time.perf_counter() - start
        if step % config.log_every == 0 or step == config.steps:
            record = {"step": step, **{k: float(v) for k, v in metrics.items()}, "seconds": state.seconds}
            history.append(record)
        for cb in callbacks:
            cb.on_step_end(state, metrics)
        if world.any(interrupted()):  # every rank stops after the same step
            for cb in callbacks:
                cb.on_interrupt(state)
            raise TrainingInterrupted(step)
    seconds = time.perf_counter() - start

    D.requires_grad_(True)
    if layout is not None:  # hand back networks in the usual layout
        G.to(memory_format=torch.contiguous_format)
        D.to(memory_format=torch.contiguous_format)
        if ema is not None:
            ema.module.to(memory_format=torch.contiguous_format)
    recalibrate_for_sampling(G, dataset, config)
    G.eval()
    D.eval()
    ema_g: Generator | None = None
    if ema is not None:
        averaged = ema.module
        assert isinstance(averaged, Generator)
        recalibrate_for_sampling(averaged, dataset, config)
        averaged.ganzoo_spec = spec
        ema_g = averaged.eval()
    for cb in callbacks:
        cb.on_train_end(state)
    return TrainResult(config, spec, dataset, G, D, ema_g, history, config.steps, seconds)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[Callable[[], bool]]:
    """While training, Ctrl-C only raises a flag the loop checks between steps.

    So a step (and a checkpoint being written) always completes; further Ctrl-Cs while
    the run winds down are absorbed. Signals reach only the main thread, so elsewhere
    this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    requested = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def _load_once(world: World, load: Callable[[], Dataset]) -> Dataset:
    """Rank 0 loads (and may download) first; the others then read what it left on disk."""
    if not world.distributed:
        return load()
    dataset: Dataset | None = None
    failure: BaseException | None = None
    if world.is_main:
        try:
            dataset = load()
        except Exception as exc:  # every rank must hear of it, or they would wait for rank 0 forever
            failure = exc
    if world.any(failure is not None):
        if failure is not None:
            raise failure
        raise ConfigError("rank 0 could not load the dataset; its message says why")
    return dataset if dataset is not None else load()


def _ddp(module: nn.Module, device: torch.device) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # Buffers (BatchNorm's running statistics) follow rank 0's at each forward, so they stay
    # identical everywhere; on CUDA SyncBatchNorm already computes them over the global batch.
    # Newer PyTorch names the option forward_sync_buffers and deprecates broadcast_buffers.
    sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
            else "broadcast_buffers")
    options: dict[str, Any] = {sync: True}
    return DistributedDataParallel(module, device_ids=ids, **options)


def _compiled(module: nn.Module) -> nn.Module:
    try:
        return cast(nn.Module, torch.compile(module))
    except RuntimeError as exc:  # e.g. no C++ compiler for the CPU backend, or an unsupported Python
        raise ConfigError(f"torch.compile is not available here ({exc}); drop --compile") from None


def _make_ema(g: Generator, decay: float) -> Any:
    if decay == 0:
        return None
    from timm.utils import ModelEmaV3  # timm's EMA: foreach updates, buffers averaged too

    # warm-up: early averages would otherwise be dominated by the random initialization
    return ModelEmaV3(g, decay=decay, use_warmup=True, warmup_power=3 / 4)


def _grid_labels(n: int, num_classes: int, device: torch.device) -> torch.Tensor | None:
    """For conditional grids: column c of a num_classes-wide grid shows class c."""
    if num_classes == 0:
        return None
    return torch.arange(n, device=device) % num_classes


def lr_scale(step: int, steps: int, decay: float) -> float:
    """The learning-rate factor at ``step`` (1-based) of ``steps`` with ``--lr-decay decay``.

    1 until the last ``n = round(decay * steps)`` steps, then falling linearly: the last step
    of the run uses 1 / n of the rate, so no step is taken with a rate of 0.
    """
    if decay <= 0:
        return 1.0
    n = max(1, round(decay * steps))
    return min(1.0, (steps - step + 1) / n)


def _check_finite(loss: torch.Tensor, step: int, network: str, world: World) -> None:
    """Refuse a NaN/inf loss before its backward pass; in a multi-process run every rank agrees first."""
    ok = bool(torch.isfinite(loss))
    bad = world.flags(ok)
    if bad:
        where = f" on rank {', '.join(map(str, bad))}" if world.distributed else ""
        value = f" {loss.item()}" if not ok else " non-finite"
        raise TrainingDiverged(
            f"the {network} loss became{value} at step {step}{where}; the step was not applied. "
            "Lower the learning rates (--lr-g/--lr-d) or try another --loss."
        )


def _check_gradients(network: nn.Module, step: int, name: str) -> None:
    """Refuse NaN/inf gradients before the optimizer spreads them into the weights and Adam's moments."""
    grads = [p.grad for p in network.parameters() if p.grad is not None]
    if not grads:
        return
    norms = torch._foreach_norm(grads)  # one fused pass; non-finite entries make the total non-finite
    total = torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))
    if not torch.isfinite(total):
        bad = next(n for n, p in network.named_parameters() if p.grad is not None and not p.grad.isfinite().all())
        raise TrainingDiverged(
            f"the {name} gradients became non-finite at step {step} (first in {bad}); the step was not applied. "
            "Lower the learning rates (--lr-g/--lr-d) or try another --loss."
        )


@contextlib.contextmanager
def _autocast(config: TrainConfig, device: torch.device) -> Iterator[None]:
    if config.precision == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


def data_labels(dataset: Dataset, generator: Generator, seed: int = 0) -> Callable[[int], torch.Tensor | None]:
    """Labels drawn like the dataset's, from a seeded generator of their own (None for unlabelled data)."""
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    labels = dataset.labels

    def draw(n: int) -> torch.Tensor | None:
        if labels is None or not generator.num_classes:
            return None
        return labels[torch.randint(len(labels), (n,), generator=rng)].to(device)

    return draw


@torch.no_grad()
def recalibrate_batchnorm(g: Generator, batch_size: int, *, labels: Callable[[int], torch.Tensor | None] | None = None,
                          samples: int = 8192, seed: int = 0) -> None:
    """Recompute ``g``'s BatchNorm running statistics for its current weights, layer by layer.

    Running statistics gathered during training do not describe the network that samples:
    the EMA averages weights, and even for the trained weights each layer's statistics were
    collected while the layers before it normalized by noisy per-batch statistics. Sampling
    runs in eval mode, where every earlier layer uses its running statistics, so each
    BatchNorm layer gets the exact mean and variance of its input under those: the layers
    are recalibrated in the order the forward pass meets them, each over the same ``samples``
    latents (a cumulative average, momentum=None; in batches of ``batch_size``, or of 256 when
    that is larger, since no gradients are kept) while the layers before
    it already use their new statistics. This is the large-batch limit of train mode (the
    "standing statistics" of Brock et al. 2019, computed without the small-batch bias).
    A conditional generator gets ``labels(n)`` (e.g. drawn like the data's), or uniform
    labels when that is None. Only ``g``'s buffers change; no global random state is used.
    On the 2-D grid, recalibrating all layers at once in train mode left a whole row of
    modes 3.6 std off its centres; layer by layer put it back.
    """
    norms = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    device = next(g.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)

    def uniform(n: int) -> torch.Tensor | None:
        return torch.randint(g.num_classes, (n,), generator=rng, device=device) if g.num_classes else None

    draw = labels or uniform
    batch_size = min(max(batch_size, 256), samples)
    inputs = [(g.sample_latent(batch_size, generator=rng), draw(batch_size))
              for _ in range(math.ceil(samples / batch_size))]
    was_training = g.training
    g.eval()
    order: list[nn.modules.batchnorm._BatchNorm] = []  # the order in which the forward pass meets them

    def met(module: nn.modules.batchnorm._BatchNorm, _: Any) -> None:
        if all(module is not m for m in order):
            order.append(module)

    hooks = [m.register_forward_pre_hook(met) for m in norms]
    try:
        g(*inputs[0])
    finally:
        for h in hooks:
            h.remove()
    for m in order:  # a layer the forward pass never meets keeps its statistics
        momentum = m.momentum
        m.reset_running_stats()
        m.momentum = None
        m.train()
        for z, y in inputs:
            g(z, y)
        m.momentum = momentum
        m.eval()
    g.train(was_training)


def recalibrate_for_sampling(g: Generator, dataset: Dataset, config: TrainConfig) -> None:
    """What :func:`fit` does to each generator it hands back: :func:`recalibrate_batchnorm` in
    batches of the run's size, with labels drawn like the data's, seeded by the run's seed."""
    recalibrate_batchnorm(g, config.batch_size, labels=data_labels(dataset, g, config.seed), seed=config.seed)
