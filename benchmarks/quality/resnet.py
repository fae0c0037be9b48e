"""The ResNet family measured: Fashion-MNIST FID of ``resnet`` and ``resnet-cond``, stacked-digits
modes, and the speed of a ``resnet`` step against a ``dcgan`` one.

Targets (docs/results.md, "ResNet family"): ``resnet`` FID below 12 on every seed; ``resnet-cond``
FID below 8 with label accuracy at or above the feature classifier's accuracy on the real test
images; 1,000 of 1,000 modes on stacked digits.

FID follows Lucic et al.'s protocol as ``fashion_fid.py`` implements it (10,000 samples against
the 10,000 official test images, its Inception network and preprocessing; conditional samples
1,000 per class). Every model is trained with the defaults a user gets, through the command a
user types: ``ganzoo train ARCH --dataset fashion-mnist --steps N --seed S`` (resnet's own
training defaults: 5 D steps per G step, Adam 2e-4, betas (0, 0.9), the hinge loss).

Runs are resumable. Each trains in ``WORK/runs/<tag>`` with ``--checkpoint-every``; started
again, a run whose folder holds a checkpoint continues it (``ganzoo train --resume``), and a
run already scored is skipped. Results go into ``WORK/results.json`` as each run finishes, with
its steps, wall time and the machine it ran on; ``table`` prints the rows for docs/results.md.

    # everything (2 seeds of each model, FID, label accuracy, stacked digits), resumable
    python benchmarks/quality/resnet.py all --work bench-resnet --device cuda
    # or piece by piece
    python benchmarks/quality/resnet.py train --arch resnet --seed 0 --work bench-resnet --device cuda
    python benchmarks/quality/resnet.py fid --work bench-resnet --device cuda
    python benchmarks/quality/resnet.py stacked --arch resnet --seed 0 --work bench-resnet --device cuda
    python benchmarks/quality/resnet.py table --work bench-resnet
    # the speed row of benchmarks/RESULTS.md: resnet against dcgan, 32x32, batch 64
    python benchmarks/quality/resnet.py speed --device cpu
    # every phase at a tiny setting (narrow networks, a few steps, few samples): minutes on a CPU
    python benchmarks/quality/resnet.py all --smoke --work /tmp/resnet-smoke

``--smoke`` numbers mean nothing; they show that every phase runs and resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # fashion_fid.py beside this file, speed.py one level up

import fashion_fid  # noqa: E402
import speed  # noqa: E402
from child import run_training  # noqa: E402
from machine import cpu_name  # noqa: E402

import ganzoo  # noqa: E402
from ganzoo.registry import Registry  # noqa: E402
from ganzoo.training.checkpoint import load_checkpoint  # noqa: E402
from ganzoo.training.loop import fit  # noqa: E402
from ganzoo.training.runfolder import CHECKPOINT  # noqa: E402

ARCHS = ("resnet", "resnet-cond")
SEEDS = (0, 1)
STEPS = fashion_fid.STEPS  # the protocol's budget of generator steps, as for dcgan's row
STACKED_STEPS = 5000  # as benchmarks/quality/stacked.py trains dcgan
CHECKPOINT_EVERY = 1000
TARGETS = {"resnet": 12.0, "resnet-cond": 8.0}  # FID below this on every seed
# --smoke: every phase, tiny: narrow networks, a few steps, few samples (the numbers mean nothing)
SMOKE = {"steps": 4, "checkpoint_every": 2, "samples": 200, "limit": 100, "stacked_samples": 500,
         "extra": ["--batch-size", "16", "-o", "base_channels=16"]}


# -- where it ran ------------------------------------------------------------------------------------


def machine(device: str) -> str:
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    return f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads (torch {torch.__version__})"


# -- results.json, written as each piece finishes -------------------------------------------------------


def read_results(work: Path) -> dict[str, Any]:
    path = work / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {"runs": {}, "fid": {}, "stacked": {}}


def write_results(work: Path, results: dict[str, Any]) -> None:
    """Atomically: a crash leaves the previous file or the new one."""
    tmp = work / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True))
    os.replace(tmp, work / "results.json")


def record(work: Path, section: str, key: str, value: dict[str, Any]) -> None:
    results = read_results(work)
    results.setdefault(section, {})[key] = value
    write_results(work, results)


# -- training: one resumable run -------------------------------------------------------------------------


def train_run(args: argparse.Namespace, arch: str, seed: int, dataset: str, steps: int) -> str:
    """Train (or continue) one run through the command line; returns its registry name. Idempotent."""
    work = Path(args.work)
    tag = f"{dataset}-{arch}-seed{seed}"
    run_dir, registry = work / "runs" / tag, work / "registry"
    published = bool(Registry(registry).list(tag)) if (registry / "models").is_dir() else False
    saved = load_checkpoint(run_dir)["step"] if (run_dir / CHECKPOINT).is_file() else None
    if published and saved == steps:
        return tag
    common = ["--steps", str(steps), "--registry", str(registry), "--name", tag, "--out", str(work / f"{tag}.png"),
              "--checkpoint-every", str(args.checkpoint_every)]
    if saved is not None:  # continue it: its own options apply
        command = [sys.executable, "-m", "ganzoo", "train", "--resume", str(run_dir), *common, "--publish"]
    else:
        command = [sys.executable, "-m", "ganzoo", "train", arch, "--dataset", dataset, "--seed", str(seed),
                   "--device", args.device, "--run-dir", str(run_dir), *common,
                   *(["--data-dir", args.data_dir] if args.data_dir else []), *args.extra]
    print("$", " ".join(command), flush=True)
    run_training(command)
    return tag


def _on_device(g: ganzoo.Generator, device: str) -> ganzoo.Generator:
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return g.to("cuda" if device == "auto" else device)
    return g


def train(args: argparse.Namespace, arch: str, seed: int) -> None:
    """One Fashion-MNIST run, then its samples as fashion_fid.py writes them (samples, labels, train.json)."""
    work = Path(args.work)
    tag = f"fashion-mnist-{arch}-seed{seed}"
    if tag in read_results(work)["runs"]:
        print(f"{tag}: trained and sampled already", flush=True)
        return
    train_run(args, arch, seed, "fashion-mnist", args.steps)
    g = _on_device(ganzoo.load(tag, registry=work / "registry"), args.device)
    n = args.samples
    labels = (torch.arange(n) % g.num_classes) if g.num_classes else None
    chunks = []
    for i, start in enumerate(range(0, n, 1000)):
        part = labels[start:start + 1000] if labels is not None else None
        x = ganzoo.generate(g, min(1000, n - start), labels=part, seed=10_000 + i)
        chunks.append(((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
    np.save(work / f"{tag}-samples.npy", torch.cat(chunks).numpy(), allow_pickle=False)
    if labels is not None:
        np.save(work / f"{tag}-labels.npy", labels.numpy(), allow_pickle=False)
    checkpoint = load_checkpoint(work / "runs" / tag)
    info = {"arch": arch, "seed": seed, "steps": int(checkpoint["step"]), "seconds": round(checkpoint["seconds"], 1),
            "device": machine(args.device), "command": f"ganzoo train {arch} --dataset fashion-mnist "
            f"--steps {args.steps} --seed {seed} {' '.join(args.extra)}".strip(), "samples": n,
            "date": time.strftime("%Y-%m-%d")}
    (work / f"{tag}-train.json").write_text(json.dumps(info, indent=2))  # the file fashion_fid.py reads
    record(work, "runs", tag, info)
    print(json.dumps(info, indent=2), flush=True)


def fid(args: argparse.Namespace) -> None:
    """FID, KID and label accuracy of every sample file in the folder (fashion_fid.py's protocol), into results.json."""
    work = Path(args.work)
    fashion_fid.fid(argparse.Namespace(work=args.work, data_dir=args.data_dir, device=args.device, limit=args.limit))
    suffix = f"-{args.limit}" if args.limit else ""
    scored = json.loads((work / f"fid{suffix}.json").read_text())
    for row in scored["rows"]:
        record(work, "fid", row["model"], {k: v for k, v in row.items() if k != "train"})
    results = read_results(work)
    results["fid_protocol"] = {**scored["protocol"], "classifier": scored["classifier"]}
    write_results(work, results)


def stacked(args: argparse.Namespace, arch: str, seed: int) -> None:
    """Modes of stacked digits (benchmarks/quality/stacked.py's protocol), into results.json."""
    from ganzoo.evaluation.protocols import evaluate_stacked

    work = Path(args.work)
    tag = f"stacked-digits-{arch}-seed{seed}"
    if tag in read_results(work)["stacked"]:
        print(f"{tag}: scored already", flush=True)
        return
    train_run(args, arch, seed, "stacked-digits", args.stacked_steps)
    g = ganzoo.load(tag, registry=work / "registry")
    score = evaluate_stacked(g, samples=args.stacked_samples, cache=work)
    checkpoint = load_checkpoint(work / "runs" / tag)
    row = {"arch": arch, "seed": seed, "steps": int(checkpoint["step"]), "seconds": round(checkpoint["seconds"], 1),
           "device": machine(args.device), "modes": score["modes"], "kl_to_uniform": score["kl_to_uniform"],
           "samples": args.stacked_samples, "date": time.strftime("%Y-%m-%d")}
    record(work, "stacked", tag, row)
    print(json.dumps(row, indent=2), flush=True)


def table(args: argparse.Namespace) -> None:
    """The rows for docs/results.md, from results.json."""
    results = read_results(Path(args.work))
    fids = results.get("fid", {})
    accuracy = results.get("fid_protocol", {}).get("classifier", {}).get("test_accuracy")
    print("| model | seed | FID | KID | label accuracy | steps | wall time | where it ran | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    floor = fids.get("floor: 10k real training images")
    if floor:
        print(f"| floor: 10,000 real training images | | {floor['fid']:.2f} | {floor['kid']:.4f} | | | | | |")
    for tag, run in sorted(results["runs"].items()):
        row = fids.get(tag, {})
        value, kid, acc = row.get("fid"), row.get("kid"), row.get("label_accuracy")
        met = "" if value is None else ("met" if value < TARGETS[run["arch"]] else
                                        f"missed by {value - TARGETS[run['arch']]:.2f}")
        if acc is not None and accuracy is not None and acc < accuracy:
            met += f"; label accuracy {accuracy - acc:.3f} short"
        shown = ["" if v is None else f"{v:{spec}}" for v, spec in ((value, ".2f"), (kid, ".4f"), (acc, ".3f"))]
        print(f"| `{run['arch']}` | {run['seed']} | {' | '.join(shown)} | {run['steps']:,} | {run['seconds']:,.0f} s | "
              f"{run['device']} | {met} |")
    if accuracy is not None:
        print(f"\nclassifier accuracy on the real test images: {accuracy:.4f}")
    if results.get("stacked"):
        print("\n| model | seed | modes (of 1,000) | KL to uniform | steps | wall time | where it ran |")
        print("|---|---|---|---|---|---|---|")
        for row in sorted(results["stacked"].values(), key=lambda r: (r["arch"], r["seed"])):
            print(f"| `{row['arch']}` | {row['seed']} | {row['modes']:,} | {row['kl_to_uniform']:.3f} | "
                  f"{row['steps']:,} | {row['seconds']:,.0f} s | {row['device']} |")


def run_all(args: argparse.Namespace) -> None:
    for arch in args.archs:
        for seed in args.seeds:
            train(args, arch, seed)
    fid(args)
    for arch in args.stacked_archs:
        for seed in args.seeds:
            stacked(args, arch, seed)
    table(args)


# -- speed: benchmarks/speed.py's conventions ----------------------------------------------------------


SPEED_SETUPS = [  # (row, architecture, data shape, options typed by the user)
    ("dcgan (defaults)", "dcgan", (3, 32, 32), {}),
    ("resnet (defaults: k = 5)", "resnet", (3, 32, 32), {}),
    ("resnet, k = 1", "resnet", (3, 32, 32), {"d_steps": 1}),
    ("resnet (defaults), 1x28x28 as Fashion-MNIST", "resnet", (1, 28, 28), {}),
    ("resnet-cond (defaults), 1x28x28 as Fashion-MNIST", "resnet-cond", (1, 28, 28), {}),
]


def synthetic(shape: tuple[int, ...], conditional: bool, n: int = 2048) -> ganzoo.Dataset:
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 10 if conditional else None
    return ganzoo.Dataset(name="synthetic-" + "x".join(map(str, shape)), data=data, labels=labels,
                          num_classes=10 if conditional else 0)


class _Timed(Exception):
    """Raised after the last timed step: what fit does after training (BatchNorm statistics) is not a step."""


class _StopAfter(ganzoo.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, state: ganzoo.TrainState, metrics: dict[str, torch.Tensor]) -> None:
        if state.step == self.step:
            raise _Timed


def speed_run(arch: str, shape: tuple[int, ...], options: dict[str, Any], device: str, steps: int,
              warmup: int, count: bool) -> speed.StepClock:
    """One fresh run with the defaults ``ganzoo train ARCH`` uses (the architecture's own included)."""
    total = warmup + steps + 1
    clock = speed.StepClock(torch.device(device), warmup, count_step=2 if count else None)
    dataset = synthetic(shape, arch == "resnet-cond")
    config = ganzoo.resolve_run(arch, options={"dataset": dataset.name, "steps": total, "batch_size": 64,
                                               "device": device, "log_every": 10**6, **options}).config
    try:
        fit(config, dataset=dataset, callbacks=[speed._ClockCallback(clock), _StopAfter(total)])
    except _Timed:
        pass
    return clock


def run_speed(args: argparse.Namespace) -> None:
    """Each round runs every configuration once (a fresh run; the first ``warmup`` steps left out), interleaved;
    the table gives medians over rounds and each configuration's images/s over dcgan's in the same round."""
    per_round: dict[str, list[float]] = {row: [] for row, *_ in SPEED_SETUPS}
    flops: dict[str, int | None] = {}
    d_steps: dict[str, int] = {}
    for r in range(args.rounds):
        for row, arch, shape, options in SPEED_SETUPS:
            clock = speed_run(arch, shape, options, args.device, args.steps, args.warmup, count=(r == 0))
            if r == 0:
                flops[row] = clock.flops
                d_steps[row] = ganzoo.resolve_run(arch, options=options).config.d_steps
            per_round[row].append(clock.seconds_per_step())
            print(f"  round {r + 1}/{args.rounds} {row}: {clock.seconds_per_step() * 1e3:.0f} ms/step", file=sys.stderr,
                  flush=True)
    reference = SPEED_SETUPS[0][0]
    rows = {}
    for row, *_ in SPEED_SETUPS:
        seconds = statistics.median(per_round[row])
        ratios = [a / b for a, b in zip(per_round[reference], per_round[row], strict=True)]
        rows[row] = {"ms_per_step": seconds * 1e3, "images_per_s": 64 / seconds, "ratio": statistics.median(ratios),
                     "ratio_min": min(ratios), "ratio_max": max(ratios), "d_steps": d_steps[row],
                     "flops_per_step": flops[row], "per_1000_steps_s": seconds * 1000,
                     "ms_per_round": [t * 1e3 for t in per_round[row]]}
    where = machine(args.device)
    print(f"\n{time.strftime('%Y-%m-%d')} · {where}")
    print("| configuration | D steps per G step | ms per G step | images/s | x dcgan: median [min-max] | "
          "GFLOP per G step | 1,000 G steps |")
    print("|---|---|---|---|---|---|---|")
    for row, r in rows.items():
        gflop = f"{r['flops_per_step'] / 1e9:.0f}" if r["flops_per_step"] else "-"
        print(f"| {row} | {r['d_steps']} | {r['ms_per_step']:,.0f} | {r['images_per_s']:.1f} | "
              f"{r['ratio']:.3f} [{r['ratio_min']:.3f}-{r['ratio_max']:.3f}] | {gflop} | "
              f"{r['per_1000_steps_s'] / 3600:.1f} h |")
    if args.json:
        Path(args.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "device": where,
                                               "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
                                               "results": rows}, indent=2))


