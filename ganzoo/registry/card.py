"""The model card of an exported model: the README.md that Hugging Face-style folders carry.

Front matter (license, datasets, tags, a ``model-index`` of the stored metrics), then what the
model is, how it was made, how it scores and how to use it. Every value that reaches the card
goes through :func:`md` (or the YAML quoting), so a name in a manifest cannot inject HTML,
Markdown or YAML.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..models import check_name
from .manifest import table_of
from .scores import HEADLINE
from .store import ModelRecord

__all__ = ["LICENSE_UNSTATED", "check_license", "front_matter", "license_line", "md", "md_table", "model_card",
           "stated_license"]

LICENSE_UNSTATED = "other"  # the front matter's license when none was stated: never a guess for the owner's weights
_LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+_-]{0,63}$")


def model_card(record: ModelRecord, manifest: dict[str, Any], files: dict[str, dict[str, Any]]) -> str:
    """The README.md of an exported model: front matter, then what it is, how it was made, how it scores."""
    from ..catalog import get_catalog

    spec, dataset, training = (table_of(manifest, key) or {} for key in ("spec", "dataset", "training"))
    arch_name = str(manifest.get("architecture", "?"))
    found = get_catalog().architectures.get(arch_name)
    arch = found.value if found is not None else None
    lines = [*front_matter(record, manifest, library="ganzoo", tags=("pytorch", "safetensors")), ""]
    lines += [f"# {md(record.name)} (version {md(record.version)})", ""]
    lines.append(f"A {md(arch_name)} generator trained with ganzoo on {md(dataset.get('name', '?'))} "
                 f"for {md(manifest.get('steps', '?'))} steps.")
    lines += ["", license_line(manifest)]
    lines += ["", "![64 samples (seed 0)](samples.png)", "", "## Architecture", ""]
    if arch is not None:
        if arch.description:
            lines.append(md(f"{arch.description}.".replace("..", ".")))
        if arch.paper:
            lines.append(md(f"Paper: {arch.paper}.".replace("..", ".")))
        lines.append("")
    lines += md_table(["field", "value"], [
        ["architecture", arch_name], ["plugin", manifest.get("plugin")],
        ["data shape", "x".join(str(s) for s in spec.get("data_shape", []))],
        ["classes", spec.get("num_classes", 0)],
        ["generator", json.dumps(spec.get("generator_kwargs", {}), sort_keys=True)],
        ["discriminator", json.dumps(spec.get("discriminator_kwargs", {}), sort_keys=True)]])
    lines += ["", "## Dataset", ""]
    lines += md_table(["field", "value"], [[k, v] for k, v in dataset.items()])
    lines += ["", "## Training", ""]
    lines += md_table(["option", "value"], [[k, v] for k, v in training.items()])
    if manifest.get("seconds") is not None:
        lines += ["", f"Trained in {md(manifest['seconds'])} s."]
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
    lines += md_table(["file", "role", "bytes", "sha256"],
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
        return f"License: {md(found)}."
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
        return f"the plugin that builds the {md(arch)} architecture ({md(plugin)}, built into ganzoo)"
    if info is not None and info.distribution:
        return (f"the plugin that builds the {md(arch)} architecture ({md(plugin)}, from the Python package "
                f"{md(info.distribution)}: pip install {md(info.distribution)})")
    return (f"the plugin that provides the {md(arch)} architecture ({md(plugin)}, not installed where this "
            "card was written)")


def _metrics(manifest: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    metrics = manifest.get("metrics")
    if isinstance(metrics, dict):
        for name, results in metrics.items():
            if not isinstance(results, dict):
                continue
            protocol = results.get("protocol")
            lines += [f"### {md(name)}", ""]
            lines += md_table(["metric", "value"], [[k, v] for k, v in results.items() if k != "protocol"])
            if isinstance(protocol, dict):
                lines += ["", "Protocol:", ""]
                lines += md_table(["field", "value"], [[k, v] for k, v in protocol.items()])
            lines.append("")
    evaluations = manifest.get("evaluations")
    if isinstance(evaluations, list) and evaluations and isinstance(evaluations[-1], dict):
        last = evaluations[-1]
        protocols = manifest.get("evaluation_protocol") or {}
        for name, results in last.items():
            if name == "step" or not isinstance(results, dict):
                continue
            lines += [f"### {md(name)}, during training (step {md(last.get('step'))})", ""]
            lines += md_table(["metric", "value"], [[k, v] for k, v in results.items()])
            if isinstance(protocols.get(name), dict):
                lines += ["", "Protocol:", ""]
                lines += md_table(["field", "value"], [[k, v] for k, v in protocols[name].items()])
            lines.append("")
    if not lines:
        lines = ["Not evaluated yet (`ganzoo eval REF` measures it and records the protocol).", ""]
    return lines


def md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_cell(c) for c in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return md(f"{v:.4g}")
    if isinstance(v, (dict, list)):
        return md(json.dumps(v, sort_keys=True))
    return md("" if v is None else v)


# Characters that would make a link, an image, code, emphasis or a table cell out of plain text.
_MD_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*[]|"})


def md(value: Any) -> str:
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
