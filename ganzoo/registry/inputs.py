"""What ``Registry.publish`` is given, checked before anything is written: manifest, weight roles,
extra files and header metadata."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from ..errors import ConfigError
from ..models import ModelSpec
from ..weights import ROLES, weight_metadata
from .manifest import MANIFEST, checked_body
from .names import check_filename

__all__ = ["check_extras", "check_manifest", "check_roles", "header_metadata", "string_list"]


def string_list(values: Iterable[str], what: str) -> builtins.list[str]:
    if isinstance(values, str):
        raise ConfigError(f"{what} must be a list of strings, not the single string {values!r}")
    return builtins.list(values)


def check_manifest(manifest: Mapping[str, Any]) -> tuple[dict[str, Any], ModelSpec, dict[str, Any]]:
    body = checked_body(dict(manifest) if isinstance(manifest, Mapping) else manifest)
    for key in ("architecture", "spec", "dataset", "steps"):
        if key not in body:
            raise ConfigError(f"manifest needs the key {key!r} (architecture, spec, dataset, steps are required)")
    if not isinstance(body["spec"], dict):
        raise ConfigError("manifest 'spec' must be ModelSpec.to_dict()")
    spec = ModelSpec.from_dict(body["spec"])
    if spec.architecture != body["architecture"]:
        raise ConfigError(f"manifest architecture {body['architecture']!r} differs from its spec's "
                          f"{spec.architecture!r}")
    dataset = body["dataset"]
    if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
        raise ConfigError("manifest 'dataset' must be a dict with a 'name' string")
    steps = body["steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ConfigError(f"manifest 'steps' must be a non-negative integer, got {steps!r}")
    return body, spec, dataset


def check_roles(weights: Mapping[str, Mapping[str, torch.Tensor]]) -> builtins.list[str]:
    if not isinstance(weights, Mapping) or "generator" not in weights:
        raise ConfigError("weights must be a dict of role -> state dict with at least a 'generator' entry")
    unknown = sorted(set(weights) - set(ROLES))
    if unknown:
        raise ConfigError(f"unknown weight roles {unknown}; use {', '.join(ROLES)}")
    return [role for role in ROLES if role in weights]


def check_extras(extra_files: Mapping[str, bytes] | None, roles: builtins.list[str]) -> dict[str, bytes]:
    extras = dict(extra_files or {})
    taken = {f"{role}.safetensors" for role in ROLES} | {MANIFEST}
    for filename, data in extras.items():
        check_filename(filename)
        if filename in taken:
            raise ConfigError(f"extra file {filename!r} would overwrite a file the registry writes")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConfigError(f"extra file {filename!r} must be bytes, got {type(data).__name__}")
    return {k: bytes(v) for k, v in extras.items()}


def header_metadata(metadata: Mapping[str, str] | None, spec: ModelSpec,
                   dataset: dict[str, Any]) -> dict[str, str]:
    """The caller's header metadata plus the ganzoo keys; a ganzoo key that disagrees is refused."""
    computed = weight_metadata("generator", spec, dataset)
    del computed["ganzoo.role"]  # set per file, like ganzoo.model
    given = dict(metadata or {})
    for key, value in given.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            raise ConfigError(f"metadata must map str to str; {key!r}: {value!r} is not")
        if key in computed and _decoded(value) != _decoded(computed[key]):
            raise ConfigError(f"metadata {key!r} = {value!r} disagrees with the manifest ({computed[key]!r})")
    return {**given, **computed}


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
