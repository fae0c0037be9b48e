"""The local model registry: versioned, hashed safetensors files indexed by SQLite.

>>> reg = Registry("registry")                        # doctest: +SKIP
>>> record = reg.publish("dcgan-digits", {"generator": G.state_dict()}, manifest)  # doctest: +SKIP
>>> G = load_generator("dcgan-digits@latest")         # doctest: +SKIP

See ``docs/registry.md`` for the on-disk format.
"""

from __future__ import annotations

from .deploy import export_generator
from .loading import is_path_ref, load_generator
from .names import check_alias, check_model_name, parse_ref
from .store import MANIFEST_FORMAT, ModelRecord, Registry
from .transfer import export_model, import_model

__all__ = [
    "MANIFEST_FORMAT",
    "ModelRecord",
    "Registry",
    "check_alias",
    "check_model_name",
    "export_generator",
    "export_model",
    "import_model",
    "is_path_ref",
    "load_generator",
    "parse_ref",
]
