"""Datasets: the registration record, the loaded form, resizing and the batch sampler."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from ..models import check_name

__all__ = [
    "DataOptions",
    "Dataset",
    "DatasetSpec",
    "TensorSampler",
    "default_data_dir",
    "resize_images",
    "resize_uint8",
]

RESIZE_MODE = "bilinear-antialias"  # how resize_uint8 resamples; recorded in Dataset.preprocessing


def default_data_dir() -> Path:
    """``$GANZOO_DATA``, else ganzoo's folder in the user data folder (``$XDG_DATA_HOME/ganzoo`` on Linux)."""
    from ..locations import user_data_dir

    if env := os.environ.get("GANZOO_DATA"):
        return Path(env).expanduser()
    return user_data_dir()


@dataclass(frozen=True)
class DataOptions:
    """What a dataset loader is told about where and how to load."""

    data_dir: Path = field(default_factory=default_data_dir)  # where downloaded files live
    download: bool = True  # may the loader fetch missing files
    image_size: int | None = None  # --image-size: lets mixed-size folders load (resized here); None = native
    split: str = "train"  # which split to load: "train", or "test" where the spec lists it in ``splits``

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ConfigError(f"split must be 'train' or 'test', got {self.split!r}")
        if self.image_size is not None and (isinstance(self.image_size, bool) or self.image_size < 1):
            raise ConfigError(f"image size must be a positive integer, got {self.image_size!r}")


@dataclass
class Dataset:
    """A dataset in memory.

    Images are a uint8 tensor ``(N, C, H, W)`` normalized to [-1, 1] per batch on the fly;
    vectors are a float tensor ``(N, D)`` used as they are.
    """

    name: str  # the registered name
    data: torch.Tensor  # uint8 (N, C, H, W) images or float32 (N, D) vectors
    labels: torch.Tensor | None = None  # int64 (N,) class indices, or None
    num_classes: int = 0  # 0 when unlabelled
    class_names: list[str] | None = None  # optional names of the classes
    preprocessing: dict[str, Any] = field(default_factory=dict)  # what was done at load (resize, …)

    def __post_init__(self) -> None:
        if self.data.dim() not in (2, 4):
            raise DataError(f"dataset {self.name!r}: data must be (N, C, H, W) images or (N, D) vectors, "
                            f"got shape {tuple(self.data.shape)}")
        if self.is_image and self.data.dtype != torch.uint8:
            raise DataError(f"dataset {self.name!r}: images must be uint8, got {self.data.dtype}")
        if not self.is_image and not self.data.is_floating_point():
            raise DataError(f"dataset {self.name!r}: vectors must be floating point, got {self.data.dtype}")
        if len(self.data) == 0:
            raise DataError(f"dataset {self.name!r} is empty")
        if self.labels is not None:
            if self.labels.shape != (len(self.data),):
                raise DataError(f"dataset {self.name!r}: {len(self.data)} samples but labels of shape "
                                f"{tuple(self.labels.shape)}")
            self.labels = self.labels.long()
            if self.num_classes <= 0:
                self.num_classes = int(self.labels.max()) + 1

    @property
    def is_image(self) -> bool:
        return self.data.dim() == 4

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) or (D,)."""
        return tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return len(self.data)

    def info(self) -> dict[str, Any]:
        """Name, sample shape, classes, size and preprocessing: what a run folder and a manifest record."""
        return {"name": self.name, "shape": list(self.shape), "num_classes": self.num_classes, "size": len(self),
                "preprocessing": self.preprocessing}

    def to_float(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch of stored samples as floats in the generator's range."""
        if self.is_image:  # (x - 127.5) / 127.5: two kernels, and exactly -1 and 1 at 0 and 255
            return torch.sub(batch, 127.5).div_(127.5)
        return batch.float()


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: how to load it and what it is."""

    name: str  # the name users type: ``--dataset <name>``
    load: Callable[[DataOptions], Dataset]  # builds the Dataset; may download
    description: str = ""  # one line shown by ``ganzoo list``
    shape: tuple[int, ...] | None = None  # native sample shape, (C, H, W) or (D,), if known
    size: int | None = None  # number of training samples, if known
    num_classes: int = 0  # classes in the labels, 0 if unlabelled
    available: Callable[[DataOptions], bool] | None = None  # True when loadable without network
    source: str = ""  # where the data comes from
    splits: tuple[str, ...] = ("train",)  # the splits ``load`` honours through ``DataOptions.split``

    def __post_init__(self) -> None:
        check_name("dataset", self.name)
        if not callable(self.load):
            raise ConfigError(f"dataset {self.name!r}: load must be callable, got {self.load!r}")

    def is_available(self, options: DataOptions | None = None) -> bool:
        """Can it be loaded right now without the network?"""
        return True if self.available is None else bool(self.available(options or DataOptions()))


def resize_images(dataset: Dataset, size: int) -> Dataset:
    """Resize every image once to ``size`` x ``size`` (antialiased bilinear), keeping uint8 storage."""
    if not dataset.is_image:
        raise ConfigError(f"--image-size applies to image datasets; {dataset.name!r} holds "
                          f"{dataset.shape[0]}-d vectors. Leave --image-size out.")
    if size < 1:
        raise ConfigError(f"image size must be a positive integer, got {size}")
    _, _, h, w = dataset.data.shape
    if (h, w) == (size, size):
        return dataset
    return Dataset(
        name=dataset.name,
        data=resize_uint8(dataset.data, size),
        labels=dataset.labels,
        num_classes=dataset.num_classes,
        class_names=dataset.class_names,
        preprocessing={**dataset.preprocessing, "resize": {"from": [h, w], "to": [size, size],
                                                           "mode": RESIZE_MODE}},
    )


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` -> uint8 ``(N, C, size, size)``, antialiased bilinear, in bounded-memory chunks."""
    out = []
    for chunk in images.split(4096):
        x = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


