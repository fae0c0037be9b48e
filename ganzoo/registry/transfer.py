"""Moving a stored model out of the registry and back in: Hugging Face-style folders.

``export_model`` writes one version as a folder that ganzoo (with the plugin of its
architecture) loads and imports; ``ganzoo.registry.deploy`` writes the generator alone as
ONNX or TorchScript, which run without ganzoo. The folder::

    model.safetensors            the generator to sample from (the EMA one when stored)
    generator.safetensors        the raw generator, when model.safetensors is the EMA one
    discriminator.safetensors    when stored
    samples.png                  a grid of 64 samples (seed 0)
    README.md                    the model card: front matter (license, dataset, tags, model-index),
                                 architecture, paper, dataset, training, metrics, how to use it
    config.json                  the manifest (spec, training config, dataset, metrics with
                                 their protocol), where it came from, and the sha256 and size
                                 of every other file

The weight files are the registry's own bytes, so each still loads alone (its header
carries the architecture). ``import_model`` checks every file against ``config.json``
before anything is stored; a changed file is refused with nothing stored, and the
publish itself is atomic. A folder to import may come from anywhere: only regular files
are opened (no links, FIFOs or devices), a file's size is compared with the listed size
before it is read, ``config.json`` is at most 16 MiB, and every weight file must fit the
architecture its spec describes (checked on the meta device). Every value that reaches the
model card is escaped, so a name in ``config.json`` cannot inject HTML, Markdown or YAML.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import html
import json
import math
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, IntegrityError, ModelNotFoundError, StorageError
from ..fileio import fsync_dir, load_json, sha256_bytes, write_durable
from ..models import ModelSpec, check_name
from ..weights import ROLES, TensorInfo, decode_weights, parse_header, spec_from_metadata
from .loading import check_fit
from .manifest import Manifest, table_of
from .names import check_filename
from .scores import HEADLINE
from .store import ModelRecord, Registry

__all__ = ["CONFIG", "EXPORT_FORMAT", "FORMATS", "GENERATOR_FORMATS", "LICENSE_UNSTATED", "MODEL_FILE",
           "check_destination", "check_license", "export_body", "export_model", "export_source", "front_matter",
           "import_model", "license_line", "model_card", "staged_export", "stated_license"]

EXPORT_FORMAT = "ganzoo.export/1"
# What `ganzoo models export --format` writes: this module's folder, or a generator that runs without ganzoo.
FORMATS = ("ganzoo", "onnx", "torchscript")
GENERATOR_FORMATS = {"onnx": "ganzoo.onnx/1", "torchscript": "ganzoo.torchscript/1"}  # config.json's format of each
LICENSE_UNSTATED = "other"  # the front matter's license when none was stated: never a guess for the owner's weights
_LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+_-]{0,63}$")
CONFIG = "config.json"
MODEL_FILE = "model.safetensors"
SAMPLES = "samples.png"
README = "README.md"
MAX_CONFIG_BYTES = 16 << 20  # a config.json of an export holds a manifest: kilobytes
_CHUNK = 1 << 20
# Open without following a final symlink and without blocking on a FIFO (where the platform has the flags).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _registry(registry: Registry | str | os.PathLike[str] | None) -> Registry:
    return registry if isinstance(registry, Registry) else Registry(registry)


# -- export -----------------------------------------------------------------------------------------


def export_model(ref: str, folder: str | os.PathLike[str], *,
                 registry: Registry | str | os.PathLike[str] | None = None, license: str | None = None) -> Path:
    """Write the version ``ref`` resolves to into ``folder`` (new or empty); returns the folder.

    ``license``: a Hugging Face license identifier (``mit``, ``cc-by-4.0``, ...) for the model card and
    ``config.json``; by default the one the version records, else none is stated (``other``).
    """
    license = check_license(license) if license is not None else None
    reg = _registry(registry)
    record = reg.resolve(ref)
    manifest = reg.read_manifest(record)
    manifest.spec  # noqa: B018 - a version whose spec is unusable is refused before anything is written
    dest = check_destination(folder)
    stored = manifest.files
    ema = "generator_ema.safetensors" in stored
    layout = [(MODEL_FILE, "generator_ema" if ema else "generator")]
    if ema:
        layout.append(("generator.safetensors", "generator"))
    if "discriminator.safetensors" in stored:
        layout.append(("discriminator.safetensors", "discriminator"))

    with staged_export(dest, folder, record.ref) as staging:
        files: dict[str, dict[str, Any]] = {}

        def put(filename: str, data: bytes, role: str | None = None) -> None:
            write_durable(staging / filename, data)
            files[filename] = {"sha256": sha256_bytes(data), "size": len(data), **({"role": role} if role else {})}

        for filename, role in layout:
            put(filename, reg.read_verified(record, f"{role}.safetensors")[1], role)  # checked bytes, copied as-is
        put(SAMPLES, _samples(reg, record, stored))
        body = export_body(manifest.body, license)
        put(README, model_card(record, body, files).encode())
        config = {"format": EXPORT_FORMAT, "source": export_source(record, manifest), **body, "files": files}
        write_durable(staging / CONFIG, (json.dumps(config, indent=2) + "\n").encode())
    return dest


def export_body(body: dict[str, Any], license: str | None) -> dict[str, Any]:
    """The manifest's publisher fields for an export: without ``source`` (it moves), with ``license`` when given."""
    out = {k: v for k, v in body.items() if k != "source"}
    if license is not None:
        out["license"] = license
    return out


