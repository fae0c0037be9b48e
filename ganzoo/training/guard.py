"""The promise that a NaN or infinite loss or gradient is never applied, kept in one of two ways.

Every optimizer update in :func:`~ganzoo.training.loop.fit` passes through a guard with the
same interface (``check_loss``, ``check_gradients``, ``step``, then ``update_ema`` and ``read``
once per generator step). ``TrainConfig.nan_check`` picks the strategy:

``eager`` (``auto`` on CPUs and MPS)
    The loss is checked before its backward pass and the gradients before the optimizer step;
    a bad value raises :class:`TrainingDiverged` at once. Each check reads a device value on
    the host: four synchronisations per step, which cost nothing on a CPU but on a GPU stall
    the queue of kernels four times per step.

``deferred`` (``auto`` on CUDA)
    Nothing is read on the host in the loop. Each update's loss and per-parameter gradient
    norms are checked on the device into a flag that Adam itself obeys: the fused Adam
    kernel's ``found_inf`` (the argument ``torch.amp.GradScaler`` uses) makes a flagged
    update change no weight, no moment and no step count. So deferred checks always run
    Adam fused, whatever ``fused_adam`` says. The flag is sticky: once set, every later
    update is skipped too, so the run stays as it was before the bad update until the flag
    is read. The loop reads it (one synchronisation) at every step something may be written:
    each ``log_every`` and ``checkpoint_every`` step, the run folder's grid and evaluation
    steps (in a one-process run: rank 0 alone knows them), the last step and on Ctrl-C;
    callbacks that save at other steps call :meth:`TrainState.raise_if_diverged` first. The read raises the same
    :class:`TrainingDiverged` as eager checks would (the step, the network, the loss's value
    or the first parameter whose gradient was bad; in a multi-process run, the rank), with
    the run as it was before the bad update:

    - the weights, Adam's moments and step counts of G and D, and the EMA of G, unchanged
      since then (the EMA update is weighted by the flag, a device tensor);
    - every buffer of G and D (BatchNorm's running statistics, spectral norm's vectors) put
      back to its value after the last good update: the guard keeps a copy that stops
      following them once the flag is set, and the EMA averages that copy;
    - ``state.step`` is the last step that completed before it.

    What does move on between the bad update and the read: the data order and the random
    streams, and an augmentation's own state (ADA's p). Nothing is written in between,
    since every writing step reads the flag first.

With eager checks the buffers hold the bad update's forward pass (it ran before its loss
could be checked); weights, moments and the EMA are those from before it, as above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import ConfigError
from .state import TrainingDiverged

if TYPE_CHECKING:
    from .config import TrainConfig
    from .distributed import World
    from .state import TrainState

__all__ = ["DeferredGuard", "EagerGuard", "Guard", "nan_check_strategy", "settle_optimizer"]

HINT = "Lower the learning rates (--lr-g/--lr-d) or try another --loss."
NETWORKS = ("discriminator", "generator")  # the order of the device codes


def nan_check_strategy(config: TrainConfig, device: torch.device) -> str:
    """``eager`` or ``deferred``: ``config.nan_check`` with ``auto`` resolved for ``device``.

    CUDA graphs replay without the host, so they always check on the device."""
    if config.nan_check != "auto":
        return config.nan_check
    return "deferred" if device.type == "cuda" or config.cuda_graphs else "eager"


class Guard:
    """What the loop calls around each optimizer update; the two strategies below implement it."""

    def start(self, step: int) -> None:
        """Before the first step; ``step`` is the step the run continues from."""

    def begin_step(self) -> None:
        """At the start of each generator step."""

    def check_loss(self, loss: torch.Tensor, step: int, network: str) -> None:
        """Before ``loss.backward()``."""

    def check_gradients(self, module: nn.Module, step: int, network: str) -> None:
        """After the backward pass, before the optimizer step."""

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer step itself (skipped on the device by a deferred guard's flag)."""
        optimizer.step()

    def update_ema(self, ema: Any, generator: nn.Module, step: int) -> None:
        """The moving average of G after its update (timm's ModelEmaV3 ``ema``)."""
        ema.update(generator, step=step)

    def read(self, state: TrainState) -> None:
        """Raise :class:`TrainingDiverged` if an update since the last read was not applied."""


class EagerGuard(Guard):
    """Checks on the host before each update and raises at once (four synchronisations per step)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def check_loss(self, loss: torch.Tensor, step: int, network: str) -> None:
        """Refuse a NaN/inf loss before its backward pass; in a multi-process run every rank agrees first."""
        ok = bool(torch.isfinite(loss))
        bad = self.world.flags(ok)
        if bad:
            where = f" on rank {', '.join(map(str, bad))}" if self.world.distributed else ""
            value = f" {loss.item()}" if not ok else " non-finite"
            raise TrainingDiverged(f"the {network} loss became{value} at step {step}{where}; the step was not "
                                   f"applied. {HINT}")

    def check_gradients(self, module: nn.Module, step: int, network: str) -> None:
        """Refuse NaN/inf gradients before the optimizer spreads them into the weights and Adam's moments."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        norms = torch._foreach_norm(grads)  # one fused pass; a non-finite entry makes its norm non-finite
        if not bool(torch.isfinite(torch.stack([n.float() for n in norms])).all()):
            bad = next(n for n, p in module.named_parameters() if p.grad is not None and not p.grad.isfinite().all())
            raise TrainingDiverged(f"the {network} gradients became non-finite at step {step} (first in {bad}); "
                                   f"the step was not applied. {HINT}")


