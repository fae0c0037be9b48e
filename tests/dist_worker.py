"""One process of a multi-process test run, started by torchrun from tests/test_distributed.py.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/dist_worker.py MODE OUT JSON

MODE ``fit`` trains through the Python API: every rank writes the hash of its G and D
parameters at each checkpoint step to ``OUT/rank<r>.json``; rank 0 also writes the final
weights to ``OUT/final.safetensors``. MODE ``nan`` does the same but makes rank 1's
discriminator produce NaN at a chosen step, and each rank writes the error it got to
``OUT/rank<r>.err``. MODE ``interrupt`` sends rank 1 a SIGINT (a Ctrl-C) during a chosen step,
and each rank writes the step it stopped after to ``OUT/rank<r>.stop``. MODE ``cli`` runs
``ganzoo`` with the given arguments; ranks other than 0 record every write they make under
the watched folders to ``OUT/writes<r>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch


def _digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, p in sorted(module.named_parameters()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run_fit(out: Path, spec: dict[str, Any], rank: int, nan_step: int | None,
            interrupt_step: int | None = None) -> None:
    import safetensors.torch

    from ganzoo.training.checkpoint import Checkpointer
    from ganzoo.training.config import TrainConfig
    from ganzoo.training.distributed import init_from_env, shutdown
    from ganzoo.training.loop import fit
    from ganzoo.training.state import Callback, TrainingDiverged, TrainingInterrupted

    init_from_env("cpu")
    hashes: dict[int, dict[str, str]] = {}

    class Probe(Callback):
        all_ranks = True

        def on_step_end(self, state: Any, metrics: Any) -> None:
            every = state.config.checkpoint_every or state.config.steps
            if state.step % every == 0:
                hashes[state.step] = {"G": _digest(state.generator), "D": _digest(state.discriminator)}
            if nan_step is not None and rank == 1 and state.step == nan_step - 1:
                with torch.no_grad():
                    next(state.discriminator.parameters()).fill_(float("nan"))
            if interrupt_step is not None and rank == 1 and state.step == interrupt_step:
                os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C in this process's terminal would

    config = TrainConfig.from_dict(spec["config"])
    try:
        run_dir = spec.get("run_dir") or spec.get("resume")
        saving = [Checkpointer(run_dir, config.checkpoint_every)] if run_dir else []
        result = fit(config, callbacks=[Probe(), *saving], resume_from=spec.get("resume"))
    except TrainingDiverged as exc:
        (out / f"rank{rank}.err").write_text(str(exc))
        shutdown()
        sys.exit(3)
    except TrainingInterrupted as exc:
        (out / f"rank{rank}.stop").write_text(str(exc.step))
        (out / f"rank{rank}.json").write_text(json.dumps(hashes))
        shutdown()
        sys.exit(130)
    (out / f"rank{rank}.json").write_text(json.dumps(hashes))
    if rank == 0:
        tensors = {f"G.{k}": v for k, v in result.generator.state_dict().items()}
        tensors |= {f"D.{k}": v for k, v in result.discriminator.state_dict().items()}
        safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "final.safetensors"))
    shutdown()


def run_cli(out: Path, watched: list[str], args: list[str], rank: int) -> None:
    writes: list[list[str]] = []
    if rank != 0:
        roots = [os.path.abspath(w) for w in watched]

        def hook(event: str, hook_args: tuple[Any, ...]) -> None:
            if event not in ("open", "os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir",
                             "shutil.rmtree", "sqlite3.connect", "os.symlink", "os.truncate"):
                return
            if not hook_args or not isinstance(hook_args[0], (str, bytes, os.PathLike)):
                return
            path = os.path.abspath(os.fsdecode(hook_args[0]))
            if event == "open":
                mode = str(hook_args[1]) if len(hook_args) > 1 and hook_args[1] is not None else "r"
                if not any(c in mode for c in "wax+"):
                    return
            if any(path == r or path.startswith(r + os.sep) for r in roots):
                writes.append([event, path])

        sys.addaudithook(hook)
    from ganzoo.cli import cli

    try:
        cli.main(args=args, prog_name="ganzoo")
    finally:
        if rank != 0:
            (out / f"writes{rank}.json").write_text(json.dumps(writes))


def main() -> None:
    mode, out, spec = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    rank = int(os.environ["RANK"])
    torch.set_num_threads(1)
    if mode == "cli":
        run_cli(out, spec["watched"], spec["args"], rank)
    else:
        run_fit(out, spec, rank, spec.get("nan_step") if mode == "nan" else None,
                spec.get("interrupt_step") if mode == "interrupt" else None)


if __name__ == "__main__":
    main()