def export_source(record: ModelRecord, manifest: Manifest) -> dict[str, Any]:
    """Where an export came from: the version, its creation time and libraries, and any earlier source."""
    source: dict[str, Any] = {"ref": record.ref, "name": manifest.name, "version": manifest.version,
                              "created": manifest.created, "versions": manifest.versions}
    if manifest.source is not None:
        source["imported_from"] = manifest.source  # this version was itself imported
    return source


def check_destination(folder: str | os.PathLike[str]) -> Path:
    """``folder`` as a Path when an export may be written there: it does not exist, or is an empty folder."""
    dest = Path(folder)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"{os.fspath(folder)} already exists and is not an empty folder; export into a new folder")
    return dest


@contextlib.contextmanager
def staged_export(dest: Path, folder: str | os.PathLike[str], ref: str) -> Iterator[Path]:
    """A fresh folder beside ``dest`` to write an export into; renamed to ``dest`` when the block succeeds.

    The folder appears complete or not at all: on any failure the staging folder is removed,
    and a file-system error becomes a StorageError saying that nothing was written.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.export-{secrets.token_hex(6)}"
        staging.mkdir()
    except OSError as exc:
        raise StorageError(f"could not create {os.fspath(folder)}: {exc.strerror or exc}") from exc
    try:
        yield staging
        fsync_dir(staging)
        check_destination(folder)  # still new or empty after the (possibly long) export
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(staging, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        raise StorageError(f"could not export {ref} to {os.fspath(folder)}: {exc.strerror or exc}; "
                           "nothing was written") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _samples(reg: Registry, record: ModelRecord, stored: dict[str, Any]) -> bytes:
    if SAMPLES in stored:
        return reg.read_verified(record, SAMPLES)[1]
    from ..rendering import grid_columns, grid_size, samples_png
    from ..sampling import generate
    from .loading import load_generator

    g = load_generator(record.ref, registry=reg)
    return samples_png(generate(g, grid_size(g.num_classes), seed=0), nrow=grid_columns(g.num_classes))


def model_card(record: ModelRecord, manifest: dict[str, Any], files: dict[str, dict[str, Any]]) -> str:
    """The README.md of an exported model: front matter, then what it is, how it was made, how it scores."""
    from ..catalog import get_catalog

    spec, dataset, training = (table_of(manifest, key) or {} for key in ("spec", "dataset", "training"))
    arch_name = str(manifest.get("architecture", "?"))
    found = get_catalog().architectures.get(arch_name)
    arch = found.value if found is not None else None
    lines = [*front_matter(record, manifest, library="ganzoo", tags=("pytorch", "safetensors")), ""]
    lines += [f"# {_md(record.name)} (version {_md(record.version)})", ""]
    lines.append(f"A {_md(arch_name)} generator trained with ganzoo on {_md(dataset.get('name', '?'))} "
                 f"for {_md(manifest.get('steps', '?'))} steps.")
    lines += ["", license_line(manifest)]
    lines += ["", "![64 samples (seed 0)](samples.png)", "", "## Architecture", ""]
    if arch is not None:
        if arch.description:
            lines.append(_md(f"{arch.description}.".replace("..", ".")))
        if arch.paper:
            lines.append(_md(f"Paper: {arch.paper}.".replace("..", ".")))
        lines.append("")
    lines += _table(["field", "value"], [
        ["architecture", arch_name], ["plugin", manifest.get("plugin")],
        ["data shape", "x".join(str(s) for s in spec.get("data_shape", []))],
        ["classes", spec.get("num_classes", 0)],
        ["generator", json.dumps(spec.get("generator_kwargs", {}), sort_keys=True)],
        ["discriminator", json.dumps(spec.get("discriminator_kwargs", {}), sort_keys=True)]])
    lines += ["", "## Dataset", ""]
    lines += _table(["field", "value"], [[k, v] for k, v in dataset.items()])
    lines += ["", "## Training", ""]
    lines += _table(["option", "value"], [[k, v] for k, v in training.items()])
    if manifest.get("seconds") is not None:
        lines += ["", f"Trained in {_md(manifest['seconds'])} s."]
    lines += ["", "## Metrics", ""]
    lines += _metrics(manifest)
    lines += ["", "## Use", "",
              f"Loading these files needs ganzoo and {_plugin_needed(manifest.get('plugin'), arch_name)}: "
              "the weights are plain safetensors, which any safetensors reader opens as tensors, but the "
              "network they belong to is built by the plugin. With both installed, in this folder:", "",
              "```bash",
              "ganzoo sample model.safetensors --out samples.png   # the file loads alone",
              "ganzoo models import .                            # or store it in a local registry", "```", "",
              "```python", "import ganzoo", "", 'g = ganzoo.load("model.safetensors")',
              "x = ganzoo.generate(g, 64, seed=0)                   # samples in [-1, 1]", "```", "",
              "To run the generator without ganzoo, export it as one file instead: "
              "`ganzoo models export REF DIR --format onnx` writes `generator.onnx`, which needs only onnxruntime; "
              "`--format torchscript` writes `generator.pt`, which needs only PyTorch. Each comes with a README.md "
              "that gives its inputs and outputs.", "",
              "## Files", ""]
    lines += _table(["file", "role", "bytes", "sha256"],
                    [[name, f.get("role", ""), f["size"], f["sha256"]] for name, f in files.items()])
    lines += ["", "`config.json` holds the full manifest and these hashes; `ganzoo models import` checks them."]
    return "\n".join(lines) + "\n"


def check_license(value: object) -> str:
    """``value`` as a Hugging Face license identifier (``mit``, ``apache-2.0``, ``other``, ...), in lower case."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or not _LICENSE.match(text):
        raise ConfigError(f"invalid license {value!r}: give a license identifier as the Hugging Face Hub lists them, "
                          "such as mit, apache-2.0, cc-by-4.0 or other (1-64 characters from a-z, 0-9, '.', '+', "
                          "'-', '_')")
    return text