class DeferredGuard(Guard):
    """Checks on the device into a sticky flag that fused Adam obeys; reports at :meth:`read`.

    ``networks`` maps ``discriminator`` and ``generator`` to the bare modules and ``optimizers``
    to their Adam optimizers, which must be fused. ``ema`` is the run's ModelEmaV3 or None.
    """

    def __init__(self, world: World, device: torch.device, networks: dict[str, nn.Module],
                 optimizers: dict[str, torch.optim.Optimizer], ema: Any = None) -> None:
        self.world = world
        # 1.0 once an update was non-finite: Adam's found_inf, so a flagged update changes nothing
        self.flag = torch.zeros((), dtype=torch.float32, device=device)
        self._one = torch.ones((), dtype=torch.float32, device=device)
        for name, opt in optimizers.items():
            if not all(group.get("fused") for group in opt.param_groups):
                raise ConfigError(f"deferred NaN checks need the fused Adam kernel, but the {name}'s optimizer is not "
                                  "fused; use nan_check='eager'")
            opt.found_inf = self.flag  # type: ignore[attr-defined]  # read by Adam.step, as GradScaler sets it
        # 4 * step, kept on the device (so a captured CUDA graph sees it advance)
        self._count = torch.zeros((), dtype=torch.int64, device=device)
        # the first bad update: 0 for none, else 4 * step + 2 * network + (1 if the loss was finite, so gradients)
        self._first = torch.zeros((), dtype=torch.int64, device=device)
        # per network, at its first bad update: the loss, then each parameter's gradient norm
        self._values: dict[str, torch.Tensor] = {}
        self._names: dict[str, list[str]] = {}  # the parameters those norms belong to
        self._loss: torch.Tensor | None = None
        buffers = [b for net in networks.values() for b in net.buffers()]
        self._buffers = _FrozenCopy(buffers)
        self._ema = _GuardedEma(ema, networks["generator"], self._buffers) if ema is not None else None

    def start(self, step: int) -> None:
        self._count.fill_(4 * step)
        self._buffers.take()

    def begin_step(self) -> None:
        self._count.add_(4)

    def check_loss(self, loss: torch.Tensor, step: int, network: str) -> None:
        self._loss = loss  # checked with the gradients, after the backward pass

    def check_gradients(self, module: nn.Module, step: int, network: str) -> None:
        assert self._loss is not None, "check_loss comes first"
        named = [(n, p.grad) for n, p in module.named_parameters() if p.grad is not None]
        norms = torch._foreach_norm([g for _, g in named]) if named else []
        loss = self._loss.detach().float().reshape(())
        values = torch.stack([loss, *(n.float() for n in norms)])
        ok = torch.isfinite(values).all()
        self._record_first(network, values, [n for n, _ in named], ok, loss)
        torch.where(ok, self.flag, self._one, out=self.flag)
        self.world.agree(self.flag)  # every process skips the same updates
        self._loss = None

    def _record_first(self, network: str, values: torch.Tensor, names: list[str], ok: torch.Tensor,
                      loss: torch.Tensor) -> None:
        """Record this update if it is the run's first bad one (all on the device)."""
        held = self._values.get(network)
        if held is None or held.shape != values.shape:  # the first update of this network (or a new layout)
            held = self._values[network] = torch.zeros_like(values)
        self._names[network] = names
        new = torch.logical_and(ok.logical_not(), self.flag == 0)
        code = self._count + 2 * NETWORKS.index(network) + torch.isfinite(loss).long()
        torch.where(new, code, self._first, out=self._first)
        torch.where(new, values, held, out=held)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.step()  # fused Adam: a no-op on the device while the flag is set
        self._buffers.follow(self.flag)

    def update_ema(self, ema: Any, generator: nn.Module, step: int) -> None:
        assert self._ema is not None
        self._ema.update(ema.get_decay(step), self.flag)

    def read(self, state: TrainState) -> None:
        info = torch.stack([self.flag.long(), self._first]).reshape(1, 2)
        rows = self.world.gather(info).tolist()  # the one synchronisation, every rank's flag and first bad update
        if not any(flag for flag, _ in rows):
            return
        first = min((code for _, code in rows if code), default=0)
        ranks = [r for r, (_, code) in enumerate(rows) if code == first]
        step, network, gradients = first // 4, NETWORKS[(first // 2) % 2], bool(first % 2)
        where = f" on rank {', '.join(map(str, ranks))}" if self.world.distributed else ""
        mine = self.world.rank in ranks
        values = self._values[network].tolist() if mine and network in self._values else None
        if not gradients:
            value = f" {values[0]}" if values is not None else " non-finite"
            message = f"the {network} loss became{value} at step {step}{where}"
        else:
            names = self._names.get(network, [])
            bad = next((names[i] for i, v in enumerate((values or [])[1:]) if not math.isfinite(v) and i < len(names)),
                       None)
            which = f" (first in {bad})" if bad is not None else ""
            message = f"the {network} gradients became non-finite at step {step}{which}{where}"
        self._buffers.restore()  # the buffers as they were after the last good update
        state.step = step - 1
        raise TrainingDiverged(f"{message}; the step was not applied. {HINT}")


