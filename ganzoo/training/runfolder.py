"""The run folder's layout, and the one reader and writer of its ``config.json``.

A run folder (``runs/<name>-<time>`` unless ``--run-dir`` says otherwise) holds::

    config.json                  the TrainConfig fields, plus "resolved": the loss, the ModelSpec,
                                 the dataset, the device actually used and where the data lived
                                 ("data": ganzoo.data.feeder's placement); "logging":
                                 sample_every, logger, eval_every (how the folder is kept)
    metrics.jsonl                one JSON object per metric record (ganzoo.training.runlog)
    samples/step-000500.png      grids drawn from the trainer's fixed latent
    samples/step-000500.json     the same samples as numbers, for 2-D data ({"step", "points"})
    status.json                  how the run ended: finished, interrupted or diverged (ganzoo.training.runs)
    events.out.tfevents.*        TensorBoard events (``--logger tensorboard``)
    checkpoint.pt                the run state (ganzoo.training.checkpoint)
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..fileio import json_safe, load_json, write_atomic
from .config import TrainConfig

if TYPE_CHECKING:  # for annotations only
    from .state import TrainState

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "SAMPLES", "STATUS", "checkpoint_path", "default_run_dir", "grid_steps",
           "metric_lines", "read_config_json", "read_metrics", "read_run_config", "read_run_logging", "run_config",
           "write_run_config"]

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
SAMPLES = "samples"
STATUS = "status.json"
_GRID = re.compile(r"step-(\d+)\.png")


def default_run_dir(name: str, root: str | os.PathLike[str] = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``, created here and now: a run's folder unless told otherwise.

    The folder is created exclusively, so runs started in the same second never share one: when
    the name is taken, a short random suffix is added (``<name>-<time>-1a2b``) and creation retried.
    """
    parent = Path(root)
    parent.mkdir(parents=True, exist_ok=True)
    base = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = parent / base
    for _ in range(100):
        try:
            path.mkdir()
            return path
        except FileExistsError:
            path = parent / f"{base}-{secrets.token_hex(2)}"
    raise FileExistsError(errno.EEXIST, f"no free run folder name like {parent / base}; pass --run-dir", str(path))


def run_config(state: TrainState) -> dict[str, Any]:
    """The ``config.json`` of a run folder: the TrainConfig fields plus what they resolved to."""
    from ..data.feeder import placement_of  # imported here: listing runs needs no torch
    from .guard import nan_check_strategy

    return {**state.config.to_dict(), **({"logging": dict(state.logging)} if state.logging else {}),
            "resolved": {"loss": state.loss_name, "spec": state.spec.to_dict(), "dataset": state.dataset.info(),
                         "device": str(state.device), "nan_check": nan_check_strategy(state.config, state.device),
                         **({"data": data} if (data := placement_of(state.sampler)) is not None else {})}}


def write_run_config(state: TrainState, run_dir: str | os.PathLike[str]) -> Path:
    """Write (atomically) the ``config.json`` of ``state`` into ``run_dir``; returns its path."""
    path = Path(run_dir) / CONFIG
    write_atomic(path, (json.dumps(json_safe(run_config(state)), indent=2) + "\n").encode())
    return path


def read_run_config(run_dir: str | os.PathLike[str]) -> TrainConfig:
    """The TrainConfig a run folder was trained with."""
    data = _read_config_json(run_dir)
    data.pop("resolved", None)  # what the options resolved to, not an option
    data.pop("logging", None)  # how the folder was kept: read_run_logging
    return TrainConfig.from_dict(data)


def read_run_logging(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """How a run folder was kept (``sample_every``, ``logger``, ``eval_every``); {} if not recorded."""
    logging = _read_config_json(run_dir).get("logging")
    return dict(logging) if isinstance(logging, dict) else {}


def read_config_json(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The raw ``config.json`` of a run folder, or None when it is missing or not a JSON object."""
    path = Path(run_dir) / CONFIG
    try:
        data = load_json(path.read_bytes(), str(path), ConfigError)
    except (OSError, ConfigError):
        return None
    return data if isinstance(data, dict) else None


def _read_config_json(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    checkpoint_path(run_dir)
    path = Path(run_dir) / CONFIG
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{os.fspath(run_dir)} is not a run folder: {CONFIG} is missing or unreadable "
                          f"({exc.strerror or exc})") from exc
    data = load_json(raw, str(path), ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of training options")
    return data


def checkpoint_path(run_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint of a run folder (or the file itself), refused with a clear message if there is none."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"{os.fspath(run_dir)} is not a run folder: it has no {CHECKPOINT}. Pass the folder "
                          "printed by `ganzoo train` (runs/<name>-<time> unless --run-dir was given)")
    return path


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl`` (a torn or foreign line is skipped); [] if there is none."""
    return [r for _, r in metric_lines(Path(run_dir) / METRICS)]


def grid_steps(run_dir: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """The sample grids of a run folder, ``(step, path)``, in step order."""
    folder = Path(run_dir) / SAMPLES
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _GRID.fullmatch(p.name))]
    return sorted(found)


def metric_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a line torn by a crash
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            yield line, record
