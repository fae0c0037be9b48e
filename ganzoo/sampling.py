"""Drawing from a generator: seeded samples, latent walks, and sample files (PNG grids, ``.npy`` arrays).

>>> g = ganzoo.load("dcgan-digits")                                  # doctest: +SKIP
>>> x = ganzoo.interpolate(g, rows=4, steps=8, seed=0)               # (32, 1, 8, 8), row-major
>>> ganzoo.save_samples_file(x, "walk.npy")                          # float32 NCHW in [-1, 1]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import ConfigError
from .models import Generator

__all__ = ["FORMATS", "METHODS", "evaluating", "generate", "interpolate", "lerp", "sample_format",
           "save_samples_file", "seeded_rng", "slerp"]

METHODS = ("slerp", "lerp")
FORMATS = ("png", "jpg", "npy")
SUFFIXES = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "npy": "npy"}  # file suffix -> format


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight lines from ``a`` to ``b`` (rows), at fractions ``t`` (shape ``(T,)``): ``(N, T, ...)``."""
    t = t.view(1, -1, *([1] * (a.dim() - 1))).to(a)
    return a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016, "Sampling Generative Networks"): great circles from ``a`` to ``b``.

    A Gaussian latent's mass lies near a sphere; a straight line between two points cuts
    through its low-density interior, the great circle stays where the generator was
    trained. Nearly parallel pairs fall back to a straight line.
    """
    shape = a.shape
    a2, b2 = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    cos = (a2 * b2).sum(1) / (a2.norm(dim=1) * b2.norm(dim=1)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0)).unsqueeze(1)  # (N, 1)
    tt = t.double().unsqueeze(0)  # (1, T)
    sin = torch.sin(omega)
    near = sin.abs() < 1e-6
    safe = torch.where(near, torch.ones_like(sin), sin)
    wa = torch.where(near, 1 - tt, torch.sin((1 - tt) * omega) / safe)  # (N, T)
    wb = torch.where(near, tt, torch.sin(tt * omega) / safe)
    out = wa.unsqueeze(2) * a2.unsqueeze(1) + wb.unsqueeze(2) * b2.unsqueeze(1)  # (N, T, D)
    return out.to(a.dtype).reshape(len(a), len(t), *shape[1:])


def seeded_rng(device: torch.device, seed: int | None) -> torch.Generator:
    """A random generator on ``device``: seeded with ``seed``, or from fresh entropy when ``seed`` is None."""
    rng = torch.Generator(device=device)
    if seed is None:
        rng.seed()
    else:
        rng.manual_seed(seed)
    return rng


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode (running BatchNorm statistics, no dropout) and back to its mode after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@torch.no_grad()
def generate(generator: Generator, n: int, *, labels: torch.Tensor | int | None = None,
             seed: int | None = 0) -> torch.Tensor:
    """Draw ``n`` samples in eval mode from a latent seeded by ``seed`` (fresh entropy when None).

    Conditional models take ``labels`` (one int, or one per sample); without labels they
    cycle through the classes so a grid shows each class in a column.
    """
    if n < 1:
        raise ConfigError(f"number of samples must be a positive integer, got {n}")
    device = next(generator.parameters()).device
    rng = seeded_rng(device, seed)
    if generator.num_classes:
        if labels is None:
            labels = torch.arange(n) % generator.num_classes
        elif isinstance(labels, int):
            if not 0 <= labels < generator.num_classes:
                raise ConfigError(f"label {labels} is out of range: this model has classes 0 to "
                                  f"{generator.num_classes - 1}")
            labels = torch.full((n,), labels, dtype=torch.long)
        labels = torch.as_tensor(labels, dtype=torch.long, device=device)
    elif labels is not None:
        raise ConfigError("this model is unconditional: it takes no label; leave --label out")
    with evaluating(generator):
        z = generator.sample_latent(n, generator=rng)
        return generator(z, labels).float()


@torch.no_grad()
def interpolate(generator: Generator, rows: int = 8, steps: int = 8, *, method: str = "slerp",
                seed: int | None = 0) -> torch.Tensor:
    """A grid of latent walks, row-major: ``(rows * steps, *data_shape)``, in [-1, 1].

    Each row walks in ``steps`` equal steps from one random latent to another
    (``method``: ``slerp`` or ``lerp``); the first and last columns are the endpoints
    themselves. A conditional model shows one row per class instead (``rows`` is then
    its number of classes), every row walking between the same two latents, so a column
    holds one latent drawn as each class.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown interpolation {method!r}; use one of {', '.join(METHODS)}")
    if steps < 2:
        raise ConfigError(f"an interpolation needs at least 2 steps (the two endpoints), got {steps}")
    if rows < 1:
        raise ConfigError(f"rows must be a positive integer, got {rows}")
    device = next(generator.parameters()).device
    rng = seeded_rng(device, seed)
    conditional = generator.num_classes > 0
    pairs = 1 if conditional else rows
    ends = generator.sample_latent(2 * pairs, generator=rng)
    t = torch.linspace(0, 1, steps, device=ends.device)
    walk = (slerp if method == "slerp" else lerp)(ends[:pairs], ends[pairs:], t)  # (pairs, steps, ...)
    labels = None
    if conditional:
        rows = generator.num_classes
        walk = walk.expand(rows, *walk.shape[1:])
        labels = torch.arange(rows, device=device).repeat_interleave(steps)
    z = walk.reshape(rows * steps, *ends.shape[1:])
    with evaluating(generator):
        return generator(z, labels).float()


def sample_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The file format to write: ``fmt`` if given (it must agree with a known suffix), else from the suffix.

    ``.png`` and ``.jpg``/``.jpeg`` are grid images, ``.npy`` the raw array; a name without a
    suffix is a PNG; any other suffix is refused unless ``fmt`` says what to write.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    known = SUFFIXES.get(suffix)
    if fmt is None:
        if suffix and known is None:
            raise ConfigError(f"cannot tell what to write to {os.fspath(path)!r}: its suffix .{suffix} is none of "
                              f"{', '.join('.' + s for s in SUFFIXES)}; rename it or pass --format "
                              f"({', '.join(FORMATS)})")
        return known or "png"
    if fmt not in FORMATS:
        raise ConfigError(f"unknown sample format {fmt!r}; use one of {', '.join(FORMATS)}")
    if known is not None and known != fmt:
        raise ConfigError(f"--format {fmt} but the output {os.fspath(path)!r} ends in .{suffix}; "
                          f"name it .{fmt} or leave --format out")
    return fmt


def save_samples_file(samples: torch.Tensor, path: str | os.PathLike[str], *, fmt: str | None = None,
                      nrow: int = 8) -> Path:
    """Write samples as a PNG or JPEG grid or, for ``npy``, the raw float32 array (N, C, H, W) or (N, D) in [-1, 1]."""
    fmt = sample_format(path, fmt)
    path = Path(path)
    if fmt in ("png", "jpg"):
        from .rendering import save_samples

        return save_samples(samples, path, nrow=nrow, fmt=fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = samples.detach().float().cpu().numpy().astype(np.float32, copy=False)
    with open(path, "wb") as f:  # a file object: np.save would otherwise append .npy to other names
        np.save(f, array, allow_pickle=False)
    return path
