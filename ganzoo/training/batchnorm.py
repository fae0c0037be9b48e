"""BatchNorm statistics for sampling: recomputed layer by layer for a generator's final weights."""

from __future__ import annotations

import math
from collections.abc import Callable
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
