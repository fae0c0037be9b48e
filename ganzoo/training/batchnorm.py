"""BatchNorm statistics for sampling: recomputed layer by layer for a generator's final weights."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data import Dataset
from ..models import Generator
from .config import TrainConfig

__all__ = ["data_labels", "recalibrate_batchnorm", "recalibrate_for_sampling"]


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


# A layer with P > 1 values per channel and sample (P = H*W for BatchNorm2d) averages n*P values
# from n latents, but the values within one sample are correlated: they count as n*P/d independent
# ones, where the design effect d (P times the variance of a sample's channel mean, over the
# channel's variance) is at most P. 1024 latents keep that at or above the 8192 values a 1-d
# layer gets by default while d <= P/8 (d <= 2 on 4x4 maps, d <= 32 on 16x16); a DCGAN trained on
# digits at 32x32 has d <= 1.5 on 4x4 and d <= 5 on 16x16. Even at d = P, the standard error of the
# mean is std/sqrt(1024) = 0.03 std.
MIN_SPATIAL_LATENTS = 1024
SURVEY_SIZE = 16  # latents of the first draw that the ordering pass runs: the order and shapes need only a few
CPU_BUDGET = 256 * 2**20  # bytes of the largest activation per batch on CPU
CUDA_SHARE = 4  # on CUDA, that activation gets 1/CUDA_SHARE of the free memory (the rest: other activations)

_Norm = nn.modules.batchnorm._BatchNorm


class _Stop(Exception):
    """Raised once the layer being recalibrated has seen its input: nothing after it needs to run."""


@dataclass
class _Layer:
    """What the ordering pass learns about a BatchNorm layer."""

    module: _Norm
    calls: int = 0  # times one forward pass calls it
    values: int = 0  # values per channel and sample it gets in one forward pass (1 for (N, C) inputs)
    bytes_per_sample: int = 0  # the largest activation per sample met up to its input

    def latents(self, samples: int) -> int:
        if self.values <= 1:
            return samples
        return min(samples, max(MIN_SPATIAL_LATENTS, math.ceil(samples / self.values)))


def _per_sample(x: torch.Tensor) -> int:
    return x.numel() * x.element_size() // max(x.shape[0], 1)


def _survey(g: Generator, norms: list[_Norm], z: torch.Tensor, y: torch.Tensor | None) -> list[_Layer]:
    """One eval-mode pass: the layers in the order it meets them, with their inputs' shapes and sizes."""
    layers: dict[int, _Layer] = {}
    largest = 0

    def output(module: nn.Module, args: Any, out: Any) -> None:
        nonlocal largest
        if isinstance(out, torch.Tensor) and out.dim() > 0:
            largest = max(largest, _per_sample(out))

    def met(module: _Norm, args: tuple[torch.Tensor, ...]) -> None:
        x = args[0]
        layer = layers.setdefault(id(module), _Layer(module))
        layer.calls += 1
        layer.values += math.prod(x.shape[2:])
        layer.bytes_per_sample = max(layer.bytes_per_sample, largest, _per_sample(x))

    hooks = [m.register_forward_hook(output) for m in g.modules() if next(m.children(), None) is None]
    hooks += [m.register_forward_pre_hook(met) for m in norms]
    try:
        g(z, y)
    finally:
        for h in hooks:
            h.remove()
    return list(layers.values())  # dicts keep insertion order: the forward order


