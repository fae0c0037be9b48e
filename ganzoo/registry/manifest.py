"""The manifest of a stored version, as a typed object: :meth:`Manifest.read` is its one reader,
:meth:`Manifest.encode` its one writer (``manifest.json``, JSON, never unpickled).

The registry writes ``format``, ``name``, ``version``, ``created``, ``files`` (the sha256 and
size of every other file) and ``versions`` (the libraries that wrote it); everything else is
what the publisher recorded (``body``): the architecture, the ModelSpec, the dataset, the
training options, the step count, metrics and where an imported model came from. Fields a
future version adds stay in ``body`` and are written back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, IntegrityError
from ..fileio import json_safe, load_json, read_or_refuse
from ..models import ModelSpec

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "REGISTRY_KEYS", "Manifest", "checked_body", "table_of"]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "ganzoo.model/1"
REGISTRY_KEYS = ("format", "name", "version", "created", "files", "versions")  # written by the registry alone


@dataclass(frozen=True)
class Manifest:
    """One version's record: who it is, its files, and what its publisher recorded."""

    name: str  # model name
    version: int  # 1, 2, 3, ...
    created: str  # ISO-8601 UTC
    files: dict[str, dict[str, Any]]  # filename -> {"sha256": ..., "size": ...}
    versions: dict[str, str] = field(default_factory=dict)  # library versions that wrote it
    body: dict[str, Any] = field(default_factory=dict)  # the publisher's fields (architecture, spec, ...)

    # -- the publisher's fields, typed -------------------------------------------------------------
    @property
    def architecture(self) -> str:
        return str(self.body.get("architecture", ""))

    @property
    def spec(self) -> ModelSpec:
        """The architecture and constructor arguments; IntegrityError when the record is unusable."""
        try:
            return ModelSpec.from_dict(self.body["spec"])
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            raise IntegrityError(f"the manifest of {self.ref} has no usable 'spec': {exc}") from exc

    @property
    def dataset(self) -> dict[str, Any]:
        return table_of(self.body, "dataset") or {}

    @property
    def training(self) -> dict[str, Any] | None:
        """The TrainConfig fields it was trained with (the loss resolved), when recorded."""
        return table_of(self.body, "training")

    @property
    def metrics(self) -> dict[str, Any]:
        return table_of(self.body, "metrics") or {}

    @property
    def source(self) -> dict[str, Any] | None:
        """Where an imported version came from (``ganzoo models import``), else None."""
        return table_of(self.body, "source")

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def with_metrics(self, key: str, results: dict[str, Any]) -> Manifest:
        """A copy with ``results`` stored under ``metrics[key]`` (NaN and infinities as null)."""
        return replace(self, body={**self.body, "metrics": {**self.metrics, key: json_safe(results)}})

    # -- reading and writing -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": MANIFEST_FORMAT, "name": self.name, "version": self.version, "created": self.created,
                **self.body, "files": self.files, "versions": self.versions}

    def encode(self) -> bytes:
        """The bytes of ``manifest.json``."""
        return (json.dumps(self.to_dict(), indent=2) + "\n").encode()

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Manifest:
        """Check the registry's fields of a parsed manifest; ``where`` names it in errors."""
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise IntegrityError(f"{where} is not a ganzoo manifest (no 'files' table)")
        if data.get("format") != MANIFEST_FORMAT:
            raise IntegrityError(f"{where} has format {data.get('format')!r}, expected {MANIFEST_FORMAT!r}")
        name, version = data.get("name"), data.get("version")
        if not isinstance(name, str) or not isinstance(version, int) or isinstance(version, bool):
            raise IntegrityError(f"{where} names no model version (name {name!r}, version {version!r})")
        found = data.get("versions")
        return cls(name=name, version=version, created=str(data.get("created", "")), files=dict(data["files"]),
                   versions=dict(found) if isinstance(found, dict) else {},
                   body={k: v for k, v in data.items() if k not in REGISTRY_KEYS})

    @classmethod
    def read(cls, path: Path, where: str) -> Manifest:
        """Read and check ``path``; every failure is an IntegrityError that says what is wrong."""
        raw = read_or_refuse(path, where, IntegrityError)
        return cls.from_dict(load_json(raw, f"{where}: {path}", IntegrityError), f"{where}: {path}")


def table_of(fields: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """A copy of ``fields[key]`` when it is a JSON object, else None (absent, or damaged into another kind)."""
    found = fields.get(key)
    return dict(found) if isinstance(found, dict) else None


def checked_body(manifest: Any) -> dict[str, Any]:
    """A publisher's manifest fields, checked and copied as JSON; ConfigError names what is wrong."""
    if not isinstance(manifest, dict):
        raise ConfigError(f"manifest must be a dict, got {type(manifest).__name__}")
    reserved = sorted(set(manifest) & set(REGISTRY_KEYS))
    if reserved:
        raise ConfigError(f"manifest keys {reserved} are written by the registry; leave them out")
    try:  # a deep copy that proves the caller's dict is JSON
        return dict(json_safe(json.loads(json.dumps(dict(manifest)))))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"manifest must be JSON-serializable: {exc}") from exc
