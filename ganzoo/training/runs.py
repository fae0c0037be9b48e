"""Run folders as a whole: how a run stands, the runs under a folder, and removing one.

``ganzoo runs`` lists what :func:`list_runs` returns; ``ganzoo runs rm`` calls :func:`remove_run`.
Everything here reads JSON only (``config.json``, ``metrics.jsonl``, ``status.json``); nothing
is unpickled, and ``metrics.jsonl`` is read from its end, so long runs list quickly.

A run's status comes from what its folder records:

* ``running``: a training process holds ``metrics.jsonl`` open. :class:`~ganzoo.training.runlog.RunLogger`
  takes a shared ``flock`` on it for as long as it writes; the operating system drops the lock
  when the process ends, however it ends. (Where ``fcntl`` is missing, on Windows, a run
  still being trained shows as ``incomplete``.)
* ``finished``, ``interrupted``, ``diverged``: what the run logger wrote into ``status.json``
  (atomically, when the run ended; removed when a run starts or resumes).
* otherwise ``finished`` if the metric log reaches the planned steps (folders from before
  ``status.json``), else ``incomplete``: the process stopped without saying how (killed, a crash).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, StorageError
from ..fileio import load_json, utc_now, write_atomic
from .runfolder import CONFIG, METRICS, SAMPLES, STATUS, grid_steps

__all__ = ["STATUSES", "RunInfo", "RunListing", "Skipped", "find_run", "hold_run_lock", "is_running", "list_runs",
           "read_run", "read_status", "removable_run", "remove_run", "write_status"]

STATUSES = ("finished", "interrupted", "diverged", "running", "incomplete")
ENDINGS = ("finished", "interrupted", "diverged")  # the statuses status.json records
_TAIL = 1 << 16  # bytes read from the end of metrics.jsonl at a time, looking for the last records
_REMOVING = ".removing-"  # a run folder being removed is first renamed to .<name>.removing-<hex>


@dataclass(frozen=True)
class RunInfo:
    """One run folder, as ``ganzoo runs`` shows it."""

    path: Path  # the run folder
    architecture: str
    dataset: str
    loss: str  # the loss actually used (the architecture's default when none was given)
    step: int  # the last step the folder records (metric line, grid or status)
    steps: int  # the steps the run was asked for
    status: str  # one of STATUSES
    metrics: dict[str, float] = field(default_factory=dict)  # the numbers of the last metric line
    evaluation: dict[str, float] = field(default_factory=dict)  # "<set>.<metric>" of the last evaluation
    eval_step: int | None = None  # the step of that evaluation
    updated: float = 0.0  # when the run last wrote to its folder (seconds since the epoch)
    message: str = ""  # why it stopped, when the folder says (a diverged run's error)

    @property
    def name(self) -> str:
        return self.path.name

    def headline(self) -> tuple[str, float] | None:
        """The first number of the last evaluation (modes covered, FD, ...), the one a table shows."""
        return next(iter(self.evaluation.items()), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "architecture": self.architecture,
                "dataset": self.dataset, "loss": self.loss, "step": self.step, "steps": self.steps,
                "status": self.status, "metrics": dict(self.metrics), "evaluation": dict(self.evaluation),
                "eval_step": self.eval_step, "message": self.message,
                "updated": datetime.fromtimestamp(self.updated, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


@dataclass(frozen=True)
class Skipped:
    """A folder among the runs that is not one, or cannot be read: ``reason`` says which."""

    path: Path
    reason: str


@dataclass(frozen=True)
class RunListing:
    root: Path
    runs: list[RunInfo]  # newest first
    skipped: list[Skipped]


# -- listing -------------------------------------------------------------------------------------


def list_runs(root: str | os.PathLike[str] = "runs") -> RunListing:
    """The run folders directly under ``root`` (or ``root`` itself, when it is one), newest first.

    Folders that are not runs, or cannot be read, come back in ``skipped`` with the reason;
    files and hidden entries are passed over.
    """
    folder = Path(root)
    if not folder.is_dir():
        what = "it is a file, not a folder" if folder.exists() else "no such folder"
        raise ConfigError(f"cannot list the runs in {os.fspath(root)}: {what}. Pass the folder that holds the "
                          "run folders with --root (runs by default)")
    if (folder / CONFIG).is_file():
        entries = [folder]
    else:
        try:
            entries = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir())
        except OSError as exc:
            raise StorageError(f"cannot list the runs in {folder}: {exc.strerror or exc}") from exc
    runs, skipped = [], []
    for entry in entries:
        try:
            runs.append(read_run(entry))
        except (ConfigError, OSError) as exc:
            skipped.append(Skipped(entry, _reason(exc)))
    runs.sort(key=lambda r: (-r.updated, r.name))
    return RunListing(folder, runs, skipped)


def read_run(run_dir: str | os.PathLike[str]) -> RunInfo:
    """What ``run_dir`` records; ConfigError if it is not a ganzoo run folder."""
    path = Path(run_dir)
    config = _run_config(path)
    resolved = config["resolved"]
    last, evaluated = _last_records(path / METRICS)
    status = read_status(path)
    grids = [s for s, _ in grid_steps(path)]
    steps = config["steps"] if _whole(config.get("steps")) else 0
    step = max([0, *([last["step"]] if last else []), *grids, *([status["step"]] if status else [])])
    if is_running(path):
        state = "running"
    elif status is not None:
        state = status["status"]
    else:
        state = "finished" if steps and step >= steps else "incomplete"
    metrics = {k: v for k, v in (last or {}).items() if k != "step" and _number(v)}
    evaluation: dict[str, float] = {}
    if evaluated:
        for set_name, results in evaluated["eval"].items():
            if set_name != "protocol" and isinstance(results, dict):
                evaluation.update({f"{set_name}.{k}": v for k, v in results.items()
                                   if _number(v) and not k.endswith("_std")})
    dataset = config.get("dataset")
    if not isinstance(dataset, str):
        dataset = resolved["dataset"].get("name") if isinstance(resolved.get("dataset"), dict) else None
    loss = resolved.get("loss") or config.get("loss")
    return RunInfo(path=path, architecture=config["architecture"], dataset=dataset if isinstance(dataset, str) else "",
                   loss=loss if isinstance(loss, str) else "", step=step, steps=steps, status=state, metrics=metrics,
                   evaluation=evaluation, eval_step=evaluated["step"] if evaluated else None,
                   updated=_updated(path), message=status.get("message", "") if status else "")


def _run_config(path: Path) -> dict[str, Any]:
    """The ``config.json`` of a folder written by ``ganzoo train``; ConfigError naming what is missing."""
    config_file = path / CONFIG
    if config_file.is_symlink() or not config_file.is_file():
        what = "is a symbolic link" if config_file.is_symlink() else "is missing"
        raise ConfigError(f"{path} is not a ganzoo run folder: its {CONFIG} {what}")
    try:
        data = load_json(config_file.read_bytes(), str(config_file), ConfigError)
    except ConfigError as exc:
        raise ConfigError(f"{path} is not a ganzoo run folder: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("architecture"), str) \
            or not isinstance(data.get("resolved"), dict):
        raise ConfigError(f"{path} is not a ganzoo run folder: its {CONFIG} was not written by ganzoo train")
    return data


def _last_records(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The last metric line of ``metrics.jsonl`` and the last one with an evaluation, reading from the end."""
    last: dict[str, Any] | None = None
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            pending = b""
            while end > 0:
                start = max(0, end - _TAIL)
                f.seek(start)
                chunk = f.read(end - start) + pending
                end = start
                lines = chunk.split(b"\n")
                pending = lines.pop(0) if start > 0 else b""  # may continue in the chunk before
                for line in reversed(lines):
                    record = _record(line) if line.strip() else None
                    if record is None:
                        continue
                    last = last or record
                    if isinstance(record.get("eval"), dict):
                        return last, record
    except OSError:
        return last, None
    return last, None


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None  # a line torn by a crash
    return record if isinstance(record, dict) and _whole(record.get("step")) else None


