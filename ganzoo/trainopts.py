"""Where a run's options can come from besides the command line: a TOML file, or a stored model's record.

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
model. Options typed on the command line win over both, the file wins over ``--from``.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["read_train_file", "recorded_options"]


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


def recorded_options(ref: str, registry: Any = None) -> dict[str, Any]:
    """The training options a stored model was trained with (its manifest's ``training``)."""
    from .registry import Registry, is_path_ref

    if is_path_ref(ref):
        raise ConfigError(f"--from needs a model in the registry (name, name:VERSION or name@ALIAS), not a file: "
                          f"{os.fspath(ref)!r} carries no training options")
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    training = reg.manifest(ref).get("training")
    if not isinstance(training, dict) or "architecture" not in training:
        raise ConfigError(f"{ref} does not record the options it was trained with (no 'training' in its manifest); "
                          "give the options on the command line instead")
    return dict(training)