class _FrozenCopy:
    """A copy of some tensors that follows them after each good update and stops once the flag is set.

    The copy is one flat tensor per dtype, refreshed with one ``torch.cat`` and one ``torch.where``
    (a masked copy: a NaN in the live value cannot leak in, as it would through arithmetic).
    """

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self.groups: list[tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor]]] = []
        by_dtype: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for t in tensors:
            by_dtype.setdefault((t.dtype, t.device), []).append(t)
        for live in by_dtype.values():
            flat = torch.cat([t.detach().reshape(-1) for t in live])
            views = [v.view(t.shape) for v, t in zip(flat.split([t.numel() for t in live]), live, strict=True)]
            self.groups.append((live, flat, views))

    def view_of(self, tensor: torch.Tensor) -> torch.Tensor:
        """The copy of ``tensor`` (one of those given)."""
        for live, _, views in self.groups:
            for t, v in zip(live, views, strict=True):
                if t is tensor:
                    return v
        raise KeyError("not a followed tensor")

    def take(self) -> None:
        """Copy the live values unconditionally (at the start, or after a resume)."""
        for live, flat, _ in self.groups:
            flat.copy_(torch.cat([t.detach().reshape(-1) for t in live]))

    def follow(self, flag: torch.Tensor) -> None:
        """Copy the live values unless ``flag`` is set."""
        if not self.groups:
            return
        frozen = flag > 0
        for live, flat, _ in self.groups:
            torch.where(frozen, flat, torch.cat([t.detach().reshape(-1) for t in live]), out=flat)

    @torch.no_grad()
    def restore(self) -> None:
        """Put the copied values back into the live tensors."""
        for live, _, views in self.groups:
            for t, v in zip(live, views, strict=True):
                t.copy_(v)


class _GuardedEma:
    """timm's ModelEmaV3 update, weighted by the flag: ``ema += (1 - decay) * (1 - flag) * (G - ema)``.

    With the flag clear this is ModelEmaV3's average, rounded a little differently (a subtraction,
    a multiplication by a device tensor and an addition, where ``lerp_`` takes the weight as a host
    number); with it set the average stays. G's buffers are read from the guard's copy, which
    holds no value of a bad update.
    """

    def __init__(self, ema: Any, generator: nn.Module, buffers: _FrozenCopy) -> None:
        buffer_ids = {id(b) for b in generator.buffers()}
        ema_values = ema.module.state_dict().values()
        live_values = generator.state_dict(keep_vars=True).values()
        self.floats: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        self.others: list[tuple[torch.Tensor, torch.Tensor]] = []
        for ema_v, live_v in zip(ema_values, live_values, strict=True):
            source = buffers.view_of(live_v) if id(live_v) in buffer_ids else live_v.detach()
            if ema_v.is_floating_point() and ema_v.dtype == source.dtype:
                self.floats[0].append(ema_v)
                self.floats[1].append(source)
            else:
                self.others.append((ema_v, source))

    @torch.no_grad()
    def update(self, decay: float, flag: torch.Tensor) -> None:
        if self.floats[0]:
            ema, live = self.floats
            step = torch._foreach_sub(live, ema)
            torch._foreach_mul_(step, (1 - flag) * (1.0 - decay))  # a device tensor: no wait for the host
            torch._foreach_add_(ema, step)
        frozen = flag > 0
        for ema_v, source in self.others:
            torch.where(frozen, ema_v, source.to(ema_v.dtype), out=ema_v)


def settle_optimizer(optimizer: torch.optim.Optimizer, *, fused: bool, capturable: bool = False) -> None:
    """Make a restored Adam run as this run asks (a checkpoint's groups bring their own ``fused``).

    A checkpoint written with the other strategy (a CPU run continued on CUDA, say) holds Adam's
    step counts where that kernel keeps them: on the host for the for-each kernel, beside the
    weights for the fused one; they are moved, as ``Adam.load_state_dict`` would have placed them.
    """
    for group in optimizer.param_groups:
        if bool(group.get("fused")) != fused:
            group["fused"] = fused
            group["foreach"] = None
        group["capturable"] = capturable
        for p in group["params"]:
            state = optimizer.state.get(p)
            if state and isinstance(state.get("step"), torch.Tensor):
                device = p.device if fused or capturable else torch.device("cpu")
                state["step"] = state["step"].to(device=device, dtype=torch.float32)
