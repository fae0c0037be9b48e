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
    python benchmarks/speed.py --device cuda --image-size 64 --skip-mlp     # DCGAN-64 (batch: --batch)
    python benchmarks/speed.py --device cuda --sweep 64,256,1024,4096       # where the device saturates

The hand-written reference is written out for any power-of-two image size from 16 (the layers
ganzoo's dcgan derives there; tests/test_benchmarks.py compares them layer by layer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from machine import machine_name
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


def reference_dcgan(size: int = IMAGE) -> tuple[nn.Module, nn.Module]:
    """The layers of ganzoo's dcgan at ``size`` x ``size`` (a power of two, 16 or more), written out as two
    ``nn.Sequential``: one up-sampling (down-sampling) stage per doubling from 4x4, widths doubling
    away from the image, as ganzoo derives them. (Below 16, ganzoo adds layers this does not write.)"""
    stages = size.bit_length() - 3  # 32 -> 3, 64 -> 4
    if size < 16 or size != 4 << stages:
        raise SystemExit(f"--image-size must be a power of two, 16 or more; got {size}")
    g: list[nn.Module] = [nn.ConvTranspose2d(LATENT, NGF << (stages - 1), 4, 1, 0, bias=False),
                          nn.BatchNorm2d(NGF << (stages - 1)), nn.ReLU(True)]
    for i in range(stages - 1, 0, -1):
        g += [nn.ConvTranspose2d(NGF << i, NGF << (i - 1), 4, 2, 1, bias=False), nn.BatchNorm2d(NGF << (i - 1)),
              nn.ReLU(True)]
    g += [nn.ConvTranspose2d(NGF, 3, 4, 2, 1), nn.Tanh()]
    d: list[nn.Module] = [nn.Conv2d(3, NDF, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    for i in range(stages - 1):
        d += [nn.Conv2d(NDF << i, NDF << (i + 1), 4, 2, 1, bias=False), nn.BatchNorm2d(NDF << (i + 1)),
              nn.LeakyReLU(0.2, inplace=True)]
    d += [nn.Conv2d(NDF << (stages - 1), 1, 4, 1, 0), nn.Sigmoid()]
    gen, disc = nn.Sequential(*g), nn.Sequential(*d)
    _init(gen)
    _init(disc)
    return gen, disc


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
    g, d = reference_dcgan(data.shape[-1]) if kind == "dcgan" else reference_mlp(data.shape[1])
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


def synthetic_images(n: int = 2048, seed: int = 0, size: int = IMAGE) -> ganzoo.Dataset:
    """CIFAR-10-shaped uint8 images at ``size`` (no copy of CIFAR-10 is needed to time a step)."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    return ganzoo.Dataset(name=f"synthetic-{size}", data=data)


def default_batch(kind: str) -> int:
    return 64 if kind == "dcgan" else 512


def run_setup(setup: Setup, device: torch.device, steps: int, warmup: int, count: bool = False, *,
              size: int = IMAGE, batch: int | None = None) -> StepClock:
    """One fresh run of ``warmup + steps`` steps at ``batch`` (DCGAN: of ``size`` x ``size`` images); its clock."""
    batch = batch or default_batch(setup.kind)
    total = warmup + steps + 1
    clock = StepClock(device, warmup, count_step=2 if count else None, total=total)  # a warm-up step: not timed
    dataset = synthetic_images(max(2048, 2 * batch), size=size) if setup.kind == "dcgan" else \
        ganzoo.data.loading.load_dataset("ring8")
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


def peak_memory_mb(setup_index: int, kind: str, device: str, compile_: bool, size: int = IMAGE,
                   batch: int | None = None) -> float:
    """Peak resident memory of one configuration, run alone in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(setup_index), "--child-kind", kind, "--device", device,
         "--image-size", str(size), *(["--batch", str(batch)] if batch else []),
         *(["--compile"] if compile_ else [])],
        check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def child(index: int, kind: str, device: torch.device, compile_: bool, size: int, batch: int | None) -> None:
    cuda = device.type == "cuda"
    setups = dcgan_setups(compile_, cuda) if kind == "dcgan" else mlp_setups(cuda)
    run_setup(setups[index], device, steps=5, warmup=2, size=size, batch=batch if kind == "dcgan" else None)
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
            label: str, *, size: int = IMAGE, batch: int | None = None) -> dict[str, dict[str, Any]]:
    per_round: dict[str, list[float]] = {s.name: [] for s in setups}
    flops: dict[str, int | None] = {}
    failed: dict[str, str] = {}  # a configuration that raised: its error, its row says so, the others go on
    for r in range(rounds):
        for s in setups:
            if s.name in failed:
                continue
            try:
                clock = run_setup(s, device, steps, warmup, count=(r == 0), size=size, batch=batch)
            except Exception as exc:  # one broken row must not cost the table
                if s is setups[0]:
                    raise  # without the reference there is nothing to compare
                failed[s.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
                print(f"  [{label}] {s.name} failed: {failed[s.name]}", file=sys.stderr, flush=True)
                continue
            if r == 0:
                flops[s.name] = clock.flops
            per_round[s.name].append(clock.seconds_per_step())
            print(f"  [{label}] round {r + 1}/{rounds} {s.name}: {clock.seconds_per_step() * 1e3:.1f} ms/step",
                  file=sys.stderr, flush=True)
    ref = setups[0].name
    batch = batch or default_batch(setups[0].kind)
    out: dict[str, dict[str, Any]] = {}
    for s in setups:
        if s.name in failed:
            out[s.name] = {"what": s.what, "error": failed[s.name]}
            continue
        ratios = [a / b for a, b in zip(per_round[ref], per_round[s.name], strict=True)]
        sec = statistics.median(per_round[s.name])
        out[s.name] = {"what": s.what, "ms_per_step": sec * 1e3, "images_per_s": batch / sec,
                       "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                       "flops_per_step": flops[s.name], "precision": (s.options or {}).get("precision", "fp32"),
                       "batch": batch, "image_size": size if s.kind == "dcgan" else None}
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
    p.add_argument("--image-size", type=int, default=IMAGE, help="DCGAN image size (a power of two; default 32)")
    p.add_argument("--batch", type=int, default=None, help="DCGAN batch size (default 64)")
    p.add_argument("--sweep", default=None, metavar="B1,B2,...",
                   help="instead of the table: the reference, the defaults and the fast path at each DCGAN batch "
                        "size, with the share of peak of each (where the device saturates)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-kind", default="dcgan", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.warmup < 2:
        p.error("--warmup must be at least 2 (step 2 is the one whose FLOPs are counted)")
    device = torch.device(args.device)
    if args.child is not None:
        child(args.child, args.child_kind, device, args.compile, args.image_size, args.batch)
        return

    cuda = device.type == "cuda"
    if args.memory_only:
        for kind, setups in (("dcgan", dcgan_setups(args.compile, cuda)), ("mlp", mlp_setups(cuda))):
            for i, s in enumerate(setups):
                mb = peak_memory_mb(i, kind, args.device, args.compile, args.image_size, args.batch)
                print(f"| {s.name} | {mb:.0f} MB |")
        return
    peaks = matmul_peaks(device)
    if args.sweep:
        sweep(args, device, peaks)
        return
    where = machine_name(device)

    def save() -> None:  # after each table too: a run cut short keeps what it measured
        _write_json(args.json, {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "device": where,
                                "peaks": peaks, "results": results})

    results = {"dcgan": measure(dcgan_setups(args.compile, cuda), device, args.rounds, args.steps, args.warmup,
                                "dcgan", size=args.image_size, batch=args.batch)}
    save()
    if not args.skip_mlp:
        results["mlp"] = measure(mlp_setups(cuda), device, args.rounds, max(args.steps, 50), args.warmup, "mlp")
        save()
    peaks = {k: max(v, w) for (k, v), w in zip(peaks.items(), matmul_peaks(device).values(), strict=True)}
    if not args.skip_memory:
        for kind, setups in (("dcgan", dcgan_setups(args.compile, cuda)), ("mlp", mlp_setups(cuda))):
            if kind in results:
                for i, s in enumerate(setups):
                    if "error" in results[kind][s.name]:
                        continue
                    results[kind][s.name]["peak_mb"] = peak_memory_mb(i, kind, args.device, args.compile,
                                                                      args.image_size, args.batch)
    for rows in results.values():
        add_peak_shares(rows, peaks)

    print(f"\n{time.strftime('%Y-%m-%d')} · torch {torch.__version__} · {where}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e12:.3f} TFLOP/s, bf16 {peaks['bf16'] / 1e12:.3f} TFLOP/s")
    print(f"DCGAN: {args.image_size}x{args.image_size}, batch {args.batch or default_batch('dcgan')}")
    print("| configuration | what | ms/step | images/s | x reference (median [min-max]) | GFLOP/step | "
          "share of peak | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    for rows in results.values():
        for name, r in rows.items():
            if "error" in r:
                print(f"| {name} | {r['what']} | failed: {r['error']} | | | | | |")
                continue
            flops = f"{r['flops_per_step'] / 1e9:.2f}" if r["flops_per_step"] else "-"
            mem = f"{r['peak_mb']:.0f} MB" if "peak_mb" in r else "-"
            ratio = f"**{r['ratio']:.2f}x** [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"
            print(f"| {name} | {r['what']} | {r['ms_per_step']:.1f} | {r['images_per_s']:.0f} | {ratio} | {flops} | "
                  f"{_share(r)} | {mem} |")
    save()


def _write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(payload, f, indent=2)


def matmul_peaks(device: torch.device) -> dict[str, float]:
    size = 8192 if device.type == "cuda" else 2048  # large enough to reach the device's peak
    return {"fp32": matmul_peak(device, torch.float32, size), "bf16": matmul_peak(device, torch.bfloat16, size)}


def add_peak_shares(rows: dict[str, dict[str, Any]], peaks: dict[str, float]) -> None:
    """Each row's achieved TFLOP/s and its share of the matmul peak of its own precision."""
    for row in rows.values():
        if row.get("flops_per_step"):
            achieved = row["flops_per_step"] / (row["ms_per_step"] / 1e3)
            row["tflops"] = achieved / 1e12
            row["peak_share"] = achieved / peaks[row["precision"]]


def _share(row: dict[str, Any]) -> str:
    if "peak_share" not in row:
        return "-"
    share = 100 * row["peak_share"]
    return f"{share:.{0 if share >= 10 else 1 if share >= 1 else 2}f}% of {row['precision']}"


def sweep_setups(cuda: bool) -> list[Setup]:
    """The rows of a batch sweep: the reference first, then the defaults and the fast path (replayed, on CUDA)."""
    names = ["reference", "ganzoo", "ganzoo --fast", *(["ganzoo --fast --cuda-graphs"] if cuda else [])]
    table = {s.name: s for s in dcgan_setups(False, cuda)}
    return [table[n] for n in names]


def sweep(args: argparse.Namespace, device: torch.device, peaks: dict[str, float]) -> None:
    """Images/s and share of peak of the sweep's rows at each batch size: where the device saturates."""
    try:
        batches = [int(b) for b in args.sweep.split(",")]
    except ValueError:
        raise SystemExit(f"--sweep takes batch sizes separated by commas, e.g. 64,256,1024; got {args.sweep!r}") \
            from None
    results: dict[str, dict[str, dict[str, Any]]] = {}
    where = machine_name(device)
    for batch in batches:
        rows = measure(sweep_setups(device.type == "cuda"), device, args.rounds, args.steps, args.warmup,
                       f"batch {batch}", size=args.image_size, batch=batch)
        add_peak_shares(rows, peaks)
        results[str(batch)] = rows
        _write_json(args.json, {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "device": where,
                                "image_size": args.image_size, "peaks": peaks, "sweep": results})
    print(f"\n{time.strftime('%Y-%m-%d')} · torch {torch.__version__} · {where}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e12:.3f} TFLOP/s, bf16 {peaks['bf16'] / 1e12:.3f} TFLOP/s")
    print(f"DCGAN {args.image_size}x{args.image_size}")
    print("| batch | configuration | ms/step | images/s | x reference | TFLOP/s | share of peak |")
    print("|---|---|---|---|---|---|---|")
    for batch, rows in results.items():
        for name, r in rows.items():
            if "error" in r:
                print(f"| {int(batch):,} | {name} | failed: {r['error']} | | | | |")
                continue
            tflops = f"{r['tflops']:.3g}" if "tflops" in r else "-"
            print(f"| {int(batch):,} | {name} | {r['ms_per_step']:.1f} | {r['images_per_s']:,.0f} | "
                  f"{r['ratio']:.2f} | {tflops} | {_share(r)} |")


if __name__ == "__main__":
    main()
