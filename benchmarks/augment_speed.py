"""Augmentation speed: ganzoo's plain-torch DiffAugment and ADA against kornia's augmentations.

What D sees passes through the augmentation three times per training step (the real and the
generated batch of the D step, the generated batch of G's step), forward and backward, so
its cost is per batch. Each row times one batch through ``augment`` and back (``backward`` of
a weighted sum, as G's gradient flows back in G's step), median of ``--repeats`` after
``--warmup`` warm-up calls, the configurations interleaved so that a busy machine slows all
alike:

- ``ganzoo diffaugment`` (policy color,translation,cutout; p = 1) against ``kornia, as DiffAugment``:
  ``ColorJiggle`` (brightness 0.5, contrast 0.5, saturation 1), ``RandomAffine`` translating up to 1/8
  with zero padding, ``RandomErasing`` of a square a quarter of the image, all at p = 1;
- ``ganzoo ada`` at p = 0.6 against ``kornia, as ADA's pipeline``: ``RandomHorizontalFlip`` (p 0.3),
  ``RandomRotation90`` (p 0.6), ``RandomAffine`` translating up to 1/8 with reflection (p 0.6),
  ``ColorJiggle`` brightness and contrast (p 0.6), and kornia's own ADA preset
  (``kornia.augmentation.presets.ada.AdaptiveDiscriminatorAugmentation``, its default
  pipeline, p fixed at 0.6).

Shapes: a Fashion-MNIST batch (64 x 1 x 28 x 28) and a CIFAR-10 batch (64 x 3 x 32 x 32). Also
reported: whether each configuration draws from a given ``torch.Generator`` (kornia draws from
torch's global generator) and how many host synchronizations one call makes on CUDA
(``torch.cuda.set_sync_debug_mode``), when run on a GPU.

    python benchmarks/augment_speed.py                      # this machine's CPU
    python benchmarks/augment_speed.py --device cuda        # a GPU
    python benchmarks/augment_speed.py --repeats 20 --warmup 3   # a quick look
    python benchmarks/augment_speed.py --threads 1   # a CPU other processes share (see benchmarks/RESULTS.md)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from machine import cpu_name

import ganzoo

SHAPES = {"fashion-mnist": (64, 1, 28, 28), "cifar10": (64, 3, 32, 32)}


def _ganzoo(spec: str, p: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    aug = ganzoo.get_catalog().augmentation(spec)
    if p is not None:
        aug.strength = p
    return lambda x: aug.augment(x)


def _kornia_diffaugment(channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import kornia.augmentation as K

    saturation = 1.0 if channels == 3 else 0.0  # kornia's saturation takes RGB images only
    pipeline = K.AugmentationSequential(
        K.ColorJiggle(brightness=0.5, contrast=0.5, saturation=saturation, p=1.0),
        K.RandomAffine(degrees=0, translate=(0.125, 0.125), padding_mode="zeros", p=1.0),
        K.RandomErasing(scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.0, p=1.0),
    )
    return lambda x: pipeline(x)


def _kornia_ada_pipeline(p: float) -> Callable[[torch.Tensor], torch.Tensor]:
    import kornia.augmentation as K

    pipeline = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=p / 2),
        K.RandomRotation90(times=(0, 3), p=p),
        K.RandomAffine(degrees=0, translate=(0.125, 0.125), padding_mode="reflection", p=p),
        K.ColorJiggle(brightness=0.2, contrast=0.5, p=p),
    )
    return lambda x: pipeline(x)


def _kornia_ada_preset(p: float) -> Callable[[torch.Tensor], torch.Tensor]:
    from kornia.augmentation.presets.ada import AdaptiveDiscriminatorAugmentation

    ada = AdaptiveDiscriminatorAugmentation(max_p=1.0)
    ada.p = p
    return lambda x: ada(x)


CONFIGS: dict[str, Callable[[int], Callable[[torch.Tensor], torch.Tensor]]] = {  # built for a number of channels
    "ganzoo diffaugment": lambda c: _ganzoo("diffaugment"),
    "kornia, as DiffAugment": _kornia_diffaugment,
    "ganzoo ada (p 0.6)": lambda c: _ganzoo("ada", 0.6),
    "kornia, as ADA's pipeline (p 0.6)": lambda c: _kornia_ada_pipeline(0.6),
    "kornia ADA preset (p 0.6)": lambda c: _kornia_ada_preset(0.6),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _once(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, weights: torch.Tensor) -> None:
    leaf = x.detach().requires_grad_(True)
    (fn(leaf) * weights).sum().backward()


def _host_syncs(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, weights: torch.Tensor) -> int | None:
    """Host synchronizations of one forward and backward call, counted by CUDA's sync debug mode (warnings)."""
    if x.device.type != "cuda":
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            _once(fn, x, weights)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def _cpu_name() -> str:
    return f"{cpu_name()}, {os.cpu_count()} cores"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = []
    for data, shape in SHAPES.items():
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(shape, generator=g) * 2 - 1).to(device)
        weights = torch.randn(shape, generator=g).to(device)
        built = {}
        for name, make in CONFIGS.items():
            fn = make(shape[1])
            try:
                for _ in range(args.warmup):
                    _once(fn, x, weights)
            except (ValueError, RuntimeError) as exc:  # e.g. a colour transformation given grey images
                results.append({"data": data, "shape": list(shape), "config": name, "ms_per_batch": None,
                                "fails": " ".join(str(exc).split())[:160]})
                continue
            built[name] = fn
        times: dict[str, list[float]] = {name: [] for name in built}
        for _ in range(args.repeats):
            for name, fn in built.items():  # interleaved
                _sync(device)
                start = time.perf_counter()
                _once(fn, x, weights)
                _sync(device)
                times[name].append(time.perf_counter() - start)
        for name, fn in built.items():
            row = {"data": data, "shape": list(shape), "config": name,
                   "ms_per_batch": round(1000 * statistics.median(times[name]), 3),
                   "host_syncs_per_call": _host_syncs(fn, x, weights)}
            results.append(row)
    info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "kornia": __import__("kornia").__version__, "repeats": args.repeats, "rows": results}
    print(f"{info['device']}, {info['threads']} threads, torch {info['torch']}, kornia {info['kornia']}")
    print("| data | configuration | ms per batch (forward + backward) | host syncs per call |")
    print("|---|---|---|---|")
    for r in results:
        where = f"{r['data']} {'x'.join(map(str, r['shape']))}"
        if r["ms_per_batch"] is None:
            print(f"| {where} | {r['config']} | fails: {r['fails']} | - |")
            continue
        syncs = "-" if r["host_syncs_per_call"] is None else r["host_syncs_per_call"]
        print(f"| {where} | {r['config']} | {r['ms_per_batch']:.2f} | {syncs} |")
    if args.out:
        Path(args.out).write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
