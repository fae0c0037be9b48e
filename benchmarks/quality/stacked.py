"""Stacked digits: 1,000 modes, an 8x8 analogue of Stacked MNIST (not the same benchmark).

Three of scikit-learn's 8x8 digits drawn independently and stacked as R, G and B
(`--dataset stacked-digits`). Protocol of Stacked MNIST (Srivastava et al. 2017; Lin et al.
2018): 26,000 samples, each channel classified (here by ganzoo's digits feature classifier),
a mode is covered by at least one sample, KL of the mode histogram to uniform.
Published on Stacked MNIST: DCGAN 99 modes / KL 3.4, VEEGAN 150 / 2.95, PacDCGAN2 1000 / ~0.06.

    python benchmarks/quality/stacked.py [--seeds 3] [--steps 5000] [--work bench-stacked]

The model is `dcgan` with the defaults a user gets (`ganzoo train dcgan --dataset
stacked-digits --steps N`); the EMA generator is scored. The first row scores 26,000 real
stacked images: the ceiling that the classifier's errors leave.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.data.loading import load_dataset
from ganzoo.evaluation.protocols import STACKED_SAMPLES, evaluate_stacked, score_stacked


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--work", default="bench-stacked")
    args = p.parse_args()
    work = Path(args.work)
    real = load_dataset("stacked-digits")
    idx = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:STACKED_SAMPLES]
    ceiling = score_stacked(real.data[idx], cache=work)
    print(f"real images: {ceiling['modes']} modes, KL {ceiling['kl_to_uniform']:.4f}", flush=True)
    rows = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        result = ganzoo.fit(ganzoo.TrainConfig(architecture="dcgan", dataset="stacked-digits", steps=args.steps,
                                               seed=seed))
        seconds = time.perf_counter() - start
        score = evaluate_stacked(result.best_generator, cache=work)
        rows.append((score["modes"], score["kl_to_uniform"], seconds))
        print(f"seed {seed}: {score['modes']} modes, KL {score['kl_to_uniform']:.4f}, {seconds:.0f} s", flush=True)
    modes = [float(r[0]) for r in rows]
    kls = [r[1] for r in rows]
    print(f"\ndcgan, {args.steps} steps: modes {statistics.mean(modes):.1f} ± {sd(modes):.1f} ({modes}), "
          f"KL {statistics.mean(kls):.3f} ± {sd(kls):.3f} ({[round(k, 3) for k in kls]})")


if __name__ == "__main__":
    main()
