"""Checkpoints that resume a run exactly, and the :class:`Checkpointer` callback that writes them.

A run folder's ``checkpoint.pt`` (beside its ``config.json``, :mod:`ganzoo.training.runfolder`)
is a ``torch.save`` of plain types and tensors only (no pickled objects), read back with
``torch.load(weights_only=True)``. It holds both networks, the EMA generator, both optimizers,
the step, every random state (torch's CPU and CUDA generators, the data sampler's generator
and its epoch order and position, Python's ``random``, the augmentation's stream), the
augmentation's state (ADA's p), the fixed sample noise, the history so far, the config and
the stored model a fine-tuning run started from: with ``deterministic=True`` on the same
machine a resumed run continues exactly as an uninterrupted one would.

Both files are replaced each atomically: written to a temporary name in the same folder,
fsynced, renamed over the old one, and the folder fsynced. A crash at any moment
leaves the previous checkpoint or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, StorageError
from ..fileio import write_atomic
from .config import TrainConfig
from .runfolder import CHECKPOINT, checkpoint_path, read_run_config, write_run_config
from .state import Callback, TrainingDiverged, TrainingInterrupted, TrainState

__all__ = ["RESUMABLE_CHANGES", "Checkpointer", "config_changes", "load_checkpoint", "restore", "resume_config",
           "run_state", "save_checkpoint"]

FORMAT = "ganzoo.checkpoint/1"
# Fields a resumed run may change: none of them alters what the next step computes.
RESUMABLE_CHANGES = frozenset({"steps", "log_every", "checkpoint_every", "data_dir"})


# -- saving --------------------------------------------------------------------------------------


def run_state(state: TrainState) -> dict[str, Any]:
    """Everything needed to continue ``state`` exactly, as a dict of tensors and plain values."""
    if state.opt_g is None or state.opt_d is None or state.sampler is None:
        raise ConfigError("this TrainState has no optimizers or sampler; only fit() makes checkpointable ones")
    rng: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _python_rng_state()}
    if state.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(state.device)
    return {
        "format": FORMAT,
        "config": json.dumps(state.config.to_dict(), sort_keys=True),
        "step": state.step,
        "generator": state.generator.state_dict(),
        "discriminator": state.discriminator.state_dict(),
        "ema": state.ema.module.state_dict() if state.ema is not None else None,
        "opt_g": state.opt_g.state_dict(),
        "opt_d": state.opt_d.state_dict(),
        "sampler": state.sampler.state_dict(),
        "rng": rng,
        "fixed_z": state.fixed_z.detach().cpu(),
        "history": [dict(r) for r in state.history],
        "seconds": float(state.seconds),
        "world_size": state.sampler.world,  # processes that trained it (the global batch is batch_size x this)
        "parent": json.dumps(state.parent),  # the stored model a fine-tuning run started from, as recorded
        **({"augment": _augment_state(state)} if state.augmentation is not None else {}),
    }


def _augment_state(state: TrainState) -> dict[str, Any]:
    """The augmentation's own state (ADA's p, say) and where its random stream stands."""
    assert state.augmentation is not None and state.augment_rng is not None
    return {"state": state.augmentation.state_dict(), "rng": state.augment_rng.get_state(),
            "device": state.device.type}


def save_checkpoint(state: TrainState, run_dir: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``checkpoint.pt`` into ``run_dir``, each atomically; returns the checkpoint."""
    folder = Path(run_dir)
    payload = run_state(state)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"could not create the run folder {folder}: {exc.strerror or exc}") from exc
    write_run_config(state, folder)  # the same config.json a RunLogger writes: options plus what they resolved to
    write_atomic(folder / CHECKPOINT, lambda f: torch.save(payload, f))
    return folder / CHECKPOINT


class Checkpointer(Callback):
    """Saves the run into ``run_dir`` every ``every`` steps and at the last step (``every=0``: never
    on a schedule), and whenever the run is interrupted. With ``final`` the last step is saved
    whatever ``every`` says (``ganzoo train`` does so, so the trained model is kept before it is
    published)."""

    def __init__(self, run_dir: str | os.PathLike[str], every: int = 0, *, final: bool = False) -> None:
        if not isinstance(every, int) or every < 0:
            raise ConfigError(f"checkpoint_every must be 0 or a positive integer, got {every!r}")
        self.run_dir = Path(run_dir)
        self.every = every
        self.final = final
        self.saved_step: int | None = None  # the step of the newest complete checkpoint

    def on_train_start(self, state: TrainState) -> None:
        if state.step and (self.run_dir / CHECKPOINT).is_file():
            self.saved_step = state.step  # resumed from this folder: that checkpoint is the current one

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        last = state.step == state.config.steps
        if (self.every and (state.step % self.every == 0 or last)) or (self.final and last):
            self.save(state)

    def on_interrupt(self, state: TrainState) -> None:
        self.save(state)

    def on_exception(self, error: TrainingDiverged | TrainingInterrupted) -> None:
        if self.saved_step is None:
            return
        if isinstance(error, TrainingDiverged):
            error.run_dir, error.checkpoint_step = self.run_dir, self.saved_step
        elif self.saved_step == error.step:
            error.run_dir = self.run_dir

    def save(self, state: TrainState) -> None:
        if self.saved_step == state.step:
            return
        state.raise_if_diverged()  # deferred NaN checks: never save a state that holds a skipped bad update
        save_checkpoint(state, self.run_dir)
        self.saved_step = state.step


