"""Where the training data lives while a run draws batches from it, and the sampler that feeds it.

The rule (:func:`choose_placement`): a dataset whose bytes fit in :data:`DEVICE_SHARE` of the
training device's free memory is copied there once, and every batch is one ``index_select``
on the device (:class:`ResidentSampler`, which is :class:`~ganzoo.data.core.TensorSampler`).
A larger one stays in host memory (memory-mapped from the cache for ``folder`` datasets) and
:class:`PrefetchSampler` gathers each batch on the host into pinned memory and copies it to the
device on a side stream while the previous batch trains. On the CPU there is no separate device
memory: the data is used where it is, in place.

Both samplers draw the same indices from the same seeded generator, so a run gives the same
batches, and the same weights, whichever is chosen.
"""

from __future__ import annotations

import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeAlias

import torch

from ..fileio import format_bytes
from .core import Dataset, TensorSampler
from .folder import CACHED, DECODED, MEMORY, FolderDataset

__all__ = ["DEVICE_SHARE", "PREFETCH", "RESIDENT", "Feeder", "Placement", "PrefetchSampler", "ResidentSampler",
           "choose_placement", "free_device_memory", "make_sampler", "placement_of"]

DEVICE_SHARE = 0.5  # the share of the device's free memory a dataset may take; the rest is for the networks
RESIDENT = "resident"  # the whole dataset on the training device (in place on the CPU)
PREFETCH = "prefetch"  # in host memory; each next batch gathered and copied ahead


def free_device_memory(device: torch.device) -> int | None:
    """Free bytes of the device's own memory; None where the device is the host (CPU) or shares it (MPS)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return None


@dataclass(frozen=True)
class Placement:
    """Where a run keeps its data, why, and the line that says so."""

    feeder: str  # RESIDENT or PREFETCH
    device: str  # the training device
    data_bytes: int  # the dataset's samples and labels
    free_bytes: int | None  # the device's free memory when it was chosen; None on the CPU
    share: float  # DEVICE_SHARE then
    source: str | None  # for a folder: CACHED, DECODED or MEMORY; None for other datasets
    cache: str | None  # the folder's cache file, if any
    notes: tuple[str, ...]  # what to print at the start of the run (one line each)

    def record(self) -> dict[str, Any]:
        """What ``config.json`` records under ``resolved.data``."""
        return {"feeder": self.feeder, "device": self.device, "bytes": self.data_bytes,
                "free_device_bytes": self.free_bytes, "share": self.share, "source": self.source or "memory",
                "cache": self.cache}


def choose_placement(dataset: Dataset, device: torch.device, *, share: float = DEVICE_SHARE) -> Placement:
    """Resident when the dataset fits in ``share`` of the device's free memory (always on the CPU), else prefetch."""
    data_bytes = dataset.data.numel() * dataset.data.element_size()
    if dataset.labels is not None:
        data_bytes += dataset.labels.numel() * dataset.labels.element_size()
    free = free_device_memory(device)
    feeder = RESIDENT if free is None or data_bytes <= share * free else PREFETCH
    folder = dataset if isinstance(dataset, FolderDataset) else None
    notes = list(folder.notes) if folder is not None else []
    size = format_bytes(data_bytes)
    what = f"{len(dataset):,} samples ({size})"
    if folder is not None:
        how = {CACHED: f"memory-mapped from the cache {folder.cache_path}",
               DECODED: f"decoded in {folder.seconds:.1f} s and cached in {folder.cache_path} (the next run "
                        "memory-maps it)",
               MEMORY: f"decoded in {folder.seconds:.1f} s into memory"}[folder.source]
        what = f"{len(dataset):,} images ({size}), {how}"
    if feeder == PREFETCH:
        notes.append(f"data: {what}; kept in host memory, as {size} is more than {share:.0%} of the "
                     f"{format_bytes(free or 0)} free on {device}: each batch is gathered into pinned memory and "
                     "copied one batch ahead")
    elif folder is not None:
        on = "used in place on the cpu" if device.type == "cpu" else f"copied to {device}"
        notes.append(f"data: {what}; {on}")
    return Placement(feeder=feeder, device=str(device), data_bytes=data_bytes, free_bytes=free, share=share,
                     source=folder.source if folder is not None else None,
                     cache=str(folder.cache_path) if folder is not None and folder.cache_path else None,
                     notes=tuple(notes))


class ResidentSampler(TensorSampler):
    """:class:`~ganzoo.data.core.TensorSampler` (the data on the device), with its placement recorded."""

    def __init__(self, dataset: Dataset, batch_size: int, device: torch.device, generator: torch.Generator,
                 *, rank: int = 0, world: int = 1, placement: Placement) -> None:
        super().__init__(dataset, batch_size, device, generator, rank=rank, world=world)
        self.placement = placement


