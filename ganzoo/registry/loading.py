"""Turn a reference (registry entry or bare ``.safetensors`` file) into a ready generator."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..catalog import Catalog, get_catalog
from ..errors import ConfigError, IntegrityError
from ..models import Generator
from ..weights import decode_weights, read_weights, spec_from_metadata
from .manifest import Manifest
from .store import Registry

__all__ = ["is_path_ref", "load_generator"]

GENERATOR_ROLES = ("generator", "generator_ema")


def is_path_ref(ref: object) -> bool:
    """True when ``ref`` names a file: a path object, or a string ending in ``.safetensors``.

    Anything else is a registry reference (``name``, ``name:3``, ``name@alias``); a file
    that happens to share a model's name in the current folder does not shadow it.
    """
    if isinstance(ref, os.PathLike):
        return True
    return isinstance(ref, str) and ref.lower().endswith(".safetensors")


def load_generator(ref: str | os.PathLike[str], *, registry: Registry | str | os.PathLike[str] | None = None,
                   ema: bool = True, catalog: Catalog | None = None,
                   device: str | torch.device = "cpu") -> Generator:
    """Build the stored generator, load its weights (strictly) and return it in eval mode.

    A path loads alone: the architecture and constructor arguments come from the file's
    header. A registry reference uses ``generator_ema.safetensors`` when present and
    ``ema`` is true, else ``generator.safetensors``, after checking size and sha256.
    The result carries ``ganzoo_spec`` and ``ganzoo_manifest`` (None for a bare file).
    """
    stored: Manifest | None = None
    if is_path_ref(ref):
        path = Path(os.fspath(ref)).expanduser()
        meta, state = read_weights(path)
    else:
        reg = registry if isinstance(registry, Registry) else Registry(registry)
        if not isinstance(ref, str):
            raise ConfigError(f"model reference must be a string or a path, got {type(ref).__name__}")
        record = reg.resolve(ref)
        stored = reg.read_manifest(record)
        use_ema = ema and "generator_ema.safetensors" in stored.files
        path, data = reg.read_verified(record, "generator_ema.safetensors" if use_ema else "generator.safetensors")
        meta, state = decode_weights(data, path)

    spec = spec_from_metadata(meta, path)
    role = meta.get("ganzoo.role", "generator")
    if role not in GENERATOR_ROLES:
        raise ConfigError(f"{path} holds {role} weights, not a generator's; load generator.safetensors or "
                          "generator_ema.safetensors")
    if stored is not None and stored.spec != spec:
        raise IntegrityError(f"{path}: the spec in its header differs from the manifest's")

    generator, _ = (catalog if catalog is not None else get_catalog()).build(spec)
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # missing/unexpected keys, wrong shapes
        detail = " ".join(str(exc).split())
        raise IntegrityError(f"{path}: its weights do not fit architecture {spec.architecture!r} as described by "
                             f"its header: {detail}") from exc
    generator.to(device)
    generator.eval()
    generator.ganzoo_manifest = stored.to_dict() if stored is not None else None
    return generator