# -- loading -------------------------------------------------------------------------------------


def load_checkpoint(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run folder's checkpoint (tensors and plain values only; nothing is unpickled)."""
    path = checkpoint_path(run_dir)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise StorageError(f"could not read {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # truncated or foreign file: torch raises assorted errors
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ConfigError(f"{path} is not a readable ganzoo checkpoint ({type(exc).__name__}: {first})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a ganzoo checkpoint (expected format {FORMAT})")
    return payload


def config_changes(old: TrainConfig, new: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ: ``{field: (old, new)}``."""
    a, b = old.to_dict(), new.to_dict()
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def option_name(field: str) -> str:
    """How a TrainConfig field is typed on the command line: ``lr_g`` -> ``--lr-g``."""
    return {"architecture": "architecture", "model": "-o (model options)"}.get(field, "--" + field.replace("_", "-"))


def _refuse_changes(changes: Mapping[str, tuple[Any, Any]], run: str) -> None:
    refused = {k: v for k, v in changes.items() if k not in RESUMABLE_CHANGES}
    if refused:
        listed = ", ".join(f"{option_name(k)} ({old!r} -> {new!r})" for k, (old, new) in refused.items())
        allowed = ", ".join(option_name(k) for k in sorted(RESUMABLE_CHANGES))
        raise ConfigError(f"cannot resume {run} with a changed {listed}; a resumed run may change only "
                          f"{allowed}. Start a new run to change the others")


def resume_config(run_dir: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """The config to resume ``run_dir`` with: the saved one, with ``overrides`` applied if they are safe."""
    saved = read_run_config(run_dir)
    if not overrides:
        return saved
    new = TrainConfig.from_dict({**saved.to_dict(), **overrides})
    _refuse_changes(config_changes(saved, new), os.fspath(run_dir))
    return new


def restore(state: TrainState, payload: Mapping[str, Any]) -> None:
    """Put a checkpoint's run state into the freshly built ``state`` (called by :func:`fit`)."""
    saved = TrainConfig.from_dict(json.loads(payload["config"]))
    _refuse_changes(config_changes(saved, state.config), "this run")
    step = int(payload["step"])
    if step > state.config.steps:
        raise ConfigError(f"the checkpoint is at step {step}, past steps={state.config.steps}; "
                          f"pass --steps {step} or more")
    assert state.opt_g is not None and state.opt_d is not None and state.sampler is not None
    try:
        state.generator.load_state_dict(payload["generator"])
        state.discriminator.load_state_dict(payload["discriminator"])
        if state.ema is not None:
            if payload["ema"] is None:
                raise ConfigError("the checkpoint has no EMA generator but this run uses one")
            state.ema.module.load_state_dict(payload["ema"])
        state.opt_g.load_state_dict(payload["opt_g"])
        state.opt_d.load_state_dict(payload["opt_d"])
    except (RuntimeError, KeyError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"the checkpoint does not fit this architecture: {exc}") from exc
    state.sampler.load_state_dict(payload["sampler"])
    rng = payload["rng"]
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and state.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], state.device)
    _set_python_rng_state(rng["python"])
    if state.augmentation is not None:
        _restore_augment(state, payload.get("augment"))
    state.fixed_z.copy_(payload["fixed_z"])
    state.history[:] = [dict(r) for r in payload["history"]]
    state.seconds = float(payload["seconds"])
    state.step = step
    if isinstance(payload.get("parent"), str):  # checkpoints written before it was kept have none
        parent = json.loads(payload["parent"])
        state.parent = parent if isinstance(parent, dict) else None


def _restore_augment(state: TrainState, saved: Any) -> None:
    assert state.augmentation is not None and state.augment_rng is not None
    if not isinstance(saved, Mapping) or not isinstance(saved.get("state"), Mapping):
        raise ConfigError("the checkpoint holds no augmentation state although its run uses --augment "
                          f"{state.config.augment}; the checkpoint is damaged: start the run again")
    state.augmentation.load_state_dict(saved["state"])
    if saved.get("device") == state.device.type:
        state.augment_rng.set_state(saved["rng"])
    else:  # another kind of device draws from another kind of generator
        state.notes.append(f"this run was checkpointed on {saved.get('device')} and resumes on {state.device.type}: "
                           "the augmentation's random stream starts afresh (its state, e.g. ADA's p, continues)")


def _python_rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    return {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss}


def _set_python_rng_state(saved: Mapping[str, Any]) -> None:
    internal = tuple(int(x) for x in saved["state"].tolist())
    random.setstate((int(saved["version"]), internal, saved["gauss"]))
