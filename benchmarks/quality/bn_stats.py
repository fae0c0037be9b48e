"""BatchNorm statistics for sampling: all layers at once in train mode, or layer by layer.

After training, ganzoo recomputes a generator's BatchNorm running statistics for its final
weights, layer by layer (``ganzoo.training.batchnorm.recalibrate_batchnorm``). This compares that with
the common shortcut, every layer at once in train mode (what ganzoo did before), on the same
weights, and scores both with the dataset's protocol (``ganzoo eval``'s metrics):

    python benchmarks/quality/bn_stats.py --ref gan-grid25-seed11 --registry DIR
    python benchmarks/quality/bn_stats.py --arch dcgan --dataset stacked-digits --steps 5000 --seeds 3

``--ref`` scores stored models (their weights; the statistics are recomputed both ways);
without it, each seed is trained with the defaults a user gets plus ``--steps``, and its
EMA generator is also scored as training hands it back (``as_trained``).
Both ways use the same 8,192 latents, in batches of 256 (or the run's batch size if larger);
``--draws N`` repeats that with N different sets of latents, to show how much each way
depends on the draw.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
from torch import nn

import ganzoo
from ganzoo.data.loading import load_dataset
from ganzoo.evaluation.protocols import evaluate
from ganzoo.registry import load_generator
from ganzoo.training.batchnorm import data_labels, recalibrate_batchnorm

SAMPLES = 8192
HEADLINE = {"mixture": ("modes_covered", "high_quality"), "stacked": ("modes", "kl_to_uniform"),
            "classifier": ("fd", "kid")}


@torch.no_grad()
def all_at_once(g: ganzoo.Generator, dataset: ganzoo.Dataset, batch_size: int, seed: int) -> None:
    """Every BatchNorm layer in train mode together, cumulative average: later layers see batch-normalized inputs."""
    norms = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    rng = torch.Generator().manual_seed(seed)
    labels = data_labels(dataset, g, seed + 1)
    g.train()
    for _ in range(-(-SAMPLES // batch_size)):
        g(g.sample_latent(batch_size, generator=rng), labels(batch_size))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    g.eval()


def score(g: ganzoo.Generator, dataset: ganzoo.Dataset, root: Path) -> dict:
    kind, result = evaluate(g, dataset, cache=root)
    keys = HEADLINE.get(kind, ())
    return {k: result[k] for k in keys if k in result} or result


def compare(g: ganzoo.Generator, dataset: ganzoo.Dataset, root: Path, batch_size: int, draws: int) -> dict:
    """Both ways, each with ``draws`` different sets of latents: how much the result depends on the draw."""
    rows: dict[str, list[dict]] = {"all_at_once": [], "layer_by_layer": []}
    for seed in range(draws):
        naive, layered = copy.deepcopy(g), copy.deepcopy(g)
        all_at_once(naive, dataset, max(batch_size, 256), seed)
        recalibrate_batchnorm(layered, batch_size, labels=data_labels(dataset, g, seed + 1), seed=seed)
        rows["all_at_once"].append(score(naive.eval(), dataset, root))
        rows["layer_by_layer"].append(score(layered.eval(), dataset, root))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", action="append", default=[], help="stored model(s) to score (repeatable)")
    p.add_argument("--registry", default=None)
    p.add_argument("--no-ema", action="store_true", help="score the trained generator instead of the EMA")
    p.add_argument("--arch", default="dcgan")
    p.add_argument("--dataset", default="stacked-digits")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=256, help="for --ref without a stored batch size")
    p.add_argument("--draws", type=int, default=3, help="latent sets to recalibrate each way with")
    p.add_argument("--work", default="bench-bn-stats", help="folder for the feature classifier's cache")
    args = p.parse_args()
    root = Path(args.work)
    root.mkdir(parents=True, exist_ok=True)
    if args.ref:
        for ref in args.ref:
            g = load_generator(ref, registry=args.registry, ema=not args.no_ema)
            training = (g.ganzoo_manifest or {}).get("training", {})
            dataset = load_dataset(training.get("dataset", args.dataset))
            batch_size = training.get("batch_size", args.batch_size)
            print(json.dumps({"ref": ref, **compare(g, dataset, root, batch_size, args.draws)}), flush=True)
        return
    dataset = load_dataset(args.dataset)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        start = time.perf_counter()
        config = ganzoo.TrainConfig(architecture=args.arch, dataset=args.dataset, steps=args.steps, seed=seed)
        result = ganzoo.fit(config)
        seconds = time.perf_counter() - start
        scores = compare(result.best_generator, dataset, root, config.batch_size, args.draws)
        row = {"arch": args.arch, "dataset": args.dataset, "steps": args.steps, "seed": seed,
               "train_seconds": round(seconds), "as_trained": score(result.best_generator, dataset, root), **scores}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
