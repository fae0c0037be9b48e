"""A stored generator as one file that runs without ganzoo: ONNX (onnxruntime) or TorchScript (PyTorch).

``export_generator(ref, folder, format="onnx")`` writes::

    generator.onnx | generator.pt   the generator as ``ganzoo sample`` uses it: the EMA weights when
                                    stored, in eval mode (BatchNorm with its running statistics)
    README.md                       how to load and call it: input names, dtypes and shapes, the
                                    latent distribution, the label range, the output's range and layout
    config.json                     the version's manifest, where it came from, the same interface as
                                    data, and the sha256 and size of the other files

The inputs are the latent ``z`` (float32, ``(N, latent_dim)``) and, for a conditional model,
``label`` (int64, ``(N,)``); the output ``samples`` is float32 ``(N, *data_shape)``. ``N`` is
free. Before the folder appears, the written generator is run at batch sizes other than the
one it was traced or exported with and compared with ganzoo's own output, so a network that
does not export faithfully is refused instead of written. ONNX needs the ``onnx`` extra
(``onnx``, ``onnxscript`` for the exporter, ``onnxruntime`` for that check).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..fileio import sha256_bytes, write_durable
from ..models import Generator
from .card import check_license, front_matter, license_line, md, md_table
from .loading import load_generator
from .manifest import table_of
from .store import ModelRecord, Registry
from .transfer import CONFIG, GENERATOR_FORMATS, README, check_destination, export_body, export_source, staged_export

__all__ = ["FILES", "ONNX_HINT", "ONNX_OPSET", "OUTPUT", "export_generator"]

FILES = {"onnx": "generator.onnx", "torchscript": "generator.pt"}
ONNX_OPSET = 18
ONNX_HINT = "pip install 'ganzoo[onnx]'"
OUTPUT = "samples"
_CHECK_BATCHES = (1, 3)  # the checks run at batch sizes other than the example's (2)
_TOLERANCE = 1e-3  # largest difference allowed, relative to the output's scale (at least 1)


class _Unconditional(nn.Module):
    """``z -> samples`` in float32: the graph that is exported."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, None).float()


class _Conditional(nn.Module):
    """``(z, label) -> samples`` in float32: the graph that is exported."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.generator(z, label).float()


def export_generator(ref: str, folder: str | os.PathLike[str], *, format: str = "onnx",
                     registry: Registry | str | os.PathLike[str] | None = None,
                     license: str | None = None) -> Path:
    """Write the generator of the version ``ref`` resolves to as ONNX or TorchScript into ``folder``.

    ``folder`` must be new or empty. ``license`` is stated as in :func:`~ganzoo.registry.export_model`.
    Returns the folder.
    """
    if format not in FILES:
        raise ConfigError(f"unknown generator format {format!r}; use one of {', '.join(FILES)} "
                          "(export_model writes the ganzoo folder)")
    runtime = _onnx_runtime() if format == "onnx" else None  # a missing extra is refused before any work
    license = check_license(license) if license is not None else None
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    record = reg.resolve(ref)
    manifest = reg.read_manifest(record)
    manifest.spec  # noqa: B018 - a version whose spec is unusable is refused before anything is written
    dest = check_destination(folder)
    g = load_generator(record.ref, registry=reg)  # what `ganzoo sample` draws from: EMA weights when stored
    ema = "generator_ema.safetensors" in manifest.files
    conditional = g.num_classes > 0
    module = (_Conditional(g) if conditional else _Unconditional(g)).eval()
    names = ["z", "label"] if conditional else ["z"]
    filename = FILES[format]

    with staged_export(dest, folder, record.ref) as staging:
        files: dict[str, dict[str, Any]] = {}

        def put(name: str, data: bytes) -> None:
            write_durable(staging / name, data)
            files[name] = {"sha256": sha256_bytes(data), "size": len(data)}

        if format == "onnx":
            data = _onnx(module, g, names, staging / f".{filename}.part")
            _check(g, lambda *args: _run_onnx(runtime, data, names, args), "ONNX file")
        else:
            traced, data = _torchscript(module, g)
            _check(g, lambda *args: traced(*args), "TorchScript module")
        put(filename, data)
        body = export_body(manifest.body, license)
        interface = _interface(g, format, names, ema)
        put(README, _readme(record, body, interface, files).encode())
        config = {"format": GENERATOR_FORMATS[format], "source": export_source(record, manifest), **body,
                  "interface": interface, "files": files}
        write_durable(staging / CONFIG, (json.dumps(config, indent=2) + "\n").encode())
    return dest


# -- writing and checking -----------------------------------------------------------------------------


def _onnx_runtime() -> Any:
    """onnxruntime, after checking that the ONNX exporter's packages import too; ConfigError naming the extra."""
    missing = []
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ConfigError(f"an ONNX export needs the optional extra onnx ({', '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not installed): {ONNX_HINT}")
    return importlib.import_module("onnxruntime")


