"""Weights on disk: safetensors files whose header says what they hold.

A ganzoo weight file is an ordinary ``.safetensors`` file. Its header metadata (string
keys and values) carries the architecture and constructor arguments, so a file copied
out of the registry still rebuilds its network alone::

    ganzoo.format   "1"
    ganzoo.role     generator | generator_ema | discriminator
    ganzoo.spec     JSON of ModelSpec.to_dict()
    ganzoo.dataset  JSON, e.g. {"name": "digits", "shape": [1, 8, 8], "num_classes": 10, ...}
    ganzoo.model    "name:version" (optional; set by the registry)

Reading never unpickles anything: the header is parsed and checked here (length bounds,
JSON, offsets, sizes) before the bytes reach safetensors, and every failure becomes an
:class:`~ganzoo.errors.IntegrityError` that names the file and what is wrong with it.
:func:`read_header` and :func:`parse_header` give each tensor's dtype and shape without
touching its bytes, and :func:`check_tensors` compares them with what a network expects,
so a file can be judged against its architecture before that network is built for real.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from .errors import ConfigError, GanzooError, IntegrityError, ModelNotFoundError
from .fileio import load_json
from .models import ModelSpec

__all__ = [
    "FORMAT_VERSION",
    "ROLES",
    "TensorInfo",
    "check_tensors",
    "dataset_from_metadata",
    "decode_weights",
    "encode_weights",
    "load_weights",
    "parse_header",
    "read_header",
    "read_metadata",
    "read_weight_bytes",
    "read_weights",
    "save_weights",
    "spec_from_metadata",
    "weight_metadata",
]

FORMAT_VERSION = "1"
ROLES = ("generator", "generator_ema", "discriminator")
MAX_HEADER_BYTES = 100_000_000  # the limit safetensors itself enforces
# Bytes per element of each safetensors dtype; an unknown dtype is left to safetensors to judge.
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1,
                "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
                "I64": 8, "U64": 8, "F64": 8, "C64": 8}
# The safetensors name of each torch dtype a state dict can hold (what safetensors writes for it).
_DTYPE_NAMES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.int32: "I32",
                torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32",
                torch.float64: "F64", torch.complex64: "C64"}
_DTYPE_NAMES.update({getattr(torch, attr): name for attr, name in (
    ("float8_e5m2", "F8_E5M2"), ("float8_e4m3fn", "F8_E4M3"), ("uint16", "U16"), ("uint32", "U32"),
    ("uint64", "U64")) if hasattr(torch, attr)})  # newer torch only

TensorInfo = tuple[str, tuple[int, ...]]  # (safetensors dtype, shape) of one tensor, from a header


# -- writing -----------------------------------------------------------------------------------


def save_weights(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` to ``path`` as safetensors with ``metadata`` in the header, then fsync.

    Not atomic by itself: the registry writes into a staging folder and renames that, and
    :func:`ganzoo.fileio.write_atomic` with :func:`encode_weights` replaces a file at once.
    """
    prepared = _prepared(tensors, metadata, os.fspath(path))
    try:
        safetensors.torch.save_file(prepared, os.fspath(path), metadata=dict(metadata))
    except OSError:
        raise  # disk full, permissions: not the caller's data
    except Exception as exc:  # safetensors raises a mix of ValueError/RuntimeError/its own
        raise ConfigError(f"could not write weights to {os.fspath(path)!r}: {exc}") from exc
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # durable before anyone renames it into place
    finally:
        os.close(fd)


def encode_weights(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str], *,
                   what: str = "weights") -> bytes:
    """The safetensors bytes of ``tensors`` with ``metadata`` in the header (``what`` names them in errors)."""
    prepared = _prepared(tensors, metadata, what)
    try:
        return safetensors.torch.save(prepared, metadata=dict(metadata))
    except Exception as exc:  # safetensors raises a mix of ValueError/RuntimeError/its own
        raise ConfigError(f"could not encode weights for {what!r}: {exc}") from exc


def _prepared(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str], what: str) -> dict[str, torch.Tensor]:
    """Checked, contiguous CPU copies of ``tensors``, none sharing memory (safetensors refuses that)."""
    if not isinstance(tensors, Mapping):
        raise ConfigError(f"weights for {what!r} must be a dict of name -> tensor, got {type(tensors).__name__}")
    for mkey, mvalue in metadata.items():
        if not (isinstance(mkey, str) and isinstance(mvalue, str)):
            raise ConfigError(f"safetensors metadata must map str to str; {mkey!r}: {mvalue!r} is not")
    prepared: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in tensors.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ConfigError(f"weights for {what!r}: entry {key!r} is a {type(value).__name__}, "
                              "not a tensor (keys must be strings, values tensors)")
        if value.layout is not torch.strided:
            raise ConfigError(f"weights for {what!r}: tensor {key!r} has layout {value.layout}; "
                              "only dense tensors can be saved")
        t = value.detach().to("cpu").contiguous()
        # tied weights and views of one buffer: every tensor after the first on a storage gets its own copy
        storage = t.untyped_storage().data_ptr()
        if t.numel() and storage in seen:
            t = t.clone()
        seen.add(storage)
        prepared[key] = t
    return prepared


