"""2-D mode collapse under VEEGAN's setup (Srivastava et al. 2017), several seeds.

G and D: two hidden layers of 128 units; noise 256; batch 512; Adam beta1 0.5,
lr 1e-3 for G and 1e-4 for D; 25k iterations. Scored with the VEEGAN/PacGAN protocol
(2,500 samples, high quality = within 3 std of a mode, covered = at least 20 of them).

    python benchmarks/quality/mixtures.py [--dataset ring8|grid25] [--seeds 5] [--steps 25000]
        [--recipe veegan|zoo|pacgan|sharp] [--jobs 2]

``veegan`` is ganzoo's vanilla `gan` in the published setup (no BatchNorm, as in the
paper's MLPs); ``zoo`` is ganzoo's default `gan` (BatchNorm in G) with the EMA generator.
``pacgan`` is ``zoo`` with PacGAN4's packed discriminator (Lin et al. 2018; architecture
``pacgan``, 4 samples per pack). ``sharp`` is ``zoo`` with a small latent space (16
dimensions on the ring; on the grid 4, with 256-unit layers in G), the learning rates falling linearly to 0 over the
last 30% of the steps (``--lr-decay 0.3``) and, on the grid, the R1 penalty with gamma 10
(``--loss non-saturating-r1:gamma=10``; Mescheder et al. 2018) and 3 D steps per G step. ``--jobs N`` trains N seeds
at once, one thread each.
The results, with their wall times and caveats, are in docs/results.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

import ganzoo
from ganzoo.evaluation.protocols import MIXTURES, evaluate_mixture

RECIPES = {
    "veegan": {"model": {"hidden": 128, "depth": 2, "batchnorm": False, "latent_dim": 256},
               "lr_g": 1e-3, "lr_d": 1e-4, "batch_size": 512, "ema": 0.0},
    "zoo": {"model": {"hidden": 128, "depth": 3, "latent_dim": 256},
            "lr_g": 1e-3, "lr_d": 1e-3, "batch_size": 256, "ema": 0.999},
    "pacgan": {"architecture": "pacgan", "model": {"hidden": 128, "depth": 3, "latent_dim": 256, "pack": 4},
               "lr_g": 1e-3, "lr_d": 1e-3, "batch_size": 256, "ema": 0.999},
    "sharp": {"ring8": {"model": {"hidden": 128, "depth": 3, "latent_dim": 16},
                        "lr_g": 1e-3, "lr_d": 1e-3, "batch_size": 256, "ema": 0.999, "lr_decay": 0.3},
              "grid25": {"model": {"hidden": 256, "d_hidden": 128, "depth": 3, "latent_dim": 4},
                         "loss": "non-saturating-r1:gamma=10", "d_steps": 3,
                         "lr_g": 1e-3, "lr_d": 1e-3, "batch_size": 256, "ema": 0.999, "lr_decay": 0.3}},
}


def run_seed(recipe: dict[str, Any], dataset: str, steps: int, seed: int, threads: int,
             registry: str | None = None) -> tuple[tuple, str]:
    """Train and score one seed; returns (modes, high quality, reverse KL) and a printable line."""
    if threads:
        torch.set_num_threads(threads)
    recipe = dict(recipe)
    architecture = recipe.pop("architecture", "gan")
    start = time.perf_counter()
    result = ganzoo.train(architecture, dataset, steps=steps, seed=seed, log_every=steps, betas=(0.5, 0.999),
                          **recipe)
    score = evaluate_mixture(result.best_generator, dataset)
    if registry is not None:  # kept for a look: ganzoo sample <arch>-<dataset>-seed<S> --registry DIR
        ganzoo.publish(result, name=f"{architecture}-{dataset}-seed{seed}", registry=registry)
    # Where the low-quality samples are: just outside 3 std of a mode, or stranded between modes.
    x = ganzoo.generate(result.best_generator, score["protocol"]["samples"], seed=score["protocol"]["seed"])
    nearest = torch.cdist(x.double(), MIXTURES[dataset][0]().double()).min(1).values
    std = MIXTURES[dataset][1]
    near = 100 * float(((nearest > 3 * std) & (nearest <= 10 * std)).double().mean())
    far = 100 * float((nearest > 10 * std).double().mean())
    line = (f"seed {seed}: modes {score['modes_covered']}/{score['num_modes']}  high quality "
            f"{100 * score['high_quality']:.1f}%  reverse KL {score['reverse_kl']:.3f}  "
            f"(3-10 std: {near:.1f}%, beyond 10 std: {far:.1f}%)  {time.perf_counter() - start:.0f} s")
    return (score["modes_covered"], score["high_quality"], score["reverse_kl"]), line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ring8", choices=["ring8", "grid25"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=25_000)
    parser.add_argument("--recipe", default="veegan", choices=sorted(RECIPES))
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once (one thread each when > 1)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here: first, first + 1, ...")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe setting (JSON value), e.g. --set d_steps=2 --set model.latent_dim=8")
    parser.add_argument("--registry", default=None, metavar="DIR",
                        help="also publish each seed's model there, as <architecture>-<dataset>-seed<S>")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    recipe = copy.deepcopy(recipe.get(args.dataset, recipe))  # a recipe may set each dataset apart
    for item in args.set:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key.startswith("model."):
            recipe["model"][key.removeprefix("model.")] = value
        else:
            recipe[key] = value
    if args.set:
        print(f"recipe {args.recipe} with {', '.join(args.set)}: {recipe}", flush=True)
    rows = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_seed, recipe, args.dataset, args.steps, seed, 1, args.registry)
                       for seed in seeds]
            for future in futures:
                row, line = future.result()
                rows.append(row)
                print(line, flush=True)
    else:
        for seed in seeds:
            row, line = run_seed(recipe, args.dataset, args.steps, seed, 0, args.registry)
            rows.append(row)
            print(line, flush=True)
    modes, hq, kl = zip(*rows, strict=True)

    def ms(xs: tuple[float, ...]) -> str:
        finite = [x for x in xs if x == x and abs(x) != float("inf")]
        note = f" ({len(xs) - len(finite)} seed(s) undefined)" if len(finite) < len(xs) else ""
        if len(finite) > 1:
            return f"{statistics.mean(finite):.2f} ± {statistics.stdev(finite):.2f}{note}"
        return (f"{finite[0]:.2f}" if finite else "undefined") + note

    print(f"{args.dataset} / {args.recipe}, {args.steps} steps, {args.seeds} seeds, torch {torch.__version__}: "
          f"modes {ms(modes)}, high quality {ms(tuple(100 * h for h in hq))}%, reverse KL {ms(kl)}")


if __name__ == "__main__":
    main()