def stated_license(manifest: dict[str, Any]) -> str | None:
    """The license a version records (``license`` in its manifest), when it is a usable identifier."""
    try:
        return check_license(manifest["license"])
    except (KeyError, ConfigError):
        return None


def license_line(manifest: dict[str, Any]) -> str:
    """The model card's sentence about the license: the stated one, or that none was stated."""
    found = stated_license(manifest)
    if found is not None:
        return f"License: {_md(found)}."
    return (f"License: not stated (the front matter says `{LICENSE_UNSTATED}`). The weights are their owner's; "
            "export with `--license ID` to state one.")


def front_matter(record: ModelRecord, manifest: dict[str, Any], *, library: str | None,
                 tags: Sequence[str] = ()) -> list[str]:
    """The YAML front matter of a model card (Hugging Face's fields), between ``---`` lines.

    ``license``, ``datasets``, ``tags`` and a ``model-index`` holding the stored evaluations
    (``metrics.<set>`` of the manifest: one result per set, each finite number a metric).
    Every value from the manifest is one double-quoted scalar with ``<``, ``>`` and ``&``
    written as escapes: it cannot end the front matter, add a key, or carry markup.
    """
    spec, dataset, training = (table_of(manifest, key) or {} for key in ("spec", "dataset", "training"))
    image = len(spec.get("data_shape") or []) == 3
    conditional = bool(spec.get("num_classes"))
    arch, loss = str(manifest.get("architecture", "")), str(training.get("loss", "")).split(":")[0]
    found = ["ganzoo", "gan", arch, loss, "conditional" if conditional else "unconditional",
             *(["image-generation"] if image else []), *tags]
    lines = ["---", *([f"library_name: {library}"] if library else []),
             f"license: {_yaml_text(stated_license(manifest) or LICENSE_UNSTATED)}"]
    if dataset.get("name") is not None:
        lines += ["datasets:", f"- {_yaml_text(dataset['name'])}"]
    lines += ["tags:", *(f"- {_yaml_text(t)}" for t in dict.fromkeys(t for t in found if _is_name(t)))]
    if image and not conditional:
        lines.append("pipeline_tag: unconditional-image-generation")
    lines += _model_index(record.name, manifest, str(dataset.get("name", "?")), image, conditional)
    return [*lines, "---"]


