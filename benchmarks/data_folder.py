"""A folder of N synthetic 64x64 PNGs: first load, second load, peak memory, and training images/s.

The benchmark writes the folder itself (default 100,000 images; ``--n`` for fewer): smooth
random colour fields (8x8 noise upsampled bilinearly, plus a little pixel noise), so the PNGs
compress like photographs more than like pure noise. Then, each in a fresh process so that
peak resident memory (``resource.getrusage``) belongs to one phase:

1. **first load**: ``load_dataset("folder", data_dir=...)`` with an empty cache: header scan
   and decoding (in worker processes), the cache file written;
2. **second load**: the same call, which memory-maps the cache file (the file is in the page
   cache then, as it is on a machine that just wrote it);
3. **training**: ``ganzoo.fit`` with dcgan at 64x64 (batch 64, ``base_channels`` 64 unless
   ``--base-channels``), once on the memory-mapped cache and once on the same images copied
   into memory (the path every built-in dataset takes); images/s from the median step time,
   the first steps left out; the runs alternate and the faster of each kind is kept.

    python benchmarks/data_folder.py [--n 100000] [--steps 12] [--repeats 2] [--device cpu|cuda] [--folder DIR]
                                     [--keep] [--no-train]

The cache goes to a temporary ``$GANZOO_CACHE``; the folder to a temporary directory unless
``--folder`` names one (kept, and reused when it already holds ``--n`` images).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from machine import cpu_name

SIZE = 64
PER_TASK = 500


def _write_some(folder: str, start: int, stop: int) -> int:
    from PIL import Image

    for i in range(start, stop):
        rng = np.random.default_rng(i)
        field = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((SIZE, SIZE),
                                                                                          Image.BILINEAR)
        pixels = np.asarray(field, dtype=np.int16) + rng.integers(-6, 7, (SIZE, SIZE, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(Path(folder, f"{i:06d}.png"))
    return stop - start


def make_folder(folder: Path, n: int) -> float:
    """Write ``n`` PNGs into ``folder`` in parallel; seconds taken (0 when they are there already)."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.png"))) == n:
        return 0.0
    started = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        done = sum(pool.map(_write_some, [str(folder)] * -(-n // PER_TASK), range(0, n, PER_TASK),
                            [min(i + PER_TASK, n) for i in range(0, n, PER_TASK)]))
    assert done == n
    return time.perf_counter() - started


def _peak() -> dict[str, float]:
    """Peak resident memory in MB of this process and of its largest finished child (Linux: KB units)."""
    scale = 1 / 1024 if sys.platform.startswith("linux") else 1 / 1024 / 1024
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale,
            "peak_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale}


def _rss_now() -> float:
    """Resident memory now, in MB (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def phase_load(folder: str) -> dict:
    import torch  # noqa: F401  (imported before the baseline: every run has it)

    from ganzoo.data.loading import load_dataset

    baseline = _rss_now()
    started = time.perf_counter()
    ds = load_dataset("folder", data_dir=folder)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "source": ds.source, "shape": list(ds.data.shape), "rss_before_mb": baseline,
            "rss_after_mb": _rss_now(), **_peak()}


def phase_train(folder: str, kind: str, steps: int, device: str, base_channels: int, skip: int) -> dict:
    """One training run: ``kind`` "cache" (the memory-mapped cache, placed as ganzoo chooses), "memory"
    (a copy in memory, as every built-in dataset) or "prefetch" (the cache, fed from host memory a
    batch ahead, as when the data would not fit on the device)."""
    import torch

    import ganzoo
    from ganzoo.data import feeder
    from ganzoo.data.loading import load_dataset

    ds = load_dataset("folder", data_dir=folder)
    source = ds.source
    if kind == "memory":
        ds = ganzoo.Dataset(ds.name, ds.data.clone(), ds.labels, ds.num_classes, ds.class_names, ds.preprocessing)
    if kind == "prefetch":
        feeder.free_device_memory = lambda device: 0  # type: ignore[assignment]  # nothing fits: host memory

    stamps: list[float] = []
    feeders: list[str] = []

    class Stamp(ganzoo.Callback):
        def on_step_end(self, state, metrics) -> None:
            if state.device.type == "cuda":
                torch.cuda.synchronize(state.device)
            stamps.append(time.perf_counter())
            if not feeders:
                feeders.append((feeder.placement_of(state.sampler) or {}).get("feeder", "?"))

    config = ganzoo.TrainConfig(architecture="dcgan", dataset="folder", data_dir=folder, steps=steps, batch_size=64,
                                model={"base_channels": base_channels}, device=device, ema=0.0, log_every=10**6)
    result = ganzoo.fit(config, dataset=ds, callbacks=[Stamp()])
    step = statistics.median(b - a for a, b in zip(stamps[skip:], stamps[skip + 1 :], strict=False))
    what = {"memory": "memory (a copy)", "cache": "memory-mapped cache", "prefetch": "cache, prefetched"}[kind]
    return {"images_per_s": 64 * config.d_steps / step, "step_ms": step * 1e3, "source": source,
            "data": what, "feeder": feeders[-1] if feeders else None,
            "steps": result.steps, **_peak()}


def _child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="images in the folder (default 100,000)")
    parser.add_argument("--steps", type=int, default=12, help="training steps per run (default 12)")
    parser.add_argument("--skip", type=int, default=3, help="first steps left out of the timing (default 3)")
    parser.add_argument("--base-channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="training runs of each kind, interleaved (default 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--folder", default=None, help="where to write the images (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and cache")
    parser.add_argument("--no-train", action="store_true", help="measure the loads only")
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "load":
        print(json.dumps(phase_load(args.folder)))
        return
    if args.phase in ("train-cache", "train-memory", "train-prefetch"):
        print(json.dumps(phase_train(args.folder, args.phase.removeprefix("train-"), args.steps, args.device,
                                     args.base_channels, args.skip)))
        return

    work = Path(tempfile.mkdtemp(prefix="ganzoo-bench-"))
    folder = Path(args.folder) if args.folder else work / "images"
    env = {**os.environ, "GANZOO_CACHE": str(work / "cache")}
    try:
        made = make_folder(folder, args.n)
        on_disk = sum(p.stat().st_size for p in folder.glob("*.png"))
        common = ["--folder", str(folder), "--steps", str(args.steps), "--skip", str(args.skip),
                  "--device", args.device, "--base-channels", str(args.base_channels)]
        first = _child(["--phase", "load", *common], env)
        second = _child(["--phase", "load", *common], env)
        # interleaved, the faster of each kept: a busy machine slows whichever run it happens to hit. On CUDA
        # also the path of a dataset too big for the device, on the same images
        runs: dict[str, list[dict]] = {"train-cache": [], "train-memory": [],
                                       **({"train-prefetch": []} if args.device.startswith("cuda") else {})}
        for _ in range(0 if args.no_train else args.repeats):
            for phase, done in runs.items():
                done.append(_child(["--phase", phase, *common], env))
        cache_bytes = sum(p.stat().st_size for p in (work / "cache").rglob("*.images"))
        import torch

        print(f"date: {time.strftime('%Y-%m-%d')}; torch {torch.__version__}; CPU: {cpu_name()} "
              f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}); device: {args.device}")
        print(f"folder: {args.n:,} PNGs of {SIZE}x{SIZE} RGB, {on_disk / 1e6:,.0f} MB"
              + (f", written in {made:.0f} s" if made else ""))
        print(f"first load  (decode + write cache): {first['seconds']:8.2f} s  source {first['source']:8}  "
              f"peak RSS {first['peak_rss_mb']:,.0f} MB (before loading {first['rss_before_mb']:,.0f} MB; "
              f"largest worker {first['peak_rss_children_mb']:,.0f} MB)")
        print(f"second load (memory-mapped cache):  {second['seconds']:8.2f} s  source {second['source']:8}  "
              f"peak RSS {second['peak_rss_mb']:,.0f} MB (before loading {second['rss_before_mb']:,.0f} MB)")
        print(f"cache file: {cache_bytes / 1e6:,.0f} MB")
        if not args.no_train:
            best = {k.removeprefix("train-"): max(v, key=lambda r: r["images_per_s"]) for k, v in runs.items()}
            for run in best.values():
                print(f"dcgan 64x64 training on {run['data']:20} ({run['feeder']}): {run['images_per_s']:8.1f} img/s "
                      f"({run['step_ms']:.0f} ms/step, best of {args.repeats})  peak RSS {run['peak_rss_mb']:,.0f} MB")
            for kind in ("cache", "prefetch"):
                if kind in best:
                    print(f"{best[kind]['data']} / in-memory images/s: "
                          f"{best[kind]['images_per_s'] / best['memory']['images_per_s']:.3f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept: {work}")


if __name__ == "__main__":
    main()
