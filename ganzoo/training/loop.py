"""The one adversarial trainer: k discriminator steps, then one generator step.

Every architecture and every loss goes through :func:`fit`. The loop reads top to
bottom (Goodfellow et al. 2014, Algorithm 1); the loss object owns the maths of
each phase, callbacks own everything that is not training (progress, logging, grids).
Each optimizer update passes through a guard that never lets a NaN or infinite value in
(:mod:`ganzoo.training.guard`); with ``cuda_graphs`` the two update functions are replayed
as CUDA graphs (:mod:`ganzoo.training.graphs`).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import torch
from torch import nn

from ..augment import Augmentation
from ..catalog import Catalog, get_catalog
from ..data import Dataset
from ..data.feeder import make_sampler
from ..data.loading import load_dataset, take_subset
from ..errors import ConfigError
from ..losses import Loss, lr_scale
from ..models import Generator
from .batchnorm import recalibrate_for_sampling
from .checkpoint import load_checkpoint, restore
from .config import TrainConfig
from .distributed import StopVote, World, check_device_for_processes, current_world
from .graphs import GraphedUpdates, check_graph_options, device_learning_rates
from .guard import DeferredGuard, EagerGuard, Guard, nan_check_strategy, settle_optimizer
from .state import Callback, TrainingDiverged, TrainingInterrupted, TrainResult, TrainState, metric_values

__all__ = ["fit", "resolve_device"]


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


def fit(config: TrainConfig, *, callbacks: Iterable[Callback] = (), catalog: Catalog | None = None,
        dataset: Dataset | None = None, resume_from: str | os.PathLike[str] | None = None,
        registry: Any = None) -> TrainResult:
    """Train ``config.architecture`` on ``config.dataset`` with ``config.loss``; returns the trained networks.

    Everything that is not training is a callback: a :class:`~ganzoo.training.checkpoint.Checkpointer`
    saves the run (every ``config.checkpoint_every`` steps, at the last step, and on Ctrl-C), a
    :class:`~ganzoo.training.runlog.RunLogger` keeps the run folder. ``resume_from`` continues the
    run saved in that folder. With ``config.init_from`` a new run starts from that stored
    model's generator and discriminator (read from ``registry``, a Registry or its root; the
    moving average starts from the stored generator). Ctrl-C finishes the current step, lets callbacks save, then raises
    :class:`TrainingInterrupted`. A non-finite loss or gradient is never applied: it raises
    :class:`TrainingDiverged`, at once or, with deferred checks (``config.nan_check``, the default
    on CUDA), at the next step where anything is written, with the run as it was before the bad
    update (:mod:`ganzoo.training.guard`). Callbacks hear of either through ``on_exception``.
    With ``config.cuda_graphs`` both updates are replayed as CUDA graphs (:mod:`ganzoo.training.graphs`).

    Inside an initialized ``torch.distributed`` process group (``torchrun``; see
    :mod:`ganzoo.training.distributed`) every process trains its own slice of each global batch of
    ``batch_size * world_size`` through DistributedDataParallel; only rank 0 runs the
    callbacks (those with ``all_ranks = True`` run everywhere).
    """
    catalog = catalog or get_catalog()
    world = current_world()
    callbacks = [cb for cb in callbacks if world.is_main or cb.all_ranks]
    checkpoint = load_checkpoint(resume_from) if resume_from is not None else None  # fails before data loads
    loss_name = config.loss or catalog.architecture(config.architecture).default_loss
    loss = catalog.loss(loss_name)
    augmentation = catalog.augmentation(config.augment) if config.augment else None  # refused before data loads
    check_device_for_processes(config.device, world.size)
    device = resolve_device(config.device)
    if world.distributed and device.type == "cuda":
        device = torch.device("cuda", world.local_rank)  # one GPU per process
    check_graph_options(config, device, world)
    if dataset is None:
        dataset = _load_once(world, lambda: load_dataset(config.dataset, image_size=config.image_size,
                                                          data_dir=config.data_dir, catalog=catalog,
                                                          subset=config.subset, subset_seed=config.subset_seed))
    elif config.subset is not None:
        dataset = take_subset(dataset, config.subset, seed=config.subset_seed)

    was_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        if config.deterministic:
            if device.type == "cuda":  # cuBLAS is deterministic only with a fixed workspace (PyTorch docs)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        with _sigint_deferred() as interrupted:
            return _fit(config, callbacks, catalog, dataset, loss_name, loss, device, checkpoint, interrupted, world,
                        registry, augmentation=augmentation)
    except (TrainingDiverged, TrainingInterrupted) as exc:
        for cb in callbacks:
            cb.on_exception(exc)
        raise
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _fit(config: TrainConfig, callbacks: list[Callback], catalog: Catalog, dataset: Dataset, loss_name: str, loss: Loss,
         device: torch.device, checkpoint: dict[str, Any] | None, interrupted: Callable[[], bool],
         world: World, registry: Any = None, *, augmentation: Augmentation | None = None) -> TrainResult:
    torch.manual_seed(config.seed)
    random.seed(config.seed)  # unused by the loop; seeded (and checkpointed) for plugins that draw from it
    spec = catalog.resolve_spec(config.architecture, dataset.shape, dataset.num_classes, **config.model)
    G, D = catalog.build(spec)  # refuses data that does not fit, before any step
    parent = _start_from(config.init_from, spec, G, D, registry, catalog) if checkpoint is None else None
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
    # on the device when it fits, else fed from host memory a batch ahead (ganzoo.data.feeder); same batches
    sampler = make_sampler(dataset, config.batch_size, device, data_rng, rank=world.rank, world=world.size)

    checks = nan_check_strategy(config, device)  # eager: on the host at once; deferred: on the device (guard.py)
    fused = config.fused_adam or checks == "deferred"  # a deferred check skips updates through fused Adam
    adam: dict[str, Any] = {"fused": True} if fused else {}
    if config.cuda_graphs:
        adam["capturable"] = True
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=config.betas, **adam)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=config.betas, **adam)
    ema = _make_ema(G, config.ema)
    fixed_z = G.sample_latent(64)
    fixed_labels = _grid_labels(64, spec.num_classes, device)
    state = TrainState(config, spec, dataset, G, D, ema, loss, device, fixed_z, fixed_labels,
                       opt_g=opt_g, opt_d=opt_d, sampler=sampler, loss_name=loss_name)
    state.notes.extend(sampler.placement.notes)  # where the data lives, and whether it came from the cache
    if parent is not None:
        state.parent = parent
        if parent["discriminator"] == "new":
            state.notes.append(f"{config.init_from} stores no discriminator: D starts from random weights")
    if augmentation is not None:  # data it cannot transform is refused before any step
        augmentation.check_shape(dataset.shape)
        state.augmentation, state.augment_rng = augmentation, _augment_stream(config.seed, device, world.rank)
    if checkpoint is not None:
        restore(state, checkpoint)  # weights, optimizers, random states, history: the run continues exactly
        state.parent = state.parent or _parent_of(config)
        for opt in (opt_g, opt_d):
            settle_optimizer(opt, fused=fused, capturable=config.cuda_graphs)
    if checks == "eager":
        guard: Guard = EagerGuard(world)
    else:
        guard = DeferredGuard(world, device, {"discriminator": D, "generator": G},
                              {"discriminator": opt_d, "generator": opt_g}, ema)
        if not config.fused_adam:
            state.notes.append("NaN/inf checks run on the device (--nan-check auto on CUDA, or deferred), so Adam "
                               "runs fused; --nan-check eager keeps the for-each Adam")
    state.guard = guard
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

    def seen(x: torch.Tensor) -> torch.Tensor:  # what D looks at: with --augment, every batch passes through it
        return x if augmentation is None else augmentation.augment(x, generator=state.augment_rng)

    def discriminator_update(real: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor, keep: bool,
                             step: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One Adam step of D on a real batch and G(z); returns G(z) (with its graph when ``keep``),
        D's loss and its logits."""
        D.requires_grad_(True)
        with torch.set_grad_enabled(keep), _autocast(config, device):
            fake = (G_sync if keep else gen)(z, labels)
        with _autocast(config, device):
            real_seen, fake_seen = seen(real), seen(fake.detach())  # a penalty sees what D sees
            real_logits = D_sync(real_seen, labels)
            fake_logits = D_sync(fake_seen, labels)
            d_loss = loss.discriminator_loss(real_logits.float(), fake_logits.float())
            penalty = loss.penalty(disc, real_seen, fake_seen, labels)
            if penalty is not None:
                d_loss = d_loss + penalty.float()
        guard.check_loss(d_loss, step, "discriminator")  # eager: raises here; deferred: on the device
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        guard.check_gradients(D, step, "discriminator")
        guard.step(opt_d)
        return fake, d_loss, real_logits, fake_logits

    def generator_update(labels: torch.Tensor | None, z: torch.Tensor | None, fake: torch.Tensor | None,
                         step: int) -> torch.Tensor:
        """One Adam step of G through D, on G(z), or on ``fake`` (the last D step's batch) when given."""
        D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
        with _autocast(config, device):
            if fake is None:
                fake = G_sync(z, labels)
            g_logits = disc(seen(fake), labels)
            g_loss = loss.generator_loss(g_logits.float())
        guard.check_loss(g_loss, step, "generator")
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        guard.check_gradients(G, step, "generator")
        guard.step(opt_g)
        return g_loss

    update_d, update_g = discriminator_update, generator_update
    if config.cuda_graphs:  # the same two functions, captured once and replayed (graphs.py)
        device_learning_rates((opt_g, opt_d), device)
        graphed = GraphedUpdates(discriminator_update, generator_update, reuse_fake=config.reuse_fake,
                                 device=device, loss=loss)
        update_d, update_g = graphed.discriminator, graphed.generator

    for cb in callbacks:
        cb.on_train_start(state)
    started_at = state.step  # where a resumed run continues
    start = time.perf_counter() - state.seconds
    guard.start(state.step)
    stop_vote = StopVote(world)  # a Ctrl-C on any rank stops every rank after the same step
    for step in range(state.step + 1, config.steps + 1):
        loss.set_progress(step, config.steps)  # every registered loss is a ganzoo.Loss
        if config.lr_decay:  # a function of the step alone, so a resumed run follows the same schedule
            scale = lr_scale(step, config.steps, config.lr_decay)
            for opt, lr in ((opt_g, config.lr_g), (opt_d, config.lr_d)):
                for group in opt.param_groups:
                    _set_lr(group, lr * scale)
        guard.begin_step()
        # 1. k discriminator steps: D ascends V(D, G) on a real batch and a fresh generated one.
        for i in range(config.d_steps):
            real, labels = sampler.next()
            if layout is not None:
                real = real.contiguous(memory_format=layout)
            keep = config.reuse_fake and i == config.d_steps - 1  # this fake batch feeds G's step too
            fake, d_loss, real_logits, fake_logits = update_d(real, labels, latent(), keep, step)
            if augmentation is not None:  # an adaptive augmentation reads D's verdicts (every process's slice)
                augmentation.observe(world.gather(real_logits.detach()), world.gather(fake_logits.detach()))

        # 2. one generator step, on fresh noise (Goodfellow et al.) unless it reuses D's last batch;
        # labels follow the data's label distribution.
        z = None
        if not config.reuse_fake:
            labels = sampler.sample_labels(b)
            z, fake = latent(), None
        g_loss = update_g(labels, z, fake, step)
        del fake  # with reuse_fake it holds G's graph; free it before the next D step

        # 3. bookkeeping: EMA, metrics, callbacks (checkpoints among them); then honour a Ctrl-C.
        if ema is not None:
            guard.update_ema(ema, G, step)
        state.step = step
        if config.cuda_graphs:  # a replay's outputs are overwritten by the next one: callbacks get copies
            d_loss, g_loss = d_loss.clone(), g_loss.clone()
        metrics = {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),  # mean D(x)
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),  # mean D(G(z))
        }
        if augmentation is not None:  # e.g. ADA's p and its overfitting signal
            metrics.update({f"augment_{k}": v.detach() for k, v in augmentation.metrics().items()})
        state.seconds = time.perf_counter() - start
        if _writes_after(step, config, state.logging if not world.distributed else {}):
            guard.read(state)  # deferred checks report before anything is written (eager ones have raised)
        if step % config.log_every == 0 or step == config.steps:
            history.append({"step": step, **metric_values(metrics), "seconds": state.seconds})  # one transfer
        for cb in callbacks:
            cb.on_step_end(state, metrics)
        if stop_vote(interrupted(), last=step == config.steps):  # every rank stops after the same step
            guard.read(state)
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
    return TrainResult(config, spec, dataset, G, D, ema_g, history, config.steps, seconds, loss_name, started_at,
                       parent=state.parent)


