"""Multi-process training on PyTorch's own engine: ``torch.distributed`` started by ``torchrun``.

ganzoo adds no launcher and no communication layer. ``torchrun`` (or ``ganzoo train
--nproc N``, which calls torchrun's launcher API) starts the processes and sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous variables; :func:`init_from_env` joins
the process group (NCCL on CUDA, gloo elsewhere) and :func:`fit` trains with one
``DistributedDataParallel`` wrapper for G and one for D. See docs/distributed.md.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..errors import ConfigError

__all__ = ["StopVote", "World", "check_device_for_processes", "current_world", "init_from_env", "launch",
           "shutdown"]


@dataclass(frozen=True)
class World:
    """Where this process stands in a run: ``rank`` of ``size`` processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints, writes the run folder and publishes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def flags(self, ok: bool) -> list[int]:
        """Every rank's ``ok``: one all-reduce, so that all ranks take the same decision."""
        if not self.distributed:
            return [] if ok else [self.rank]
        bad = torch.zeros(self.size, dtype=torch.int32, device=_collective_device())
        bad[self.rank] = 0 if ok else 1
        dist.all_reduce(bad)
        return [r for r in range(self.size) if bad[r]]

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's ``tensor``, concatenated in rank order: the same on every rank (itself in a world of one)."""
        if not self.distributed:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank."""
        return bool(self.flags(not flag))

    def agree(self, flag: torch.Tensor) -> None:
        """Set the device tensor ``flag`` to its largest value over all ranks, in place. Nothing is read
        on the host: with NCCL the all-reduce is queued on the device like any kernel."""
        if self.distributed:
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)


class StopVote:
    """The ranks of a run agree to stop (a Ctrl-C on any of them) without the host waiting on the device each step.

    Each step's local wish joins an all-reduce that is queued like any kernel; its result is read
    ``lag`` steps later, when the device finished it long ago, so every rank stops after the same
    step, ``lag`` steps after the one that asked. The host runs at most ``lag`` steps ahead of the
    device. The last step waits for every vote still open, so a Ctrl-C is never lost. In a world
    of one the wish is the decision, at once.
    """

    def __init__(self, world: World, lag: int = 2) -> None:
        self.world = world
        self.lag = lag
        self._open: deque[tuple[torch.Tensor, torch.cuda.Event | None]] = deque()

    def __call__(self, wish: bool, *, last: bool = False) -> bool:
        """True on every rank, at the same step, once any rank wished to stop ``lag`` steps ago (at the last
        step: at any time)."""
        if not self.world.distributed:
            return wish
        device = _collective_device()
        vote = torch.full((1,), int(wish), dtype=torch.int32, device=device)
        self.world.agree(vote)  # NCCL: queued on the device; gloo: done on the host
        event = None
        if device.type == "cuda":
            host = torch.empty(1, dtype=torch.int32, pin_memory=True)
            host.copy_(vote, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            vote = host
        self._open.append((vote, event))
        due = len(self._open) if last else len(self._open) - self.lag
        stop = False
        for _ in range(max(0, due)):
            result, done = self._open.popleft()
            if done is not None:
                done.synchronize()  # long finished, except at the last step
            stop = stop or bool(result[0])
        return stop


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def current_world() -> World:
    """The running process group's view, or a world of one when none is initialized."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def init_from_env(device: str = "auto", timeout_s: float = 1800) -> World:
    """Join the process group that ``torchrun`` describes in the environment; a world of one without it.

    The backend is NCCL when this process trains on CUDA, gloo otherwise. Idempotent.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 or (dist.is_available() and dist.is_initialized()):
        return current_world()
    if not dist.is_available():
        raise ConfigError("this PyTorch build has no torch.distributed; run with one process")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise ConfigError(f"WORLD_SIZE={size} is set but {name} is not: start multi-process runs with "
                              "torchrun (or ganzoo train --nproc N), which sets all of them")
    check_device_for_processes(device, size)
    local_rank = int(os.environ["LOCAL_RANK"])
    cuda = torch.cuda.is_available() and (device in ("auto", "cuda") or device.startswith("cuda:"))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(seconds=timeout_s))
    return current_world()


def check_device_for_processes(device: str, nproc: int) -> None:
    """Refuse a device that names one GPU (``cuda:N``) for a run of several processes, which take one GPU each."""
    if nproc > 1 and device.startswith("cuda:"):
        raise ConfigError(f"--device {device} names one GPU, but this run has {nproc} processes, one GPU each; use "
                          "--device cuda (process N trains on cuda:N, N its local rank)")


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        import gc

        # The DDP wrappers of a finished run can sit in reference cycles and hold the gloo group; left to the
        # interpreter's exit, the group's worker threads were torn down half-way (a SIGABRT, "terminate called
        # without an active exception", in about 1 run in 8). Freed here, the group is destroyed while Python
        # is whole: 0 aborts in 60 runs of tests/test_distributed.py's 2-process fit.
        gc.collect()
        dist.destroy_process_group()


def launch(nproc: int, args: Sequence[str]) -> None:
    """Run ``python -m ganzoo ARGS`` in ``nproc`` local processes with torchrun's launcher API.

    Raises :class:`ConfigError` naming the failed rank when a process fails.
    """
    import sys
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"--nproc must be a positive integer, got {nproc}")
    # as torchrun does: without a setting, N processes of all-core thread pools would oversubscribe the CPU
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.5)
    try:
        elastic_launch(config, sys.executable)("-m", "ganzoo", *args)
    except ChildFailedError as exc:
        ranks = ", ".join(str(f.local_rank) for f in exc.failures.values())
        raise ConfigError(f"the {nproc}-process run failed on rank(s) {ranks}; the messages of each rank "
                          "are printed above") from None
