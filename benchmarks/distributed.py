"""Throughput of 1 process against 2 (torch.distributed, gloo) on this machine.

Each configuration runs the real command, ``ganzoo train ARCH --steps N [--nproc 2]``, in a
fresh temporary folder, and reads the training time that rank 0 prints ("Trained … in X s",
the loop alone: no start-up, data loading or publishing). Images/s counts real images per
second over the global batch.

    python benchmarks/distributed.py [--arch dcgan] [--dataset digits] [--steps 300]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

CONFIGS = [  # (label, processes, batch per process)
    ("1 process, batch 64", 1, 64),
    ("2 processes x batch 32 (same global batch)", 2, 32),
    ("2 processes x batch 64 (twice the global batch)", 2, 64),
]


def run(arch: str, dataset: str, steps: int, nproc: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "ganzoo", "train", arch, "--dataset", dataset, "--steps", str(steps),
                   "--batch-size", str(batch), "--no-publish", "--run-dir", os.path.join(tmp, "run"),
                   "--out", os.path.join(tmp, "grid.png"), "--sample-every", "0", "--nproc", str(nproc)]
        env = {**os.environ, "GANZOO_PLAIN_PROGRESS": "1"}
        out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp, check=True).stdout
    match = re.search(r"for \d+ steps in ([\d.]+) s", out)
    if match is None:
        raise RuntimeError(f"no training time in the output:\n{out}")
    return float(match.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="dcgan")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    print(f"{time.strftime('%Y-%m-%d')} · torch {torch.__version__} · {os.cpu_count()} CPUs · "
          f"{args.arch} on {args.dataset}, {args.steps} steps")
    print("| configuration | loop time | images/s | x 1 process |")
    print("|---|---|---|---|")
    base = None
    for label, nproc, batch in CONFIGS:
        seconds = run(args.arch, args.dataset, args.steps, nproc, batch)
        rate = args.steps * nproc * batch / seconds
        base = base or rate
        print(f"| {label} | {seconds:.1f} s | {rate:.0f} | {rate / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