# -- command line -----------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="phase", required=True)
    phases = {name: sub.add_parser(name, help=text) for name, text in [
        ("all", "every run, FID and stacked digits, then the table (resumable)"),
        ("train", "one Fashion-MNIST run and its samples"),
        ("fid", "FID, KID and label accuracy of every sample file in the work folder"),
        ("stacked", "one stacked-digits run and its modes"),
        ("table", "the docs table from results.json"),
        ("speed", "images/s of resnet against dcgan, 32x32, batch 64"),
    ]}
    for name in ("all", "train", "fid", "stacked", "table"):
        q = phases[name]
        q.add_argument("--work", default="bench-resnet")
        q.add_argument("--device", default="auto")
        q.add_argument("--data-dir", default=None)
        q.add_argument("--smoke", action="store_true", help="every phase at a tiny setting (numbers mean nothing)")
        q.add_argument("--steps", type=int, default=STEPS, help="generator steps of each Fashion-MNIST run")
        q.add_argument("--stacked-steps", type=int, default=STACKED_STEPS)
        q.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY)
        q.add_argument("--samples", type=int, default=fashion_fid.N, help=argparse.SUPPRESS)
        q.add_argument("--stacked-samples", type=int, default=26_000, help=argparse.SUPPRESS)
        q.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
        q.add_argument("extra", nargs="*", help="further `ganzoo train` options, after --")
    for name in ("all", "train", "stacked"):
        phases[name].add_argument("--seeds" if name == "all" else "--seed", type=int,
                                  nargs="+" if name == "all" else None, default=list(SEEDS) if name == "all" else 0)
    phases["all"].add_argument("--archs", nargs="+", default=list(ARCHS))
    phases["all"].add_argument("--stacked-archs", nargs="+", default=["resnet"])
    for name in ("train", "stacked"):
        phases[name].add_argument("--arch", default="resnet", choices=ARCHS)
    s = phases["speed"]
    s.add_argument("--device", default="cpu")
    s.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians over them)")
    s.add_argument("--steps", type=int, default=3, help="timed generator steps per run")
    s.add_argument("--warmup", type=int, default=2, help="steps left out at the start of each run (>= 2)")
    s.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args()
    if args.phase == "speed":
        if args.warmup < 2:
            p.error("--warmup must be at least 2 (step 2 is the one whose FLOPs are counted)")
        run_speed(args)
        return
    if args.smoke:
        args.steps = args.stacked_steps = SMOKE["steps"]
        args.checkpoint_every = SMOKE["checkpoint_every"]
        args.samples, args.limit, args.stacked_samples = SMOKE["samples"], SMOKE["limit"], SMOKE["stacked_samples"]
        args.extra = [*SMOKE["extra"], *args.extra]
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.phase == "all":
        run_all(args)
    elif args.phase == "train":
        train(args, args.arch, args.seed)
    elif args.phase == "fid":
        fid(args)
    elif args.phase == "stacked":
        stacked(args, args.arch, args.seed)
    else:
        table(args)


if __name__ == "__main__":
    main()
