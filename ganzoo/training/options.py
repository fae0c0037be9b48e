"""Where a run's options come from, and which one wins: typed options, a TOML file, a stored model, a run folder.

:func:`resolve_run` merges them into a :class:`~ganzoo.TrainConfig` and the run folder's
keeping options; ``ganzoo train`` only parses its command line and calls it.

``ganzoo train --config run.toml`` reads every option of ``ganzoo train`` from a file;
keys are the option names, with dashes or underscores, and the architecture's
hyperparameters go in a ``[model]`` table::

    architecture = "dcgan"
    dataset = "digits"
    steps = 2000
    batch-size = 64
    betas = [0.5, 0.999]
    sample-every = 250

    [model]
    base_channels = 32

``ganzoo train --from REF`` starts from the training options recorded with a stored
model. Options typed on the command line win over both, ``--fast`` over the file, the file
over ``--from``, and ``--from`` over the architecture's own training defaults
(``Architecture.train_defaults``, e.g. SNGAN's five D steps per G step). ``--resume RUN``
continues a run with its own options: only those typed anew (and only those a resumed run
may change) are laid over them.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..values import check_bool, parse_key_values
from .config import FAST_PATH, TrainConfig

if TYPE_CHECKING:
    from ..catalog import Catalog

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["COMMAND_OPTIONS", "KEEPING", "TRAINING", "ResolvedRun", "architecture_train_defaults",
           "parse_model_options", "read_train_file", "recorded_options", "resolve_run", "starting_options"]

TRAINING = tuple(f.name for f in fields(TrainConfig) if f.name not in ("architecture", "model"))  # plain options
# How the run folder is kept, with their defaults; recorded in config.json so that --resume keeps them.
KEEPING: dict[str, Any] = {"sample_every": 500, "logger": "files", "eval_every": 0}
LOGGERS = ("files", "tensorboard")
# What a config file may also hold for the command that runs it (where to publish, where the run folder goes);
# resolve_run hands them back untouched in ResolvedRun.extra.
COMMAND_OPTIONS = ("name", "registry", "run_dir", "out", "no_publish", "nproc")


@dataclass(frozen=True)
class ResolvedRun:
    """What a run will do: its config, and how its folder is kept."""

    config: TrainConfig
    sample_every: int = KEEPING["sample_every"]  # steps between grids in the run folder (0: only at the end)
    logger: str = KEEPING["logger"]  # files | tensorboard
    eval_every: int = KEEPING["eval_every"]  # steps between evaluations (0: never)
    extra: dict[str, Any] = field(default_factory=dict)  # the config file's COMMAND_OPTIONS, for the caller


def resolve_run(architecture: str | None = None, *, options: Mapping[str, Any] | None = None,
                model: Mapping[str, Any] | None = None,
                config_file: str | os.PathLike[str] | Mapping[str, Any] | None = None,
                config_name: str | os.PathLike[str] | None = None, from_ref: str | None = None,
                resume: str | os.PathLike[str] | None = None, fast: bool = False,
                registry: Any = None) -> ResolvedRun:
    """Merge a run's option sources, highest first: ``options`` (TrainConfig fields and
    ``sample_every``/``logger``/``eval_every``, as typed by the user), ``fast`` (:data:`FAST_PATH`
    for what ``options`` leaves unset), ``config_file`` (a TOML path, or its options already
    read, then ``config_name`` names it in errors), the options recorded with the stored model
    ``from_ref``, the architecture's own ``train_defaults``, then TrainConfig's defaults. Every
    value, whatever its source, passes TrainConfig's checks; a bad value from the file is
    reported with the file's name.
    ``model`` holds architecture hyperparameters; it is merged over the file's ``[model]`` table
    and the recorded ones.

    With ``resume`` the run folder's saved config is the base instead, ``options`` and
    ``model`` are laid over it (only the changes a resumed run allows), and the folder keeps
    its recorded grid cadence, logger and evaluation unless ``options`` names them.
    """
    typed = dict(options or {})
    unknown = sorted(set(typed) - set(TRAINING) - set(KEEPING))
    if unknown:
        raise ConfigError(f"unknown training option(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted((*TRAINING, *KEEPING)))}")
    if resume is not None and (config_file is not None or from_ref is not None):
        raise ConfigError("--config and --from start a new run; with --resume the run's own options apply")
    if config_file is None:
        file: dict[str, Any] = {}
    elif isinstance(config_file, Mapping):
        file = dict(config_file)
    else:
        config_name = config_name or config_file
        file = read_train_file(config_file, known=(*TRAINING, *KEEPING, *COMMAND_OPTIONS, "model", "architecture",
                                                   "fast"))
    if file:
        _check_file(file, os.fspath(config_name) if config_name is not None else "given as config_file")
    if fast or file.get("fast"):  # a preset: options typed out beside it win
        typed = {**FAST_PATH, **typed}
    typed_model = dict(model or {})
    if resume is not None:
        return _resume(resume, architecture, typed, typed_model)
    recorded = recorded_options(from_ref, registry) if from_ref is not None else {}
    layers = [{k: v for k, v in recorded.items() if k in TRAINING}, file, typed]  # lowest first
    merged = {k: v for layer in layers for k, v in layer.items() if k in TRAINING}
    model_layers = [recorded.get("model") or {}, file.get("model") or {}, typed_model]
    architecture = architecture or file.get("architecture") or recorded.get("architecture")
    if merged.get("init_from") is not None:  # fine-tuning: the stored model's shape options are the base
        start = starting_options(merged["init_from"], registry)
        merged["init_from"] = start["init_from"]
        architecture = architecture or start["architecture"]
        if architecture == start["architecture"]:
            model_layers.insert(0, start["model"])
            if merged.get("image_size") is None and start["image_size"] is not None:
                merged["image_size"] = start["image_size"]
    if architecture is None:
        raise ConfigError("no architecture given: name one (e.g. ganzoo train dcgan), or resume a run (--resume)")
    merged = {**architecture_train_defaults(architecture), **merged}  # below every source the user gives
    config = TrainConfig.from_dict({"architecture": architecture, **merged,
                                    "model": {k: v for layer in model_layers for k, v in layer.items()}})
    keeping = {k: typed.get(k, file.get(k, default)) for k, default in KEEPING.items()}
    extra = {k: file[k] for k in COMMAND_OPTIONS if k in file}
    return ResolvedRun(config, **_checked_keeping(keeping), extra=extra)


def architecture_train_defaults(architecture: str, catalog: Catalog | None = None) -> dict[str, Any]:
    """The training options ``architecture`` declares (``Architecture.train_defaults``), from ``catalog``
    (default: the installed plugins'); none for a name no plugin registered (training then refuses
    it, suggesting names)."""
    from ..catalog import get_catalog

    catalog = catalog if catalog is not None else get_catalog()
    return catalog.train_defaults(architecture) if architecture in catalog.architectures else {}


def _check_file(file: Mapping[str, Any], name: str) -> None:
    """The file's values alone, checked as TrainConfig checks them, so that a bad one names the file."""
    try:
        if "fast" in file:
            check_bool("fast", file["fast"])
        TrainConfig.from_dict({"architecture": file.get("architecture", "dcgan"),
                               **{k: v for k, v in file.items() if k in TRAINING or k == "model"}})
        _checked_keeping({k: file.get(k, default) for k, default in KEEPING.items()})
    except ConfigError as exc:
        raise ConfigError(f"config file {name}: {exc}") from None