def _model_index(name: str, manifest: dict[str, Any], dataset: str, image: bool, conditional: bool) -> list[str]:
    """Hugging Face's ``model-index``: one result per stored metric set, its scores as metrics.

    A set ``ganzoo models`` knows gives its headline scores (``scores.HEADLINE``: no sample
    counts or other settings of the protocol); any other set gives every finite number.
    """
    results: list[tuple[str, list[tuple[str, int | float]]]] = []
    metrics = manifest.get("metrics")
    for set_name, values in (metrics.items() if isinstance(metrics, dict) else ()):
        if isinstance(values, dict):
            headline = HEADLINE.get(str(set_name).removesuffix("-test"))
            numbers = [(str(k), v) for k, v in values.items()
                       if k != "protocol" and _is_finite(v) and (headline is None or k in headline)]
            if numbers:
                results.append((str(set_name), numbers))
    if not results:
        return []
    if image:
        task = ("image-generation", "Class-conditional image generation") if conditional else \
            ("unconditional-image-generation", "Unconditional image generation")
    else:
        task = ("other", "Conditional sample generation" if conditional else "Sample generation")
    lines = ["model-index:", f"- name: {_yaml_text(name)}", "  results:"]
    for set_name, numbers in results:
        lines += ["  - task:", f"      type: {task[0]}", f"      name: {task[1]}",
                  "    dataset:", f"      name: {_yaml_text(dataset)}", f"      type: {_yaml_text(dataset)}",
                  f"      split: {'test' if set_name.endswith('-test') else 'train'}", "    metrics:"]
        for key, value in numbers:
            lines += [f"    - type: {_yaml_text(key)}", f"      value: {_yaml_number(value)}",
                      f"      name: {_yaml_text(f'{set_name} {key}')}"]
    return lines


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# Inside a double-quoted YAML scalar these read back as themselves, yet no raw markup reaches the file.
_YAML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _yaml_text(value: Any) -> str:
    """Any value as one double-quoted YAML scalar on one line (JSON's string syntax, ASCII, markup escaped)."""
    return json.dumps(" ".join(str(value).split()), ensure_ascii=True).translate(_YAML_ESCAPES)


def _yaml_number(value: float) -> str:
    """A finite number as YAML reads it back: a float always has a decimal point (``1.0e-05``, not ``1e-05``)."""
    if isinstance(value, int):
        return str(value)
    mantissa, e, exponent = repr(float(value)).partition("e")
    return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else f"{mantissa}{e}{exponent}"


def _plugin_needed(plugin: Any, arch: str) -> str:
    """Which plugin builds ``arch``, and where it comes from, as card text."""
    from ..catalog import get_catalog

    info = next((p for p in get_catalog().plugins if p.name == plugin), None) if isinstance(plugin, str) else None
    if info is not None and info.distribution == "ganzoo":
        return f"the plugin that builds the {_md(arch)} architecture ({_md(plugin)}, built into ganzoo)"
    if info is not None and info.distribution:
        return (f"the plugin that builds the {_md(arch)} architecture ({_md(plugin)}, from the Python package "
                f"{_md(info.distribution)}: pip install {_md(info.distribution)})")
    return (f"the plugin that provides the {_md(arch)} architecture ({_md(plugin)}, not installed where this "
            "card was written)")