class PrefetchSampler(TensorSampler):
    """Batches of a dataset kept in host memory: gathered on a background thread, copied ahead.

    The indices are :class:`~ganzoo.data.core.TensorSampler`'s: one permutation per epoch from the
    same generator, the position and the state dict alike. The next batch is prepared while the
    current one trains, except across an epoch boundary: its permutation is drawn when it is
    needed, so the generator's draws (labels for G's step among them) keep their order. On CUDA
    each batch is gathered into one of two pinned buffers and copied on a side stream; the
    training stream waits for that copy only.
    """

    def __init__(self, dataset: Dataset, batch_size: int, device: torch.device, generator: torch.Generator,
                 *, rank: int = 0, world: int = 1, placement: Placement) -> None:
        super().__init__(dataset, batch_size, torch.device("cpu"), generator, rank=rank, world=world)
        self.placement = placement
        self.device = device
        self._host_labels = self.labels
        self.labels = self.labels.to(device) if self.labels is not None else None  # small: sample_labels uses them
        self._cuda = device.type == "cuda"
        self._stream = torch.cuda.Stream(device) if self._cuda else None
        # two pinned buffers on CUDA: one being filled while the other is copied out
        self._pixels = [torch.empty((batch_size, *dataset.shape), dtype=dataset.data.dtype, pin_memory=True)
                        for _ in range(2)] if self._cuda else []
        self._label_bufs = [torch.empty(batch_size, dtype=torch.long, pin_memory=True)
                            for _ in range(2)] if self._cuda else []
        self._copied: list[Any] = [None, None]  # per buffer: the event that marks its last copy done
        self._slot = 0
        self._pending: tuple[int, Future[Any]] | None = None  # (position, the batch being prepared)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ganzoo-prefetch")
        weakref.finalize(self, self._thread.shutdown, wait=False)

    def _gather(self, idx: torch.Tensor, slot: int) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """On the background thread: the batch ``idx`` on the device, and the event its copy records."""
        if not self._cuda:
            labels = self._host_labels.index_select(0, idx) if self._host_labels is not None else None
            return self.data.index_select(0, idx), labels, None
        if self._copied[slot] is not None:
            self._copied[slot].synchronize()  # the previous copy out of this buffer is done
        pixels = torch.index_select(self.data, 0, idx, out=self._pixels[slot])
        labels = None
        if self._host_labels is not None:
            labels = torch.index_select(self._host_labels, 0, idx, out=self._label_bufs[slot])
        with torch.cuda.stream(self._stream):
            x = pixels.to(self.device, non_blocking=True)
            y = labels.to(self.device, non_blocking=True) if labels is not None else None
            done = torch.cuda.Event()
            done.record(self._stream)
        self._copied[slot] = done
        return x, y, done

    def _submit(self, pos: int) -> tuple[int, Future[Any]]:
        start = pos + self.rank * self.batch_size
        idx = self._order[start : start + self.batch_size]
        self._slot ^= 1
        return pos, self._thread.submit(self._gather, idx, self._slot)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next batch: floats in the model's range on the device, and labels (or None)."""
        step = self.batch_size * self.world
        if self._pos + step > len(self._order):
            self._order = torch.randperm(len(self.data), generator=self.generator)
            self._pos = 0
            self._pending = None
        if self._pending is None or self._pending[0] != self._pos:
            self._pending = self._submit(self._pos)
        future = self._pending[1]
        self._pos += step
        # prepare the following batch now, unless it needs the next epoch's permutation
        self._pending = self._submit(self._pos) if self._pos + step <= len(self._order) else None
        x, y, done = future.result()
        if done is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_event(done)
            x.record_stream(current)  # allocated on the side stream, used and freed on this one
            if y is not None:
                y.record_stream(current)
        return self.dataset.to_float(x), y

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._order = self._order.cpu()  # gathered on the host
        self._pending = None


Feeder: TypeAlias = "ResidentSampler | PrefetchSampler"


def make_sampler(dataset: Dataset, batch_size: int, device: torch.device, generator: torch.Generator,
                 *, rank: int = 0, world: int = 1) -> Feeder:
    """The sampler :func:`choose_placement` picks for ``dataset`` on ``device`` (its ``placement`` says which)."""
    placement = choose_placement(dataset, device)
    kind = PrefetchSampler if placement.feeder == PREFETCH else ResidentSampler
    return kind(dataset, batch_size, device, generator, rank=rank, world=world, placement=placement)


def placement_of(sampler: TensorSampler | None) -> dict[str, Any] | None:
    """The placement record of a sampler :func:`make_sampler` made; None for any other."""
    placement = getattr(sampler, "placement", None)
    return placement.record() if isinstance(placement, Placement) else None