def _inputs(g: Generator, n: int) -> tuple[torch.Tensor, ...]:
    """``n`` fixed latents (and labels cycling through the classes), the same on every export."""
    z = g.sample_latent(n, generator=torch.Generator().manual_seed(n))
    return (z, torch.arange(n) % g.num_classes) if g.num_classes else (z,)


def _onnx(module: nn.Module, g: Generator, names: list[str], scratch: Path) -> bytes:
    """The ONNX bytes of ``module`` (one file, weights inside), with a free batch dimension."""
    batch = torch.export.Dim("batch")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes; what counts is checked on the result
            torch.onnx.export(module, _inputs(g, 2), scratch, input_names=names, output_names=[OUTPUT],
                              opset_version=ONNX_OPSET, dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes=tuple({0: batch} for _ in names))
        return scratch.read_bytes()
    except OSError:
        raise
    except Exception as exc:  # the exporter raises many kinds: each is this generator not fitting ONNX
        raise ConfigError(f"the {_arch(g)} generator cannot be exported to ONNX: {_first_line(exc)}; "
                          "export it with --format torchscript or --format ganzoo instead") from exc
    finally:
        scratch.unlink(missing_ok=True)


def _run_onnx(runtime: Any, data: bytes, names: list[str], args: tuple[torch.Tensor, ...]) -> torch.Tensor:
    options = runtime.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = runtime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    out = session.run([OUTPUT], {name: a.numpy() for name, a in zip(names, args, strict=True)})[0]
    return torch.from_numpy(np.asarray(out))


def _torchscript(module: nn.Module, g: Generator) -> tuple[Any, bytes]:
    """The traced module and the bytes ``torch.jit.save`` writes for it."""
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes and torch.jit's deprecation; the result is checked
            traced = torch.jit.trace(module, _inputs(g, 2), check_trace=False)
            buffer = io.BytesIO()
            torch.jit.save(traced, buffer)
    except Exception as exc:  # tracing raises many kinds: each is this generator not fitting TorchScript
        raise ConfigError(f"the {_arch(g)} generator cannot be traced to TorchScript: {_first_line(exc)}; "
                          "export it with --format onnx or --format ganzoo instead") from exc
    return traced, buffer.getvalue()


@torch.no_grad()
def _check(g: Generator, run: Any, what: str) -> None:
    """Refuse an export whose output differs from the generator's at batch sizes it was not made with."""
    for n in _CHECK_BATCHES:
        args = _inputs(g, n)
        want = g(args[0], args[1] if len(args) == 2 else None).float()
        try:
            got = run(*args)
        except Exception as exc:  # a runtime's own error: the graph does not take this batch size
            raise ConfigError(f"the exported {what} of the {_arch(g)} generator fails on a batch of {n}: "
                              f"{_first_line(exc)}; export it with --format ganzoo instead") from exc
        scale = max(1.0, float(want.abs().max()))
        if tuple(got.shape) != tuple(want.shape) or not bool(((got - want).abs() <= _TOLERANCE * scale).all()):
            found = f"shape {list(got.shape)}" if tuple(got.shape) != tuple(want.shape) else \
                f"largest difference {float((got - want).abs().max()):.3g}"
            raise ConfigError(f"the exported {what} does not reproduce the {_arch(g)} generator on a batch of {n} "
                              f"({found}; expected shape {list(want.shape)}); export it with --format ganzoo instead")


def _arch(g: Generator) -> str:
    return g.ganzoo_spec.architecture if g.ganzoo_spec is not None else type(g).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# -- describing it -------------------------------------------------------------------------------------


def _interface(g: Generator, format: str, names: list[str], ema: bool) -> dict[str, Any]:
    """Inputs, output and weights of the written generator, as data (config.json) for the README."""
    shape = list(g.data_shape)
    standard = type(g).sample_latent is Generator.sample_latent
    inputs: list[dict[str, Any]] = [{
        "name": "z", "dtype": "float32", "shape": ["N", g.latent_dim],
        "distribution": "standard normal" if standard else f"{type(g).__name__}.sample_latent"}]
    if g.num_classes:
        inputs.append({"name": "label", "dtype": "int64", "shape": ["N"], "range": [0, g.num_classes - 1]})
    kind = "images" if len(shape) == 3 else "vectors"
    output: dict[str, Any] = {"name": OUTPUT, "dtype": "float32", "shape": ["N", *shape], "kind": kind}
    if kind == "images":
        output.update(layout="NCHW", range=[-1, 1])
    return {"file": FILES[format], "format": format, **({"opset": ONNX_OPSET} if format == "onnx" else {}),
            "inputs": inputs, "output": output, "weights": "generator_ema" if ema else "generator",
            "mode": "eval"}