def _start_from(ref: str | None, spec: Any, G: nn.Module, D: nn.Module, registry: Any,
                catalog: Catalog) -> dict[str, str] | None:
    """Load a stored model's networks into the freshly built G and D (``init_from``); what is recorded of it."""
    if ref is None:
        return None
    from ..registry.loading import load_starting_weights

    start = load_starting_weights(ref, spec, registry=registry, catalog=catalog)
    G.load_state_dict(start.generator, strict=True)
    if start.discriminator is not None:
        D.load_state_dict(start.discriminator, strict=True)
    return {"ref": start.ref, "generator_sha256": start.generator_sha256,
            "discriminator": "stored" if start.discriminator is not None else "new"}


def _parent_of(config: TrainConfig) -> dict[str, str] | None:
    """A resumed run's parent as its config records it, for a checkpoint that kept none."""
    return {"ref": config.init_from} if config.init_from is not None else None


def _augment_stream(seed: int, device: torch.device, rank: int) -> torch.Generator:
    """The augmentation's random numbers: a generator of its own on the training device (so the other random
    streams are those of a run without it), seeded apart on each process."""
    return torch.Generator(device=device).manual_seed((seed + 2 + (rank << 32)) % 2**64)


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


def _set_lr(group: dict[str, Any], lr: float) -> None:
    """Set an Adam group's learning rate; in place when it is a device tensor (read by CUDA graphs)."""
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].fill_(lr)
    else:
        group["lr"] = lr


def _writes_after(step: int, config: TrainConfig, logging: dict[str, Any]) -> bool:
    """Whether the callbacks may write something after ``step``: a metric record, a checkpoint, a grid,
    an evaluation, or the end of the run. Deferred NaN checks are read at these steps. ``logging`` is
    the run folder's cadences, set by rank 0's callbacks; a multi-process run passes none, so that
    every rank reads (a collective) at the same steps."""
    every = (config.log_every, config.checkpoint_every, logging.get("sample_every"), logging.get("eval_every"))
    return step == config.steps or any(isinstance(n, int) and n > 0 and step % n == 0 for n in every)


@contextlib.contextmanager
def _autocast(config: TrainConfig, device: torch.device) -> Iterator[None]:
    if config.precision == "bf16":  # a captured graph must not keep autocast's cached casts (PyTorch's notes)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=not config.cuda_graphs):
            yield
    else:
        yield
