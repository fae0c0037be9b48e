"""Turn a reference (registry entry or bare ``.safetensors`` file) into a ready generator.

A weight file is judged before it is trusted: its header's spec is built on PyTorch's meta
device (shapes and dtypes, no memory) and every tensor the header describes must have the
dtype and shape that network expects. Only then is the generator built for real, and only
the generator, so what is allocated is what the file itself holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from ..catalog import Catalog, get_catalog
from ..errors import ConfigError, IntegrityError
from ..models import Generator, ModelSpec
from ..weights import TensorInfo, check_tensors, decode_weights, parse_header, read_weight_bytes, spec_from_metadata
from .manifest import Manifest
from .store import Registry

__all__ = ["check_fit", "is_path_ref", "load_generator"]

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
        data = read_weight_bytes(path)
    else:
        reg = registry if isinstance(registry, Registry) else Registry(registry)
        if not isinstance(ref, str):
            raise ConfigError(f"model reference must be a string or a path, got {type(ref).__name__}")
        record = reg.resolve(ref)
        stored = reg.read_manifest(record)
        use_ema = ema and "generator_ema.safetensors" in stored.files
        path, data = reg.read_verified(record, "generator_ema.safetensors" if use_ema else "generator.safetensors")

    meta, tensors = parse_header(data, path)
    spec = spec_from_metadata(meta, path)
    role = meta.get("ganzoo.role", "generator")
    if role not in GENERATOR_ROLES:
        raise ConfigError(f"{path} holds {role} weights, not a generator's; load generator.safetensors or "
                          "generator_ema.safetensors")
    if stored is not None and stored.spec != spec:
        raise IntegrityError(f"{path}: the spec in its header differs from the manifest's")

    catalog = catalog if catalog is not None else get_catalog()
    check_fit(spec, path, {"generator": (path, tensors)}, catalog=catalog)
    state = decode_weights(data, path)[1]
    arch = catalog.architecture(spec.architecture)  # checked on the meta device above, with these arguments
    generator = arch.generator(data_shape=spec.data_shape, num_classes=spec.num_classes, **spec.generator_kwargs)
    generator.ganzoo_spec = spec
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


def check_fit(spec: ModelSpec, source: str | os.PathLike[str],
              files: Mapping[str, tuple[str | os.PathLike[str], Mapping[str, TensorInfo]]], *,
              catalog: Catalog | None = None) -> None:
    """Refuse weight files that do not fit ``spec``'s architecture, before anything is built for real.

    ``source`` is where ``spec`` was read (named in errors); ``files`` maps a role (``generator``,
    ``generator_ema``, ``discriminator``) to a file and the ``{name: (dtype, shape)}`` its header
    describes. Both networks are built on the meta device (their keywords checked), so a spec
    naming a network of any size costs no memory; then every state-dict entry's dtype and
    shape must match the header. Failures are ``IntegrityError``.
    """
    catalog = catalog if catalog is not None else get_catalog()
    try:
        g, d = catalog.build(spec, meta=True)
    except ConfigError as exc:
        raise IntegrityError(f"{os.fspath(source)}: the spec it records cannot be built: {exc}; the file is damaged "
                             "or was written by another version of the architecture's plugin") from exc
    for role, (path, tensors) in files.items():
        network, kind = (d, "discriminator") if role == "discriminator" else (g, "generator")
        check_tensors(network.state_dict(), tensors, path, f"the {spec.architecture!r} {kind} that the spec describes")