def _readme(record: ModelRecord, manifest: dict[str, Any], interface: dict[str, Any],
            files: dict[str, dict[str, Any]]) -> str:
    """The README.md of a generator export: what it is, exactly how to call it, and its files."""
    onnx = interface["format"] == "onnx"
    dataset = table_of(manifest, "dataset") or {}
    z = interface["inputs"][0]
    label = interface["inputs"][1] if len(interface["inputs"]) > 1 else None
    out = interface["output"]
    latent, shape = z["shape"][1], out["shape"]
    standard = z["distribution"] == "standard normal"
    runs_with = "onnxruntime alone: neither ganzoo nor PyTorch is needed" if onnx else \
        "PyTorch alone (torch.jit.load): ganzoo is not needed"
    weights = ("the moving-average (EMA) weights, the ones `ganzoo sample` uses" if interface["weights"] ==
               "generator_ema" else "the trained weights (this version stores no moving average)")
    lines = [*front_matter(record, manifest, library="onnx" if onnx else None,
                           tags=("onnx",) if onnx else ("pytorch", "torchscript")), ""]
    lines += [f"# {md(record.name)} (version {md(record.version)}): the generator as "
              f"{'ONNX' if onnx else 'TorchScript'}", ""]
    lines += [f"The generator of the ganzoo model {md(record.ref)} ({md(manifest.get('architecture', '?'))}, "
              f"trained on {md(dataset.get('name', '?'))} for {md(manifest.get('steps', '?'))} steps), with "
              f"{weights}, in eval mode (BatchNorm layers use their running statistics). `{interface['file']}` "
              f"runs with {runs_with}." + (f" ONNX opset {ONNX_OPSET}." if onnx else ""), "", license_line(manifest)]

    z_text = ("latent vectors: every entry drawn independently from the standard normal distribution N(0, 1)"
              if standard else f"latent vectors, drawn as the plugin draws them ({md(z['distribution'])}), "
              "not from the standard normal")
    rows = [["z", "float32", _shape(z["shape"]), z_text]]
    if label is not None:
        low, high = label["range"]
        rows.append(["label", "int64", "[N]", f"the class of each sample, a whole number from {low} to {high}"])
    lines += ["", "## Inputs", "", *md_table(["name", "dtype", "shape", "what"], rows), "",
              "N, the batch size, is any number from 1 up; every row is one sample."]
    if out["kind"] == "images":
        what = (f"images, channels first (N, C, H, W) with C={shape[1]}, H={shape[2]}, W={shape[3]}; values in "
                "[-1, 1]: to 8-bit pixels, round((x + 1) * 127.5) and clip to 0..255")
    else:
        what = ("vectors in the coordinates of the training data (its preprocessing is in config.json under "
                "dataset.preprocessing)")
    lines += ["", "## Output", "", *md_table(["name", "dtype", "shape", "what"], [[OUTPUT, "float32", _shape(shape),
                                                                                  what]])]
    lines += ["", "## Use", "", "```python"]
    batch = 16
    draw = "" if standard else "  # draw it as the plugin does instead"
    if onnx:
        lines += ["import numpy as np", "import onnxruntime as ort", "",
                  f'session = ort.InferenceSession("{interface["file"]}", providers=["CPUExecutionProvider"])',
                  f"z = np.random.default_rng(0).standard_normal(({batch}, {latent})).astype(np.float32){draw}"]
        feed = '{"z": z}'
        if label is not None:
            lines.append(f"label = (np.arange({batch}) % {label['range'][1] + 1}).astype(np.int64)")
            feed = '{"z": z, "label": label}'
        lines.append(f'samples = session.run(["{OUTPUT}"], {feed})[0]  # {_shape([batch, *shape[1:]])}, float32')
    else:
        lines += ["import torch", "", f'generator = torch.jit.load("{interface["file"]}", map_location="cpu")',
                  f"z = torch.randn({batch}, {latent}, generator=torch.Generator().manual_seed(0)){draw}"]
        call = "generator(z)"
        if label is not None:
            lines.append(f"label = torch.arange({batch}) % {label['range'][1] + 1}")
            call = "generator(z, label)"
        lines += ["with torch.no_grad():", f"    samples = {call}  # {_shape([batch, *shape[1:]])}, float32"]
    lines += ["```", ""]
    if not onnx:
        lines += ["A TorchScript file holds a program that torch.jit.load runs (not a Python pickle); load one "
                  "only from a source you trust. It was traced on the CPU. Recent PyTorch releases deprecate "
                  "TorchScript (torch.jit.load warns so); `--format onnx` writes the same generator for onnxruntime.",
                  ""]
    lines += ["## Files", ""]
    lines += md_table(["file", "bytes", "sha256"], [[name, f["size"], f["sha256"]] for name, f in files.items()])
    lines += ["", "`config.json` holds the model's full manifest (architecture, dataset, training, metrics), where "
              "it came from, this interface as data, and these hashes."]
    return "\n".join(lines) + "\n"


def _shape(dims: list[Any]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"