def _batch_size(device: torch.device, bytes_per_sample: int, n: int) -> int:
    """The largest power of two whose largest activation fits the budget (powers of two: the same size however the
    free memory varies a little), at most ``n``."""
    budget = torch.cuda.mem_get_info(device)[0] // CUDA_SHARE if device.type == "cuda" else CPU_BUDGET
    fits = max(budget // max(bytes_per_sample, 1), 1)
    return min(1 << (fits.bit_length() - 1), n)


def _recalibrate(g: Generator, layer: _Layer, z: torch.Tensor, y: torch.Tensor | None, batch: int) -> None:
    """Set ``layer``'s statistics to the pooled mean and unbiased variance of its inputs for latents ``z``."""
    m = layer.module
    assert m.running_mean is not None and m.running_var is not None and m.num_batches_tracked is not None
    count = calls = 0
    mean = torch.zeros_like(m.running_mean, dtype=torch.float64)
    m2 = torch.zeros_like(mean)  # sum of squared deviations from the mean

    def accumulate(module: _Norm, args: tuple[torch.Tensor, ...]) -> None:
        nonlocal count, calls
        x = args[0]
        x = x.float() if x.element_size() < 4 else x  # half precision would lose the small differences
        var_b, mean_b = torch.var_mean(x, dim=[0, *range(2, x.dim())], correction=0)
        n_b = x.numel() // x.shape[1]
        total = count + n_b
        delta = mean_b.double() - mean
        mean.add_(delta * (n_b / total))  # Chan et al.'s pairwise update: exact, and stable in float64
        m2.add_(var_b.double() * n_b + delta.square() * (count * n_b / total))
        count, calls = total, calls + 1
        if calls == layer.calls:  # its last input in this forward pass
            raise _Stop

    hook = m.register_forward_pre_hook(accumulate)
    batches = 0
    try:
        for start in range(0, len(z), batch):
            calls = 0
            try:
                g(z[start:start + batch], None if y is None else y[start:start + batch])
            except _Stop:
                pass
            batches += 1
    finally:
        hook.remove()
    if count:
        m.running_mean.copy_(mean)
        m.running_var.copy_(m2 / max(count - 1, 1))
        m.num_batches_tracked.fill_(batches)


@torch.no_grad()
def recalibrate_batchnorm(g: Generator, batch_size: int, *, labels: Callable[[int], torch.Tensor | None] | None = None,
                          samples: int = 8192, seed: int = 0) -> None:
    """Recompute ``g``'s BatchNorm running statistics for its current weights, layer by layer.

    Running statistics gathered during training do not describe the network that samples:
    the EMA averages weights, and even for the trained weights each layer's statistics were
    collected while the layers before it normalized by noisy per-batch statistics. Sampling
    runs in eval mode, where every earlier layer uses its running statistics, so each
    BatchNorm layer gets the exact mean and (unbiased) variance of its input under those,
    pooled over all its input values: the layers are recalibrated in the order the forward
    pass meets them, while the layers before already use their new statistics. This is the
    large-batch limit of train mode (the "standing statistics" of Brock et al. 2019, computed
    without the small-batch bias).

    Latents (and labels) are drawn from a generator seeded with ``seed``, in draws of
    ``max(batch_size, 256)`` (at most ``samples``). One eval-mode pass over the first
    ``SURVEY_SIZE`` latents finds the order of the layers, the shape of each one's input and
    the largest activation met up to it. A layer whose input has one value per channel and
    sample (BatchNorm1d on ``(N, C)``) then gets ``samples`` latents; one with P > 1 values
    per channel and sample (P = H*W for BatchNorm2d) gets ``max(MIN_SPATIAL_LATENTS,
    ceil(samples / P))``, at most ``samples``; all use a prefix of the same latents. Each pass
    stops at the layer being recalibrated, so nothing after it runs. It runs in batches of
    the largest power of two (at most the layer's latents) for which the largest activation
    up to the layer fits ``CPU_BUDGET`` bytes (on CUDA, 1/``CUDA_SHARE`` of the free memory);
    the batch size changes the result only by rounding. ``num_batches_tracked`` counts those
    batches.

    A conditional generator gets ``labels(n)`` (e.g. drawn like the data's), or uniform
    labels when that is None. A layer the ordering pass does not meet keeps its statistics.
    Only ``g``'s buffers change; no global random state is used.
    """
    norms = [m for m in g.modules() if isinstance(m, _Norm) and m.track_running_stats]
    if not norms:
        return
    device = next(g.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)

    def uniform(n: int) -> torch.Tensor | None:
        return torch.randint(g.num_classes, (n,), generator=rng, device=device) if g.num_classes else None

    draw = labels or uniform
    chunk = min(max(batch_size, 256), samples)
    zs, ys = [g.sample_latent(chunk, generator=rng)], [draw(chunk)]
    was_training = g.training
    g.eval()
    try:
        layers = _survey(g, norms, zs[0][:SURVEY_SIZE], None if ys[0] is None else ys[0][:SURVEY_SIZE])
        needed = max((layer.latents(samples) for layer in layers), default=0)
        while len(zs) * chunk < needed:  # the same stream as drawing them all at once, in draws of ``chunk``
            zs.append(g.sample_latent(chunk, generator=rng))
            ys.append(draw(chunk))
        z = torch.cat(zs)
        y = None if ys[0] is None else torch.cat([t for t in ys if t is not None])
        for layer in layers:  # forward order: each layer's input already uses the new statistics before it
            n = layer.latents(samples)
            batch = _batch_size(device, layer.bytes_per_sample, n)
            _recalibrate(g, layer, z[:n], None if y is None else y[:n], batch)
    finally:
        g.train(was_training)


def recalibrate_for_sampling(g: Generator, dataset: Dataset, config: TrainConfig) -> None:
    """What :func:`fit` does to each generator it hands back: :func:`recalibrate_batchnorm` with
    the run's batch size, with labels drawn like the data's, seeded by the run's seed."""
    recalibrate_batchnorm(g, config.batch_size, labels=data_labels(dataset, g, config.seed), seed=config.seed)
