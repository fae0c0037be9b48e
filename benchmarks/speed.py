"""Training speed: ganzoo's generic trainer against the loop a user writes by hand.

The reference is our own plain PyTorch DCGAN loop, in the structure of pytorch/examples'
``dcgan/main.py``: ``nn.Sequential`` G and D with the same layers, widths and init as
ganzoo's ``dcgan`` at 32x32 (z = 100, 64 base filters), a sigmoid on D's output and
``BCELoss``, Adam(2e-4, beta1 0.5), one D step on a real batch and the detached fake batch,
then one G step through the same fake batch.

Everything is timed in this one process, interleaved: each round runs every configuration
once (a fresh run of ``warmup + steps`` steps; the first ``warmup`` steps are left out) and
every configuration's images/s is divided by the reference's of the same round; the table
reports the median ratio over rounds. On the CPU a step's time is the median wall time
between consecutive step ends; on a GPU, where the loop queues work ahead of the device, it
is the time from the first timed step's end to the last one's over the steps between, the
device synchronized at those two ends only (a synchronisation at every step would stall the
queue that sync-free training keeps full). Also reported: FLOPs per step
(``torch.utils.flop_counter``), the share of the measured matmul peak of the same precision,
and the peak resident memory of each configuration in a process of its own.

On CUDA the table adds ``--nan-check eager`` (the host checks of the CPU default, four
synchronisations per step), ``--cuda-graphs`` (alone and with ``--fast``) and, with
``--compile``, ``torch.compile(mode="reduce-overhead")`` (torch's own CUDA graphs) as the
alternative to them.

    python benchmarks/speed.py                   # this machine's CPU, about 10 minutes on 2 cores
    python benchmarks/speed.py --device cuda --compile     # a GPU
    python benchmarks/speed.py --rounds 2 --steps 5 --skip-memory   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import ganzoo
import ganzoo.training.loop
from ganzoo.training.config import FAST_PATH, TrainConfig
from ganzoo.training.loop import fit
from ganzoo.training.state import Callback

LATENT, NGF, NDF, IMAGE = 100, 64, 64, 32
LR, BETAS = 2e-4, (0.5, 0.999)


# -- the hand-written references -----------------------------------------------------------------


def _init(m: nn.Module) -> None:  # DCGAN's init: N(0, 0.02) weights, BatchNorm scales N(1, 0.02)
    for layer in m.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def reference_dcgan() -> tuple[nn.Module, nn.Module]:
    """The layers of ganzoo's dcgan at 32x32, written out as two ``nn.Sequential``."""
    g = nn.Sequential(
        nn.ConvTranspose2d(LATENT, NGF * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 3, 4, 2, 1), nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(3, NDF, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 4, 1, 4, 1, 0), nn.Sigmoid(),
    )
    _init(g)
    _init(d)
    return g, d