def _resume(run_dir: str | os.PathLike[str], architecture: str | None, typed: dict[str, Any],
            model: dict[str, Any]) -> ResolvedRun:
    from .checkpoint import resume_config
    from .runfolder import read_run_logging

    given = {k: v for k, v in typed.items() if k in TRAINING}
    if architecture is not None:
        given["architecture"] = architecture
    if model:
        given["model"] = model
    config = resume_config(run_dir, given)
    saved = read_run_logging(run_dir)
    valid = {"sample_every": lambda v: isinstance(v, int), "eval_every": lambda v: isinstance(v, int),
             "logger": lambda v: v in LOGGERS}
    keeping = {k: typed[k] if k in typed else saved[k] if valid[k](saved.get(k)) else default
               for k, default in KEEPING.items()}
    return ResolvedRun(config, **_checked_keeping(keeping))


def _checked_keeping(keeping: dict[str, Any]) -> dict[str, Any]:
    for key in ("sample_every", "eval_every"):
        value = keeping[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{key} must be 0 or a positive number of steps, got {value!r}")
    if keeping["logger"] not in LOGGERS:
        raise ConfigError(f"logger must be one of {', '.join(LOGGERS)}, got {keeping['logger']!r}")
    return keeping


def parse_model_options(values: Collection[str]) -> dict[str, Any]:
    """``-o KEY=VALUE`` architecture options; values read as JSON when they can be (numbers, lists), a key once."""
    return parse_key_values(list(values), "model option", "-o base_channels=32")


def read_train_file(path: str | os.PathLike[str], known: Collection[str] | None = None) -> dict[str, Any]:
    """The options in a TOML file, keys with underscores; ``known`` (if given) refuses any other key.

    ``model`` must be a table (the architecture's hyperparameters); anything else is a
    plain value, checked later like the same option typed on the command line.
    """
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {os.fspath(path)} does not exist; pass the path of a TOML file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {os.fspath(path)}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {os.fspath(path)} is not valid TOML: {exc}") from exc
    options: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name in options:
            raise ConfigError(f"config file {os.fspath(path)} sets {name!r} twice (as {key!r} and another spelling)")
        options[name] = value
    if "model" in options and not isinstance(options["model"], dict):
        raise ConfigError(f"config file {os.fspath(path)}: 'model' must be a table of architecture options "
                          f"([model] with lines like base_channels = 32), got {options['model']!r}")
    if known is not None:
        unknown = sorted(set(options) - set(known))
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
            raise ConfigError(f"config file {os.fspath(path)} has unknown option(s): {', '.join(hints)}. "
                              f"Known: {', '.join(sorted(known))}")
    return options


def starting_options(ref: str, registry: Any = None) -> dict[str, Any]:
    """What a run started from the stored model ``ref`` takes from it: the resolved reference
    (``name:version``, so a later publish under the same name cannot change what it means), the
    architecture, its options and the image size it was trained at."""
    from ..registry import Registry, is_path_ref

    if not isinstance(ref, str) or is_path_ref(ref):
        raise ConfigError(f"--init-from needs a model in the registry (name, name:VERSION or name@ALIAS), not a "
                          f"file: {os.fspath(ref)!r}; import it first with: ganzoo models import")
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    record = reg.resolve(ref)
    manifest = reg.read_manifest(record)
    training = manifest.training or {}
    model = training.get("model") if isinstance(training.get("model"), dict) else {}
    image_size = training.get("image_size")
    return {"init_from": record.ref, "architecture": manifest.spec.architecture, "model": dict(model or {}),
            "image_size": image_size if isinstance(image_size, int) and not isinstance(image_size, bool) else None}


def recorded_options(ref: str, registry: Any = None) -> dict[str, Any]:
    """The training options a stored model was trained with (its manifest's ``training``)."""
    from ..registry import Registry, is_path_ref

    if is_path_ref(ref):
        raise ConfigError(f"--from needs a model in the registry (name, name:VERSION or name@ALIAS), not a file: "
                          f"{os.fspath(ref)!r} carries no training options")
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    training = reg.read_manifest(ref).training
    if training is None or "architecture" not in training:
        raise ConfigError(f"{ref} does not record the options it was trained with (no 'training' in its manifest); "
                          "give the options on the command line instead")
    return dict(training)
