"""Does the fast path cost quality? fp32 defaults against ``--fast``, several seeds, same metrics.

ring8: ganzoo's `gan` (the zoo recipe of mixtures.py, 4,000 steps) scored by the VEEGAN/PacGAN
2-D protocol (modes covered, high-quality share). digits: `dcgan` (2,000 steps) scored by the
feature-classifier metrics of `ganzoo eval` (Fréchet distance in the classifier's features,
KL of the predicted class histogram). Each seed trains once per path; the table gives
mean ± std per path and the per-seed values.

    python benchmarks/quality/fast_path.py [--seeds 3] [--work bench-fast]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import ganzoo
from ganzoo.data.loading import load_dataset
from ganzoo.evaluation.protocols import evaluate_images, evaluate_mixture
from ganzoo.training.config import FAST_PATH

TASKS = {
    "ring8": {"architecture": "gan", "dataset": "ring8", "steps": 4000, "batch_size": 256, "lr_g": 1e-3,
              "lr_d": 1e-3, "model": {"latent_dim": 256}},
    "digits": {"architecture": "dcgan", "dataset": "digits", "steps": 2000},
}


def score(task: str, result: ganzoo.TrainResult, work: Path) -> dict[str, float]:
    g = result.best_generator
    if task == "ring8":
        m = evaluate_mixture(g, "ring8")
        return {"modes": m["modes_covered"], "high_quality": m["high_quality"]}
    m = evaluate_images(g, load_dataset("digits"), cache=work)
    return {"fd": m["fd"], "class_kl": m["class_kl"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--work", default="bench-fast")
    args = p.parse_args()
    work = Path(args.work)
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for task, options in TASKS.items():
        for path, extra in (("fp32", {}), ("--fast", FAST_PATH)):
            for seed in range(args.seeds):
                start = time.perf_counter()
                result = ganzoo.fit(ganzoo.TrainConfig(seed=seed, **options, **extra))
                values = score(task, result, work)
                values["seconds"] = time.perf_counter() - start
                rows.setdefault((task, path), []).append(values)
                print(f"{task} {path} seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()),
                      flush=True)
    print("\n| task | path | metric | mean ± std | per seed |")
    print("|---|---|---|---|---|")
    for (task, path), runs in rows.items():
        for metric in [k for k in runs[0] if k != "seconds"]:
            vals = [r[metric] for r in runs]
            std = statistics.stdev(vals) if len(vals) > 1 else 0.0
            print(f"| {task} | {path} | {metric} | {statistics.mean(vals):.4g} ± {std:.2g} | "
                  f"{', '.join(f'{v:.4g}' for v in vals)} |")


if __name__ == "__main__":
    main()