def weight_metadata(role: str, spec: ModelSpec, dataset_info: Mapping[str, Any],
                    model_ref: str | None = None) -> dict[str, str]:
    """The header metadata of a ganzoo weight file."""
    if role not in ROLES:
        raise ConfigError(f"unknown weight role {role!r}; use one of {', '.join(ROLES)}")
    if not isinstance(spec, ModelSpec):
        raise ConfigError(f"spec must be a ganzoo.ModelSpec, got {type(spec).__name__}")
    meta = {
        "ganzoo.format": FORMAT_VERSION,
        "ganzoo.role": role,
        "ganzoo.spec": _json(spec.to_dict(), "the model spec"),
        "ganzoo.dataset": _json(dict(dataset_info), "the dataset info"),
    }
    if model_ref is not None:
        meta["ganzoo.model"] = str(model_ref)
    return meta


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be JSON-serializable: {exc}") from exc


# -- reading -----------------------------------------------------------------------------------


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The header metadata of a safetensors file (checked, without reading the tensors)."""
    return read_header(path)[0]


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, TensorInfo]]:
    """``(metadata, {name: (dtype, shape)})`` of a safetensors file, checked, without reading the tensors."""
    p = Path(path)
    try:
        with _open(p) as f:
            size = os.fstat(f.fileno()).st_size
            prefix = f.read(8)
            n = _header_length(prefix, size, p)
            header = f.read(n)
    except GanzooError:
        raise
    except OSError as exc:
        raise IntegrityError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return _check_header(header, size - 8 - n, p)


def read_weight_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole of a weight file (a regular file: a folder, FIFO or device is refused), unchecked."""
    return _read(Path(path))


def parse_header(data: bytes, source: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, TensorInfo]]:
    """``(metadata, {name: (dtype, shape)})`` from the bytes of a safetensors file, checked; no tensor is made."""
    p = Path(source)
    n = _header_length(data[:8], len(data), p)
    return _check_header(data[8:8 + n], len(data) - 8 - n, p)


