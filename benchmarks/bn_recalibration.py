"""BatchNorm recalibration: the whole generator over all latents once per layer, against recalibrate_batchnorm.

    python benchmarks/bn_recalibration.py [--samples 8192] [--batch-size 64]

For DCGAN generators (64x64x1 and 32x32x3, fresh weights) this times, in one process, the
plain way (every layer in turn in train mode with a cumulative average, running the whole
generator over all ``samples`` latents each time) and ``recalibrate_batchnorm`` (which stops
each pass at the layer and gives convolutional layers fewer latents), and prints the largest
difference between their statistics over all layers: of the running means in units of the
std, of the running variances relative to the variance. ``same latents`` repeats the
comparison with every layer given all ``samples`` latents, which leaves only the difference
of computing (pooled statistics against an average of per-batch ones).
"""

from __future__ import annotations

import argparse
import copy
import time
from unittest import mock

import torch
from torch import nn

import ganzoo
from ganzoo.training import batchnorm
from ganzoo.training.batchnorm import recalibrate_batchnorm


def norms(g: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def plain(g: ganzoo.Generator, batch_size: int, samples: int, seed: int = 0) -> None:
    """The baseline: each layer in forward (= declaration) order, train mode, the whole generator over all latents."""
    rng = torch.Generator().manual_seed(seed)
    batch_size = min(max(batch_size, 256), samples)
    latents = [g.sample_latent(batch_size, generator=rng) for _ in range(-(-samples // batch_size))]
    g.eval()
    for m in norms(g):
        m.reset_running_stats()
        m.momentum = None
        m.train()
        for z in latents:
            g(z)
        m.momentum = 0.1
        m.eval()


def differences(a: nn.Module, b: nn.Module) -> tuple[float, float]:
    """Largest |mean difference| / std and |variance difference| / variance over all layers and channels."""
    mean_diff = var_diff = 0.0
    for x, y in zip(norms(a), norms(b), strict=True):
        assert x.running_mean is not None and x.running_var is not None
        assert y.running_mean is not None and y.running_var is not None
        mean_diff = max(mean_diff, float(((x.running_mean - y.running_mean).abs() / y.running_var.sqrt()).max()))
        var_diff = max(var_diff, float(((x.running_var - y.running_var).abs() / y.running_var).max()))
    return mean_diff, var_diff


def timed(fn, g: ganzoo.Generator) -> tuple[ganzoo.Generator, float]:
    g = copy.deepcopy(g)
    start = time.perf_counter()
    fn(g)
    return g, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for shape in [(1, 64, 64), (3, 32, 32)]:
        torch.manual_seed(0)
        g, _ = ganzoo.create("dcgan", data_shape=shape)
        old, old_s = timed(lambda g: plain(g, args.batch_size, args.samples), g)
        new, new_s = timed(lambda g: recalibrate_batchnorm(g, args.batch_size, samples=args.samples), g)
        with mock.patch.object(batchnorm, "MIN_SPATIAL_LATENTS", args.samples):
            same, same_s = timed(lambda g: recalibrate_batchnorm(g, args.batch_size, samples=args.samples), g)
        name = "x".join(map(str, shape))
        print(f"dcgan {name}: plain {old_s:.1f} s, recalibrate_batchnorm {new_s:.2f} s ({old_s / new_s:.0f}x faster); "
              "max difference mean/std {:.4f}, var/var {:.4f}".format(*differences(new, old)))
        print(f"dcgan {name}: same latents {same_s:.1f} s; max difference mean/std {{:.2e}}, var/var {{:.2e}}"
              .format(*differences(same, old)))


if __name__ == "__main__":
    main()