def _metrics(manifest: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    metrics = manifest.get("metrics")
    if isinstance(metrics, dict):
        for name, results in metrics.items():
            if not isinstance(results, dict):
                continue
            protocol = results.get("protocol")
            lines += [f"### {_md(name)}", ""]
            lines += _table(["metric", "value"], [[k, v] for k, v in results.items() if k != "protocol"])
            if isinstance(protocol, dict):
                lines += ["", "Protocol:", ""]
                lines += _table(["field", "value"], [[k, v] for k, v in protocol.items()])
            lines.append("")
    evaluations = manifest.get("evaluations")
    if isinstance(evaluations, list) and evaluations and isinstance(evaluations[-1], dict):
        last = evaluations[-1]
        protocols = manifest.get("evaluation_protocol") or {}
        for name, results in last.items():
            if name == "step" or not isinstance(results, dict):
                continue
            lines += [f"### {_md(name)}, during training (step {_md(last.get('step'))})", ""]
            lines += _table(["metric", "value"], [[k, v] for k, v in results.items()])
            if isinstance(protocols.get(name), dict):
                lines += ["", "Protocol:", ""]
                lines += _table(["field", "value"], [[k, v] for k, v in protocols[name].items()])
            lines.append("")
    if not lines:
        lines = ["Not evaluated yet (`ganzoo eval REF` measures it and records the protocol).", ""]
    return lines


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_cell(c) for c in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return _md(f"{v:.4g}")
    if isinstance(v, (dict, list)):
        return _md(json.dumps(v, sort_keys=True))
    return _md("" if v is None else v)


# Characters that would make a link, an image, code, emphasis or a table cell out of plain text.
_MD_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*[]|"})


def _md(value: Any) -> str:
    """Any value as inert text for the model card, on one line: the one escaping of everything interpolated.

    HTML is escaped (``<script>`` shows as text), and the Markdown characters that make links,
    images, code spans, emphasis or table cells are backslashed.
    """
    text = " ".join(str(value).split())
    return html.escape(text, quote=False).translate(_MD_ESCAPES)


def _is_name(value: str) -> bool:
    try:
        check_name("architecture", value)
    except ConfigError:
        return False
    return True


# -- import -----------------------------------------------------------------------------------------


def import_model(folder: str | os.PathLike[str], *, name: str | None = None,
                 registry: Registry | str | os.PathLike[str] | None = None,
                 aliases: Iterable[str] = ("latest",)) -> ModelRecord:
    """Store an exported folder as a new version (of ``name``, default the exported name)."""
    src = Path(folder)
    config = _read_config(src)
    files = config.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise IntegrityError(f"{src / CONFIG} lists no {MODEL_FILE}; it is not a ganzoo export")
    blobs = {filename: _verified(src, filename, entry) for filename, entry in files.items()}

    try:
        spec = ModelSpec.from_dict(config["spec"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise IntegrityError(f"{src / CONFIG} has no usable 'spec': {exc}") from exc
    headers: dict[str, tuple[str | os.PathLike[str], dict[str, TensorInfo]]] = {}
    role_files: dict[str, str] = {}
    for filename, entry in files.items():
        role = entry.get("role")
        if role is None:
            continue
        if role not in ROLES or role in role_files:
            raise IntegrityError(f"{src / CONFIG}: file {filename!r} has role {role!r}; expected one of "
                                 f"{', '.join(ROLES)}, each at most once")
        meta, tensors = parse_header(blobs[filename], src / filename)
        if spec_from_metadata(meta, src / filename) != spec:
            raise IntegrityError(f"{src / filename}: the spec in its header differs from {CONFIG}'s")
        headers[role] = (src / filename, tensors)
        role_files[role] = filename
    if "generator" not in role_files:
        raise IntegrityError(f"{src / CONFIG} lists no generator weights (role 'generator')")
    check_fit(spec, src / CONFIG, headers)  # every tensor's dtype and shape, before any of them is decoded
    weights: dict[str, dict[str, torch.Tensor]] = {
        role: decode_weights(blobs[filename], src / filename)[1] for role, filename in role_files.items()}

    found = config.get("source")
    source: dict[str, Any] = found if isinstance(found, dict) else {}
    if name is None:
        name = source.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{src / CONFIG} records no model name; pass --name")
    body = {k: v for k, v in config.items() if k not in ("format", "files")}
    extras = {SAMPLES: blobs[SAMPLES]} if SAMPLES in blobs else None
    return _registry(registry).publish(name, weights, body, extra_files=extras, aliases=aliases)


def _read_config(src: Path) -> dict[str, Any]:
    path = src / CONFIG
    if not src.is_dir():
        raise ModelNotFoundError(f"{os.fspath(src)} is not a folder; give the folder `ganzoo models export` wrote")
    try:
        raw = _read_regular(path, limit=MAX_CONFIG_BYTES)[0]
    except FileNotFoundError as exc:
        raise ConfigError(f"{os.fspath(src)} is not an exported model: it has no {CONFIG}. Give a folder written "
                          "by `ganzoo models export`") from exc
    config = load_json(raw, str(path), IntegrityError)
    if not isinstance(config, dict) or config.get("format") != EXPORT_FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        kind = next((k for k, v in GENERATOR_FORMATS.items() if v == found), None)
        if kind is not None:
            raise ConfigError(f"{os.fspath(src)} holds the generator alone, exported with --format {kind}: it runs "
                              "without ganzoo but cannot be imported. Import a folder exported with --format ganzoo")
        raise IntegrityError(f"{path} has format {found!r}, expected {EXPORT_FORMAT!r}: it is not a ganzoo export")
    return config


def _verified(src: Path, filename: str, entry: Any) -> bytes:
    """A listed file's bytes, after its size and sha256 matched config.json (names cannot leave the folder)."""
    check_filename(filename)
    size = entry.get("size") if isinstance(entry, dict) else None
    digest = entry.get("sha256") if isinstance(entry, dict) else None
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0 and isinstance(digest, str)
            and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise IntegrityError(f"{src / CONFIG}: the entry for {filename!r} needs a sha256 (64 hex digits) and a size "
                             f"(bytes), got {_shown(entry)}; it is not a ganzoo export")
    path = src / filename
    try:
        data, found = _read_regular(path, size=size)
    except FileNotFoundError as exc:
        raise IntegrityError(f"{path} is listed in {CONFIG} but missing; nothing was imported") from exc
    if found != digest:
        raise IntegrityError(f"{path} was changed after export: {CONFIG} records sha256 {digest} "
                             f"({size} bytes), the file has {found} ({len(data)} bytes); nothing was imported")
    return data


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _read_regular(path: Path, *, size: int | None = None, limit: int | None = None) -> tuple[bytes, str]:
    """``(bytes, sha256)`` of ``path``, which must be a regular file of ``size`` bytes (or at most ``limit``).

    Nothing else is read: a symbolic link, FIFO, device or folder is refused when it is opened
    (without blocking), and a size that does not fit is refused before the first byte is read.
    The bytes are read and hashed in chunks, exactly as many as the file had when opened.
    FileNotFoundError passes through; every other problem is an IntegrityError.
    """
    if not hasattr(os, "O_NOFOLLOW") and path.is_symlink():
        raise _link(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise _link(path) from None
        raise IntegrityError(f"cannot read {path}: {exc.strerror or exc}; nothing was imported") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket or other")
            raise IntegrityError(f"{path} is not a regular file (it is {kind}); an exported folder holds plain "
                                 "files only: nothing was imported")
        if size is not None and st.st_size != size:
            raise IntegrityError(f"{path} was changed after export: {CONFIG} records {size} bytes, the file has "
                                 f"{st.st_size} bytes; nothing was imported (export the model again)")
        if limit is not None and st.st_size > limit:
            raise IntegrityError(f"{path} is {st.st_size} bytes; a {CONFIG} of an export is at most {limit} bytes "
                                 f"({limit >> 20} MiB): it is not a ganzoo export")
        digest, chunks, left = hashlib.sha256(), [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            chunks.append(chunk)
            left -= len(chunk)
        if left or os.read(fd, 1):
            raise IntegrityError(f"{path} changed size while it was read; nothing was imported (import it again "
                                 "when nothing writes to the folder)")
    except OSError as exc:
        raise IntegrityError(f"cannot read {path}: {exc.strerror or exc}; nothing was imported") from exc
    finally:
        os.close(fd)
    return b"".join(chunks), digest.hexdigest()


def _link(path: Path) -> IntegrityError:
    return IntegrityError(f"{path} is a symbolic link; an exported folder holds plain files only: copy the file "
                          "itself into the folder (nothing was imported)")