def reference_mlp(dim: int = 2, hidden: int = 128, depth: int = 3) -> tuple[nn.Module, nn.Module]:
    """The layers of ganzoo's gan (MLP, BatchNorm in G) for 2-D data."""
    g_layers: list[nn.Module] = []
    d_layers: list[nn.Module] = []
    width = LATENT
    for _ in range(depth):
        g_layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
        width = hidden
    g_layers.append(nn.Linear(hidden, dim))
    width = dim
    for _ in range(depth):
        d_layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    d_layers.append(nn.Linear(hidden, 1))
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def reference_run(kind: str, data: torch.Tensor, batch: int, steps: int, device: torch.device,
                  on_step: Callable[[int], None]) -> None:
    """The hand-written loop: D on real + detached fake, then G through the same fake batch."""
    g, d = reference_dcgan() if kind == "dcgan" else reference_mlp(data.shape[1])
    g.to(device).train()
    d.to(device).train()
    opt_g = torch.optim.Adam(g.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(d.parameters(), lr=LR, betas=BETAS)
    criterion = nn.BCELoss() if kind == "dcgan" else nn.BCEWithLogitsLoss()
    ones = torch.ones(batch, device=device)
    zeros = torch.zeros(batch, device=device)
    noise_shape = (batch, LATENT, 1, 1) if kind == "dcgan" else (batch, LATENT)
    data = data.to(device)
    for step in range(1, steps + 1):
        idx = torch.randint(len(data), (batch,), device=device)
        real = data[idx].float() / 127.5 - 1 if data.dtype == torch.uint8 else data[idx]
        d.zero_grad()
        err_real = criterion(d(real).view(-1), ones)
        err_real.backward()
        fake = g(torch.randn(noise_shape, device=device))
        err_fake = criterion(d(fake.detach()).view(-1), zeros)
        err_fake.backward()
        opt_d.step()
        g.zero_grad()
        err_g = criterion(d(fake).view(-1), ones)
        err_g.backward()
        opt_g.step()
        on_step(step)


# -- timing ----------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class StepClock:
    """Stamps each step's end; with a FLOP counter armed over one chosen step.

    On CUDA the device is synchronized only at the first timed step and the last (``total``)."""

    device: torch.device
    warmup: int
    count_step: int | None = None  # count the FLOPs of this step (1-based), if any
    total: int = 0  # steps in the run
    stamps: list[float] = field(default_factory=list)
    flops: int | None = None
    _counter: FlopCounterMode | None = None

    def __call__(self, step: int) -> None:
        if self.device.type != "cuda" or step in (self.warmup + 1, self.total):
            _sync(self.device)
        self.stamps.append(time.perf_counter())
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self.flops = self._counter.get_total_flops()
            self._counter = None
        if self.count_step is not None and step == self.count_step - 1:
            self._counter = FlopCounterMode(display=False)
            self._counter.__enter__()

    def seconds_per_step(self) -> float:
        if self.device.type == "cuda":  # stamps between the two synchronized ends only measure queueing
            return (self.stamps[-1] - self.stamps[self.warmup]) / (len(self.stamps) - 1 - self.warmup)
        diffs = [b - a for a, b in zip(self.stamps[:-1], self.stamps[1:], strict=True)][self.warmup:]
        return statistics.median(diffs)


class _ClockCallback(Callback):
    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    def on_step_end(self, state: Any, metrics: dict[str, torch.Tensor]) -> None:
        self.clock(state.step)


@dataclass(frozen=True)
class Setup:
    name: str  # row label
    kind: str  # dcgan | mlp
    options: dict[str, Any] | None  # ganzoo TrainConfig options; None = the hand-written reference
    what: str  # one line for the table
    compile_mode: str | None = None  # torch.compile's mode for this row (with "compile": True)


def dcgan_setups(compile_: bool, cuda: bool = False) -> list[Setup]:
    setups = [
        Setup("reference", "dcgan", None, "hand-written loop, fp32"),
        Setup("ganzoo", "dcgan", {}, "`ganzoo train dcgan`, defaults (fp32, EMA, fresh noise for G's step)"),
        Setup("ganzoo same-work", "dcgan", {"reuse_fake": True, "ema": 0.0},
              "fp32, `--reuse-fake --ema 0`: the reference's work, no more"),
        Setup("ganzoo --fast", "dcgan", FAST_PATH,
              "bf16 autocast, channels-last, `--reuse-fake`, fused Adam (EMA on)"),
    ]
    if cuda:
        setups += [
            Setup("ganzoo --nan-check eager", "dcgan", {"nan_check": "eager"},
                  "defaults with the NaN checks on the host (4 synchronisations per step)"),
            Setup("ganzoo --cuda-graphs", "dcgan", {"cuda_graphs": True}, "defaults, replayed as CUDA graphs"),
            Setup("ganzoo --fast --cuda-graphs", "dcgan", {**FAST_PATH, "cuda_graphs": True},
                  "the fast path, replayed as CUDA graphs"),
        ]
    else:
        setups.append(Setup("ganzoo --nan-check deferred", "dcgan", {"nan_check": "deferred"},
                            "defaults with the NaN checks on the device (fused Adam)"))
    if compile_:
        # without channels-last: torch 2.11's inductor failed a stride check in convolution_backward with it
        setups.append(Setup("ganzoo --compile", "dcgan",
                            {"precision": "bf16", "reuse_fake": True, "fused_adam": True, "compile": True},
                            "bf16, `--reuse-fake`, fused Adam and torch.compile"))
        if cuda:
            setups.append(Setup("ganzoo --compile reduce-overhead", "dcgan",
                                {"precision": "bf16", "reuse_fake": True, "fused_adam": True, "compile": True},
                                "as above, torch.compile(mode='reduce-overhead'): torch's CUDA graphs",
                                compile_mode="reduce-overhead"))
    return setups


def mlp_setups(cuda: bool = False) -> list[Setup]:
    setups = [
        Setup("reference (MLP)", "mlp", None, "hand-written loop, fp32"),
        Setup("ganzoo (MLP)", "mlp", {}, "`ganzoo train gan --dataset ring8 --batch-size 512`, defaults"),
        Setup("ganzoo same-work (MLP)", "mlp", {"reuse_fake": True, "ema": 0.0}, "fp32, `--reuse-fake --ema 0`"),
    ]
    if cuda:
        setups.append(Setup("ganzoo --cuda-graphs (MLP)", "mlp", {"cuda_graphs": True},
                            "defaults, replayed as CUDA graphs"))
    return setups


@contextlib.contextmanager
def compile_mode(mode: str | None) -> Iterator[None]:
    """Run ganzoo's ``--compile`` with torch.compile's ``mode`` (the library uses the default mode)."""
    if mode is None:
        yield
        return
    plain = ganzoo.training.loop._compiled
    ganzoo.training.loop._compiled = lambda module: torch.compile(module, mode=mode)  # type: ignore[assignment]
    try:
        yield
    finally:
        ganzoo.training.loop._compiled = plain


def synthetic_images(n: int = 2048, seed: int = 0) -> ganzoo.Dataset:
    """CIFAR-10-shaped uint8 images (no copy of CIFAR-10 is needed to time a step)."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, 3, IMAGE, IMAGE), dtype=torch.uint8, generator=g)
    return ganzoo.Dataset(name="synthetic-32", data=data)


def run_setup(setup: Setup, device: torch.device, steps: int, warmup: int, count: bool = False) -> StepClock:
    """One fresh run of ``warmup + steps`` steps; returns its clock."""
    batch = 64 if setup.kind == "dcgan" else 512
    total = warmup + steps + 1
    clock = StepClock(device, warmup, count_step=2 if count else None, total=total)  # a warm-up step: not timed
    dataset = synthetic_images() if setup.kind == "dcgan" else ganzoo.data.loading.load_dataset("ring8")
    if setup.options is None:
        reference_run(setup.kind, dataset.data, batch, total, device, clock)
    else:
        arch = "dcgan" if setup.kind == "dcgan" else "gan"
        config = TrainConfig(architecture=arch, dataset=dataset.name, steps=total, batch_size=batch,
                             device=str(device), log_every=10**6, **setup.options)
        with compile_mode(setup.compile_mode):
            fit(config, dataset=dataset, callbacks=[_ClockCallback(clock)])
    return clock


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """Best FLOP/s of an n x n x n matrix product in ``dtype`` on ``device``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def peak_memory_mb(setup_index: int, kind: str, device: str, compile_: bool) -> float:
    """Peak resident memory of one configuration, run alone in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(setup_index), "--child-kind", kind, "--device", device,
         *(["--compile"] if compile_ else [])],
        check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def child(index: int, kind: str, device: torch.device, compile_: bool) -> None:
    cuda = device.type == "cuda"
    setups = dcgan_setups(compile_, cuda) if kind == "dcgan" else mlp_setups(cuda)
    run_setup(setups[index], device, steps=5, warmup=2)
    if device.type == "cuda":
        print(torch.cuda.max_memory_allocated(device) / 2**20)
    else:
        print(_peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to this program alone; getrusage's
    maxrss would also count the parent's memory at the fork that started it."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 2**20)


def measure(setups: list[Setup], device: torch.device, rounds: int, steps: int, warmup: int,
            label: str) -> dict[str, dict[str, Any]]:
    per_round: dict[str, list[float]] = {s.name: [] for s in setups}
    flops: dict[str, int | None] = {}
    for r in range(rounds):
        for s in setups:
            clock = run_setup(s, device, steps, warmup, count=(r == 0))
            if r == 0:
                flops[s.name] = clock.flops
            per_round[s.name].append(clock.seconds_per_step())
            print(f"  [{label}] round {r + 1}/{rounds} {s.name}: {clock.seconds_per_step() * 1e3:.1f} ms/step",
                  file=sys.stderr, flush=True)
    ref = setups[0].name
    batch = 64 if setups[0].kind == "dcgan" else 512
    out = {}
    for s in setups:
        ratios = [a / b for a, b in zip(per_round[ref], per_round[s.name], strict=True)]
        sec = statistics.median(per_round[s.name])
        out[s.name] = {"what": s.what, "ms_per_step": sec * 1e3, "images_per_s": batch / sec,
                       "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                       "flops_per_step": flops[s.name], "precision": (s.options or {}).get("precision", "fp32")}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (the ratio is their median)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=3, help="steps left out at the start of each run")
    p.add_argument("--compile", action="store_true", help="also time the fast path with torch.compile")
    p.add_argument("--skip-mlp", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--memory-only", action="store_true", help="only the peak memory of each configuration")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-kind", default="dcgan", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.warmup < 2:
        p.error("--warmup must be at least 2 (step 2 is the one whose FLOPs are counted)")
    device = torch.device(args.device)
    if args.child is not None:
        child(args.child, args.child_kind, device, args.compile)
        return

    cuda = device.type == "cuda"
    if args.memory_only:
        for kind, setups in (("dcgan", dcgan_setups(args.compile, cuda)), ("mlp", mlp_setups(cuda))):
            for i, s in enumerate(setups):
                print(f"| {s.name} | {peak_memory_mb(i, kind, args.device, args.compile):.0f} MB |")
        return
    size = 8192 if device.type == "cuda" else 2048  # large enough to reach the device's peak
    peaks = {"fp32": matmul_peak(device, torch.float32, size), "bf16": matmul_peak(device, torch.bfloat16, size)}
    results = {"dcgan": measure(dcgan_setups(args.compile, cuda), device, args.rounds, args.steps, args.warmup,
                                "dcgan")}
    if not args.skip_mlp:
        results["mlp"] = measure(mlp_setups(cuda), device, args.rounds, max(args.steps, 50), args.warmup, "mlp")
    peaks_after = {"fp32": matmul_peak(device, torch.float32, size),
                   "bf16": matmul_peak(device, torch.bfloat16, size)}
    peaks = {k: max(peaks[k], peaks_after[k]) for k in peaks}
    if not args.skip_memory:
        for kind, setups in (("dcgan", dcgan_setups(args.compile, cuda)), ("mlp", mlp_setups(cuda))):
            if kind in results:
                for i, s in enumerate(setups):
                    results[kind][s.name]["peak_mb"] = peak_memory_mb(i, kind, args.device, args.compile)
    for rows in results.values():
        for row in rows.values():
            if row["flops_per_step"]:
                achieved = row["flops_per_step"] / (row["ms_per_step"] / 1e3)
                row["tflops"] = achieved / 1e12
                row["peak_share"] = achieved / peaks[row["precision"]]

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if sys.platform == "linux" else platform.processor()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu}, {torch.get_num_threads()} threads"
    print(f"\n{time.strftime('%Y-%m-%d')} · torch {torch.__version__} · {where}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e12:.3f} TFLOP/s, bf16 {peaks['bf16'] / 1e12:.3f} TFLOP/s")
    print("| configuration | what | ms/step | images/s | x reference (median [min-max]) | GFLOP/step | "
          "share of peak | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    for rows in results.values():
        for name, r in rows.items():
            flops = f"{r['flops_per_step'] / 1e9:.2f}" if r["flops_per_step"] else "-"
            share = f"{100 * r['peak_share']:.0f}% of {r['precision']}" if "peak_share" in r else "-"
            mem = f"{r['peak_mb']:.0f} MB" if "peak_mb" in r else "-"
            print(f"| {name} | {r['what']} | {r['ms_per_step']:.1f} | {r['images_per_s']:.0f} | "
                  f"**{r['ratio']:.2f}x** [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}] | {flops} | {share} | {mem} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "device": where,
                       "peaks": peaks, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
