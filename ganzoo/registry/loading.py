"""Turn a reference (registry entry or bare ``.safetensors`` file) into a ready generator.

A weight file is judged before it is trusted: its header's spec is built on PyTorch's meta
device (shapes and dtypes, no memory) and every tensor the header describes must have the
dtype and shape that network expects. Only then is the generator built for real, and only
the generator, so what is allocated is what the file itself holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..catalog import Catalog, get_catalog
from ..errors import ConfigError, IntegrityError
from ..models import Generator, ModelSpec
from ..weights import TensorInfo, check_tensors, decode_weights, parse_header, read_weight_bytes, spec_from_metadata
from .manifest import Manifest
from .store import Registry

__all__ = ["StartingWeights", "check_fit", "is_path_ref", "load_generator", "load_starting_weights"]

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


@dataclass(frozen=True)
class StartingWeights:
    """A stored model's networks, checked against the spec of the run that starts from them."""

    ref: str  # name:version, as resolved when the run started
    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor] | None  # None when the model stored no discriminator
    generator_ema: dict[str, torch.Tensor] | None  # None when it stored no moving average
    generator_sha256: str  # of the generator file the run starts from (recorded as the parent)


def load_starting_weights(ref: str, spec: ModelSpec, *, registry: Registry | str | os.PathLike[str] | None = None,
                          catalog: Catalog | None = None) -> StartingWeights:
    """The weights a fine-tuning run (``ganzoo train --init-from REF``) starts from.

    The stored model must have been built exactly as ``spec`` (the run's architecture, data
    shape, classes and constructor arguments), so every tensor fits; otherwise a ConfigError
    names what differs and how to match it. Every file is checked against the manifest
    (size, sha256) and its header against the spec before it is decoded.
    """
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    if is_path_ref(ref):
        raise ConfigError(f"--init-from needs a model in the registry (name, name:VERSION or name@ALIAS), not a "
                          f"file: {os.fspath(ref)!r}; import it first with: ganzoo models import")
    record = reg.resolve(ref)
    stored = reg.read_manifest(record)
    _check_same_spec(record.ref, stored.spec, spec)
    states: dict[str, dict[str, torch.Tensor] | None] = {}
    files: dict[str, tuple[str | os.PathLike[str], Mapping[str, TensorInfo]]] = {}
    raw: dict[str, tuple[Path, bytes]] = {}
    for role in ("generator", "discriminator", "generator_ema"):
        filename = f"{role}.safetensors"
        if filename not in stored.files:
            states[role] = None
            continue
        path, data = reg.read_verified(record, filename)
        meta, tensors = parse_header(data, path)
        if spec_from_metadata(meta, path) != stored.spec:
            raise IntegrityError(f"{path}: the spec in its header differs from the manifest's")
        files[role] = (path, tensors)
        raw[role] = (path, data)
    if "generator" not in raw:
        raise IntegrityError(f"{record.ref} stores no generator.safetensors; it cannot start a run")
    check_fit(spec, record.path, files, catalog=catalog)
    for role, (path, data) in raw.items():
        states[role] = decode_weights(data, path)[1]
    generator = states["generator"]
    assert generator is not None
    return StartingWeights(record.ref, generator, states["discriminator"], states["generator_ema"],
                           str(stored.files["generator.safetensors"].get("sha256", "")))


def _check_same_spec(ref: str, stored: ModelSpec, run: ModelSpec) -> None:
    """Refuse a stored model built differently from the run, naming each difference and its fix."""
    if stored == run:
        return
    differences: list[str] = []
    if stored.architecture != run.architecture:
        raise ConfigError(f"cannot start from {ref}: it is a {stored.architecture!r} model and this run trains "
                          f"{run.architecture!r}; leave the architecture out, or name {stored.architecture}")
    if stored.data_shape != run.data_shape:
        shown = "x".join(str(s) for s in stored.data_shape)
        hint = f"pass --image-size {stored.data_shape[-1]}" if len(stored.data_shape) == 3 else "use data of its shape"
        differences.append(f"data of shape {shown}, not {'x'.join(str(s) for s in run.data_shape)} ({hint})")
    if stored.num_classes != run.num_classes:
        def classes(n: int) -> str:
            return f"{n} classes" if n else "no classes"

        differences.append(f"{classes(stored.num_classes)}, not {classes(run.num_classes)} (use a dataset with "
                           f"{classes(stored.num_classes)})")
    for kind, a, b in (("generator", stored.generator_kwargs, run.generator_kwargs),
                       ("discriminator", stored.discriminator_kwargs, run.discriminator_kwargs)):
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if changed:
            shown = ", ".join(f"{k}={_short(a.get(k))} (this run: {_short(b.get(k))})" for k in changed)
            differences.append(f"{kind} options {shown} (pass them with -o KEY=VALUE)")
    raise ConfigError(f"cannot start from {ref}: it was built with " + "; ".join(differences or ["another spec"]))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
