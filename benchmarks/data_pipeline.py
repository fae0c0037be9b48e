"""Speed of ganzoo's data path, against a torchvision-style pipeline and against a DCGAN-32 training step.

Compared on the same 50,000 x 3 x 32 x 32 uint8 images (CIFAR-10's training set when
``cifar10`` is available offline, else synthetic random images of that shape):

- ganzoo: ``TensorSampler.next()`` with batch 64: one ``index_select`` on the in-memory
  uint8 tensor, then scaling to [-1, 1] (the labels come along);
- torchvision: what ``torchvision.datasets.CIFAR10`` + ``ToTensor`` + ``Normalize`` +
  ``DataLoader(batch_size=64, shuffle=True, num_workers=0)`` does per batch, built from the
  same decoded HWC uint8 array (CIFAR10 itself reads the pickled version, which ganzoo
  never loads): a ``Dataset`` whose ``__getitem__`` makes a PIL image from one array row,
  applies ``ToTensor()`` and ``Normalize((0.5,)*3, (0.5,)*3)`` (the same [-1, 1] range) and
  returns it with its label; batches are moved to the device when it is not the CPU.

Then the share of one DCGAN-32 step (``ganzoo.fit``: dcgan, batch 64, base_channels 64,
the default loss and options) taken by one ``sampler.next()``.

    python benchmarks/data_pipeline.py [--device cpu|cuda] [--threads N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from machine import cpu_name
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms

import ganzoo
from ganzoo.data import DataOptions, Dataset, TensorSampler
from ganzoo.data.cifar import CIFAR10_SPEC, load_cifar10

BATCH = 64




def images(data_dir: str | None) -> tuple[Dataset, str]:
    options = DataOptions() if data_dir is None else DataOptions(data_dir=Path(data_dir))
    if CIFAR10_SPEC.is_available(options):
        return load_cifar10(options), "CIFAR-10 training set (official binary files)"
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (50_000, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (50_000,), generator=g)
    return Dataset("synthetic-cifar", data, labels, 10), "synthetic random uint8 images (no CIFAR-10 here)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_sampler(ds: Dataset, device: torch.device, batches: int) -> float:
    """Seconds per ``TensorSampler.next()`` (median of 5 rounds)."""
    sampler = TensorSampler(ds, BATCH, device, torch.Generator().manual_seed(0))
    for _ in range(50):
        sampler.next()
    rounds = []
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        for _ in range(batches):
            sampler.next()
        sync(device)
        rounds.append((time.perf_counter() - start) / batches)
    return statistics.median(rounds)


class PILImages(torch.utils.data.Dataset):
    """What torchvision's CIFAR10 does per item: an HWC uint8 row -> PIL image -> transform."""

    def __init__(self, hwc: np.ndarray, labels: list[int], transform) -> None:
        self.data, self.targets, self.transform = hwc, labels, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def time_torchvision(ds: Dataset, device: torch.device, batches: int) -> float:
    """Seconds per batch of the ToTensor + Normalize + DataLoader pipeline."""
    hwc = ds.data.permute(0, 2, 3, 1).contiguous().numpy()
    labels = ds.labels.tolist() if ds.labels is not None else [0] * len(ds)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    loader = DataLoader(PILImages(hwc, labels, transform), batch_size=BATCH, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    for _ in range(5):
        next(it)
    sync(device)
    start = time.perf_counter()
    for _ in range(batches):
        x, y = next(it)
        if device.type != "cpu":
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    sync(device)
    return (time.perf_counter() - start) / batches


class StepTimer(ganzoo.Callback):
    def __init__(self, device: torch.device) -> None:
        self.device, self.stamps = device, []

    def on_train_start(self, state) -> None:
        sync(self.device)
        self.stamps.append(time.perf_counter())

    def on_step_end(self, state, metrics) -> None:
        sync(self.device)
        self.stamps.append(time.perf_counter())


def time_dcgan_step(ds: Dataset, device: torch.device, steps: int) -> float:
    """Median seconds of one ganzoo.fit DCGAN step (the first two steps, warm-up, left out)."""
    timer = StepTimer(device)
    config = ganzoo.TrainConfig(architecture="dcgan", dataset=ds.name, steps=steps + 2, batch_size=BATCH,
                                model={"base_channels": 64}, device=str(device), log_every=10_000)
    ganzoo.fit(config, dataset=ds, callbacks=[timer])
    durations = [b - a for a, b in zip(timer.stamps, timer.stamps[1:], strict=False)][2:]
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--data-dir", default=None, help="where to look for cifar10 (default: ganzoo's)")
    parser.add_argument("--sampler-batches", type=int, default=400)
    parser.add_argument("--torchvision-batches", type=int, default=60)
    parser.add_argument("--dcgan-steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads [default: torch's choice]")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ds, what = images(args.data_dir)

    ours = time_sampler(ds, device, args.sampler_batches)
    theirs = time_torchvision(ds, device, args.torchvision_batches)
    step = time_dcgan_step(ds, device, args.dcgan_steps)

    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    print(f"date: {time.strftime('%Y-%m-%d')}; torch {torch.__version__}, torchvision {torchvision.__version__}; "
          f"CPU: {cpu_name()} ({torch.get_num_threads()} threads); device: {device}{gpu}")
    print(f"data: {what}, {tuple(ds.data.shape)} uint8, batch {BATCH}")
    print(f"ganzoo TensorSampler.next:         {ours * 1e6:9.1f} us/batch  {1 / ours:9.0f} batches/s")
    print(f"torchvision ToTensor+Normalize+DL: {theirs * 1e6:9.1f} us/batch  {1 / theirs:9.0f} batches/s")
    print(f"speed-up: {theirs / ours:.1f}x (target >= 20x)")
    print(f"DCGAN-32 step (base_channels 64):   {step * 1e3:9.1f} ms; data path share: {ours / step:.3%} "
          "(target < 2%)")


if __name__ == "__main__":
    main()