class TensorSampler:
    """Draws batches from an in-memory dataset by index: one reshuffle per epoch, no per-item Python work.

    The whole dataset lives on the training device; a batch is one ``index_select``
    and one normalization. In a run of ``world`` processes every process shuffles alike
    and takes its own ``batch_size`` slice of each global batch of ``batch_size * world``,
    so the processes see different samples and together the same ones as one process
    with the global batch.
    """

    def __init__(self, dataset: Dataset, batch_size: int, device: torch.device, generator: torch.Generator,
                 *, rank: int = 0, world: int = 1) -> None:
        if batch_size * world > len(dataset):
            per = f" ({world} processes x {batch_size})" if world > 1 else ""
            raise ConfigError(f"batch size {batch_size * world}{per} is larger than dataset {dataset.name!r} "
                              f"({len(dataset)} samples); pass --batch-size {len(dataset) // world} or less")
        self.dataset = dataset
        self.batch_size = batch_size
        self.rank, self.world = rank, world
        self.data = dataset.data.to(device)
        self.labels = dataset.labels.to(device) if dataset.labels is not None else None
        self.generator = generator  # a CPU generator: the permutation is the same on every device
        self.device = device
        self._order = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next batch: floats in the model's range, and labels (or None)."""
        step = self.batch_size * self.world
        if self._pos + step > len(self._order):
            self._order = self._upload(torch.randperm(len(self.data), generator=self.generator))
            self._pos = 0
        start = self._pos + self.rank * self.batch_size
        idx = self._order[start : start + self.batch_size]
        self._pos += step
        x = self.dataset.to_float(self.data.index_select(0, idx))
        y = self.labels.index_select(0, idx) if self.labels is not None else None
        return x, y

    def state_dict(self) -> dict[str, Any]:
        """Where the sampler stands: its random state, this epoch's order and the position in it."""
        return {"rng": self.generator.get_state(), "order": self._order.cpu(), "pos": self._pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        order = state["order"]
        if not (isinstance(order, torch.Tensor) and order.dim() == 1 and int(order.numel()) in (0, len(self.data))):
            raise ConfigError(f"the sampler state does not fit dataset {self.dataset.name!r} "
                              f"({len(self.data)} samples)")
        self.generator.set_state(state["rng"])
        self._order = order.to(self.device)
        self._pos = int(state["pos"])

    def sample_labels(self, n: int) -> torch.Tensor | None:
        """Labels drawn from the data's label distribution (for a conditional generator)."""
        if self.labels is None:
            return None
        idx = self._upload(torch.randint(len(self.labels), (n * self.world,), generator=self.generator))
        return self.labels.index_select(0, idx[self.rank * n : (self.rank + 1) * n])

    def _upload(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices drawn on the host, on the training device. To a GPU through pinned memory without waiting:
        a plain copy from pageable memory would stop the host until the device has run every kernel
        queued before it, once per step."""
        if self.device.type != "cuda":
            return indices.to(self.device)
        return indices.pin_memory().to(self.device, non_blocking=True)