def _updated(path: Path) -> float:
    times = []
    for name in (METRICS, STATUS, CONFIG, SAMPLES):
        try:
            times.append((path / name).stat().st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)


# -- status ----------------------------------------------------------------------------------------


def write_status(run_dir: str | os.PathLike[str], status: str, step: int, message: str = "") -> None:
    """Record (atomically, in ``status.json``) how a run ended: one of ``finished``, ``interrupted``, ``diverged``."""
    if status not in ENDINGS:
        raise ValueError(f"status must be one of {', '.join(ENDINGS)}, got {status!r}")
    record = {"status": status, "step": step, "time": utc_now(), **({"message": message} if message else {})}
    write_atomic(Path(run_dir) / STATUS, (json.dumps(record) + "\n").encode())


def read_status(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``status.json`` of a run folder; None when there is none or it is not one the run logger writes."""
    try:
        data = load_json((Path(run_dir) / STATUS).read_bytes(), STATUS, ConfigError)
    except (OSError, ConfigError):
        return None
    if not isinstance(data, dict) or data.get("status") not in ENDINGS or not _whole(data.get("step")):
        return None
    if not isinstance(data.get("message", ""), str):
        data["message"] = str(data["message"])
    return data


def hold_run_lock(file: IO[Any]) -> None:
    """Mark a run as being trained: a shared ``flock`` on its open ``metrics.jsonl``, dropped when the file
    closes or the process ends. Best effort: without ``fcntl``, or on a file system without locks, nothing."""
    try:
        import fcntl
    except ImportError:  # Windows
        return
    for _ in range(50):  # never blocks: a reader holds its probing lock for microseconds, a broken NFS forever
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            return


def is_running(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a process is training in ``run_dir`` now (it holds the lock of :func:`hold_run_lock`)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return False
    try:
        with open(Path(run_dir) / METRICS, "rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


# -- removing --------------------------------------------------------------------------------------


def find_run(ref: str | os.PathLike[str], root: str | os.PathLike[str] = "runs") -> Path:
    """The folder ``ref`` names: a path, or the name of a folder under ``root`` (as ``ganzoo runs`` lists it)."""
    path = Path(ref)
    if os.path.lexists(path):
        return path
    text = os.fspath(ref)
    under = Path(root) / text
    if "/" not in text and os.sep not in text and text not in ("", ".", "..") and os.path.lexists(under):
        return under
    raise ConfigError(f"no run folder {text!r} (looked for {path} and {under}); `ganzoo runs` lists the runs "
                      "(--root DIR for another folder)")


def removable_run(run_dir: str | os.PathLike[str]) -> RunInfo:
    """What :func:`remove_run` would remove; ConfigError (nothing removed) for what it refuses.

    Refused: a symbolic link (the link is not followed), a folder without the ``config.json``
    ganzoo writes, a run being trained now, and the current folder or one above it.
    """
    path = Path(run_dir)
    if path.is_symlink():
        raise ConfigError(f"{os.fspath(run_dir)} is a symbolic link (to {os.readlink(path)}); ganzoo runs rm "
                          "removes run folders themselves and never follows a link: remove the link with rm, "
                          "or pass the folder it points to")
    if not path.is_dir():
        what = "it is a file" if path.exists() else "no such folder"
        raise ConfigError(f"{os.fspath(run_dir)} is not a ganzoo run folder: {what}; nothing was removed")
    try:
        info = read_run(path)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; nothing was removed (ganzoo runs rm only removes folders written by "
                          "ganzoo train)") from None
    if Path.cwd().resolve().is_relative_to(path.resolve()):
        raise ConfigError(f"refusing to remove {os.fspath(run_dir)}: it is the current folder or holds it; "
                          "change to another folder first")
    if info.status == "running":
        raise ConfigError(f"{os.fspath(run_dir)} is being trained now (a ganzoo process is writing it); "
                          "stop that run first (Ctrl-C), then remove it")
    return info


def remove_run(run_dir: str | os.PathLike[str]) -> Path:
    """Delete a run folder written by ``ganzoo train``, and everything in it; returns its path.

    What :func:`removable_run` refuses is refused. Links inside the folder are removed, never
    followed. The folder is first renamed to a hidden name beside it, so an interrupted removal
    never leaves a half-deleted run that looks whole.
    """
    removable_run(run_dir)
    path = Path(run_dir)
    absolute = path.absolute()
    doomed = absolute.parent / f".{absolute.name}{_REMOVING}{secrets.token_hex(4)}"
    try:
        absolute.rename(doomed)
    except OSError as exc:
        raise StorageError(f"could not remove {os.fspath(run_dir)}: {exc.strerror or exc}; nothing was removed") \
            from exc
    try:
        shutil.rmtree(doomed)  # unlinks symbolic links inside; never follows them
    except OSError as exc:
        raise StorageError(f"could not remove all of {os.fspath(run_dir)}: {exc.strerror or exc}; what is left "
                           f"is in {doomed}") from exc
    return path


# -- helpers ---------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, StorageError) and exc.filename:
        return f"cannot read {exc.filename}: {exc.strerror or exc}"
    return str(exc)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