def check_tensors(expected: Mapping[str, torch.Tensor], found: Mapping[str, TensorInfo],
                  source: str | os.PathLike[str], what: str) -> None:
    """Refuse a header whose tensors are not exactly those of ``expected`` (a state dict, e.g. on the meta device).

    Every key must be present with the same dtype and shape, and no other key may be there.
    The first difference (a missing tensor, then an unexpected one, then the first whose dtype
    or shape differs) raises :class:`IntegrityError` naming the file, the tensor, and what was
    expected and found. ``what`` says what ``expected`` belongs to.
    """
    p = os.fspath(source)
    fix = "the file is damaged or was written for another model: re-export or re-download it"
    missing = [key for key in expected if key not in found]
    if missing:
        t = expected[missing[0]]
        raise IntegrityError(f"{p}: its weights do not fit {what}: it has no tensor {missing[0]!r} "
                             f"({_dtype_name(t.dtype)} of shape {list(t.shape)}; {len(missing)} missing in all); {fix}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise IntegrityError(f"{p}: its weights do not fit {what}: it holds tensor {extra[0]!r} ({len(extra)} "
                             f"unexpected in all), which that network does not have; {fix}")
    for key, tensor in expected.items():
        want = (_dtype_name(tensor.dtype), list(tensor.shape))
        dtype, shape = found[key]
        if (dtype, list(shape)) != want:
            raise IntegrityError(f"{p}: its weights do not fit {what}: tensor {key!r} should be {want[0]} of shape "
                                 f"{want[1]}, the file holds {dtype} of shape {list(shape)}; {fix}")


def _dtype_name(dtype: torch.dtype) -> str:
    return _DTYPE_NAMES.get(dtype, str(dtype))


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU."""
    p = Path(path)
    return decode_weights(_read(p), p)[1]


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """``(metadata, tensors)`` of a safetensors file, from a single read."""
    p = Path(path)
    return decode_weights(_read(p), p)


def decode_weights(data: bytes, source: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Check and decode the bytes of a safetensors file: ``(metadata, tensors)``.

    ``source`` only names the file in error messages. The registry hashes the bytes it
    read and decodes the same bytes, so nothing can change between check and use.
    """
    p = Path(source)
    n = _header_length(data[:8], len(data), p)
    metadata, infos = _check_header(data[8:8 + n], len(data) - 8 - n, p)
    names = set(infos)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # whatever safetensors objects to, the file is bad
        raise IntegrityError(f"{p} is not a valid safetensors file: {exc}") from exc
    if set(tensors) != names:
        raise IntegrityError(f"{p}: safetensors returned tensors {sorted(tensors)}, header lists {sorted(names)}")
    return metadata, tensors


def spec_from_metadata(meta: Mapping[str, str], path: str | os.PathLike[str]) -> ModelSpec:
    """Rebuild the :class:`ModelSpec` recorded in a weight file's header."""
    fmt = meta.get("ganzoo.format")
    if fmt is None or "ganzoo.spec" not in meta:
        missing = "ganzoo.format" if fmt is None else "ganzoo.spec"
        raise IntegrityError(f"{os.fspath(path)} is not a ganzoo model file: its safetensors header has no "
                             f"{missing!r} key (it holds weights but not the architecture to build them into)")
    if fmt != FORMAT_VERSION:
        raise IntegrityError(f"{os.fspath(path)} has ganzoo.format {fmt!r}; this ganzoo reads format "
                             f"{FORMAT_VERSION!r}. Upgrade ganzoo to load it.")
    raw = load_json(meta["ganzoo.spec"], f"header key 'ganzoo.spec' of {os.fspath(path)}", IntegrityError)
    if not isinstance(raw, dict):
        raise IntegrityError(f"{os.fspath(path)}: header key 'ganzoo.spec' must be a JSON object")
    try:
        return ModelSpec.from_dict(raw)
    except ConfigError as exc:
        raise IntegrityError(f"{os.fspath(path)}: header key 'ganzoo.spec' is malformed: {exc}") from exc


def dataset_from_metadata(meta: Mapping[str, str], path: str | os.PathLike[str]) -> dict[str, Any]:
    """The dataset record in a weight file's header (``ganzoo.dataset``); {} when there is none."""
    if "ganzoo.dataset" not in meta:
        return {}
    found = load_json(meta["ganzoo.dataset"], f"header key 'ganzoo.dataset' of {os.fspath(path)}", IntegrityError)
    if not isinstance(found, dict):
        raise IntegrityError(f"{os.fspath(path)}: header key 'ganzoo.dataset' must be a JSON object, got "
                             f"{type(found).__name__}; the file is damaged or was not written by ganzoo")
    return found


def _open(p: Path) -> Any:
    if not p.exists():
        raise ModelNotFoundError(f"no such weight file: {p}")
    if not p.is_file():
        raise IntegrityError(f"{p} is not a file")
    return p.open("rb")


def _read(p: Path) -> bytes:
    try:
        with _open(p) as f:
            data: bytes = f.read()
            return data
    except GanzooError:
        raise
    except OSError as exc:
        raise IntegrityError(f"cannot read {p}: {exc.strerror or exc}") from exc


def _header_length(prefix: bytes, size: int, p: Path) -> int:
    """The header length from the first 8 bytes, checked against the file size."""
    if size < 8 or len(prefix) < 8:
        raise IntegrityError(f"{p} is not a safetensors file: {size} bytes, too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
        # A pickle, a zip (torch.save) or a truncated file all land here.
        raise IntegrityError(f"{p} is not a safetensors file (or is truncated): header length {n} does not fit "
                             f"a file of {size} bytes")
    return int(n)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _check_header(raw: bytes, data_len: int, p: Path) -> tuple[dict[str, str], dict[str, TensorInfo]]:
    """Validate the JSON header against the data section: ``(metadata, {name: (dtype, shape)})``."""
    header = load_json(raw, f"the safetensors header of {p}", IntegrityError, object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise IntegrityError(f"{p} is not a safetensors file: its header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in metadata.items()):
        raise IntegrityError(f"{p}: header __metadata__ must map strings to strings")
    spans: list[tuple[int, int, str]] = []
    infos: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        spans.append(_check_entry(name, entry, p))
        infos[name] = (entry["dtype"], tuple(entry["shape"]))
    spans.sort()
    end = 0
    for begin, stop, name in spans:
        if begin != end:
            raise IntegrityError(f"{p}: tensor {name!r} starts at byte {begin} of the data section, expected {end} "
                                 "(tensors must be contiguous and non-overlapping)")
        end = stop
    if end != data_len:
        raise IntegrityError(f"{p} is truncated or has trailing bytes: the header describes {end} bytes of tensor "
                             f"data, the file holds {data_len}")
    return metadata, infos


def _naturals(xs: list[Any]) -> bool:
    return all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in xs)


def _check_entry(name: str, entry: Any, p: Path) -> tuple[int, int, str]:
    if not isinstance(entry, dict):
        raise IntegrityError(f"{p}: header entry {name!r} is not a tensor description")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(dtype, str) and isinstance(shape, list) and isinstance(offsets, list)
            and _naturals(shape) and _naturals(offsets) and len(offsets) == 2):
        raise IntegrityError(f"{p}: header entry {name!r} needs a dtype string, a shape of non-negative integers "
                             f"and two data_offsets, got {entry!r}")
    begin, stop = offsets
    if stop < begin:
        raise IntegrityError(f"{p}: tensor {name!r} has data_offsets {offsets} that run backwards")
    width = _DTYPE_BYTES.get(dtype)
    if width is not None and math.prod(shape) * width != stop - begin:
        raise IntegrityError(f"{p}: tensor {name!r} ({dtype}, shape {shape}) needs {math.prod(shape) * width} "
                             f"bytes, its data_offsets span {stop - begin}")
    return begin, stop, name
