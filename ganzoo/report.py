"""One self-contained HTML page about a training run, or several side by side (``ganzoo report RUN...``).

It reads what :class:`~ganzoo.training.runlog.RunLogger` wrote into each run folder and shows
the loss curves, mean D(x) and D(G(z)) against the 0.5 equilibrium line, every other number
the metric lines hold, the evaluations (one panel per metric, each on its own scale; a
``<metric>_std`` is drawn as error bars on its metric), the samples as training went on
(2-D data as scatter plots with axes and, for the built-in mixtures, the true modes), the
final metrics and the config as it was resolved (the loss, device and network actually used).

Several runs are drawn on the same axes, one colour per run, named in a legend. Charts are
matplotlib figures inlined as SVG (text kept as text); sample grids are inlined as base64
PNG. The file opens anywhere, offline, and can be mailed around alone. It has no scripts.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .charts import Series, line_chart, scatter_plot, square_box
from .errors import ConfigError
from .fileio import load_json, read_or_refuse, write_atomic
from .training.runfolder import CONFIG, METRICS, grid_steps, read_metrics
from .training.runs import RunInfo, read_run

__all__ = ["COMPARISON", "MAX_GRIDS", "REPORT", "write_report"]

REPORT = "report.html"  # in the run folder, for one run
COMPARISON = "compare.html"  # in the current folder, for several runs
MAX_GRIDS = 12  # sample grids shown per run; a longer run shows evenly spaced ones and the last
MAX_GRIDS_COMPARED = 6  # the same when several runs are compared
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # matplotlib's tab10; past ten runs the colours repeat with dashed lines
# Drawn in charts of their own (losses; D outputs) or not at all (seconds: the clock, not a metric).
OWN_CHARTS = ("d_loss", "g_loss", "d_real", "d_fake")
NOT_DRAWN = ("step", "seconds", "eval")


@dataclass
class _Run:
    folder: Path
    label: str  # the name in legends: the folder's name, or the path as given when two names clash
    colour: str
    dashes: bool
    config: dict[str, Any]
    records: list[dict[str, Any]]


@dataclass
class _Page:
    parts: list[str] = field(default_factory=list)
    charts: int = 0  # SVGs so far: each one's ids get their own prefix

    def prefix(self) -> str:
        self.charts += 1
        return f"c{self.charts}-"


def write_report(run_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of one run folder, or compare several; returns the path written.

    ``out`` defaults to ``<run>/report.html`` for one run and ``./compare.html`` for several.
    """
    folders = [Path(run_dir)] if isinstance(run_dir, (str, os.PathLike)) else [Path(p) for p in run_dir]
    if not folders:
        raise ConfigError("no run folder given: pass one or more folders written by `ganzoo train`")
    seen: dict[Path, Path] = {}
    for folder in folders:
        key = folder.resolve()
        if key in seen:
            raise ConfigError(f"the run folder {os.fspath(folder)} is given twice (as {os.fspath(seen[key])} "
                              f"and {os.fspath(folder)}); give each run once")
        seen[key] = folder
    runs = [_load(folder, i) for i, folder in enumerate(folders)]
    names = [r.folder.resolve().name for r in runs]
    for run, name in zip(runs, names, strict=True):
        run.label = name if names.count(name) == 1 else os.fspath(run.folder)
    page = render(runs)
    path = Path(out) if out is not None else folders[0] / REPORT if len(folders) == 1 else Path(COMPARISON)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, page.encode("utf-8"))
    return path


def _load(folder: Path, index: int) -> _Run:
    if not folder.is_dir():
        what = "it is a file" if folder.exists() else "no such folder"
        raise ConfigError(f"{os.fspath(folder)} is not a run folder: {what}. Pass a folder written "
                          "by `ganzoo train` (runs/<name>-<time> unless --run-dir was given)")
    if not (folder / METRICS).is_file() and not (folder / CONFIG).is_file():
        raise ConfigError(f"{os.fspath(folder)} is not a run folder: it has neither {METRICS} nor {CONFIG}. "
                          "Pass a folder written by `ganzoo train` (runs/<name>-<time> unless --run-dir was given)")
    return _Run(folder, folder.name, COLOURS[index % len(COLOURS)], index >= len(COLOURS),
                _read_config(folder / CONFIG), read_metrics(folder))


def render(runs: list[_Run]) -> str:
    """The HTML text of the report of ``runs`` (one or more)."""
    page = _Page()
    add = page.parts.append
    one = runs[0] if len(runs) == 1 else None
    if one is not None:
        title = f"ganzoo run {one.folder.resolve().name}"
        resolved = one.config.get("resolved") or {}
        info = _info(one)
        subtitle = " · ".join(str(x) for x in (one.config.get("architecture"), _dataset_name(one.config),
                                               resolved.get("loss"), info and f"{info.status} at step {info.step} "
                                                                              f"of {info.steps}") if x)
    else:
        title, subtitle = f"ganzoo runs compared: {len(runs)} runs", ", ".join(r.label for r in runs)
    add(f"<h1>{_e(title)}</h1>")
    if subtitle:
        add(f"<p class=sub>{_e(subtitle)}</p>")
    if one is None:
        add("<h2>Runs</h2>")
        add(_legend(runs))
    add("<h2>Training curves</h2>")
    if any(r.records for r in runs):
        _training_charts(page, runs)
    else:
        add("<p>No metric records yet: the run stopped before its first <code>--log-every</code> step.</p>")
    _evaluation_charts(page, runs)
    add("<h2>Samples from the fixed latent</h2>")
    _samples(page, runs)
    add("<h2>Final metrics</h2>")
    add(_final(runs))
    add("<h2>Config</h2>")
    add(_config(runs))
    body = "\n".join(page.parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }}
h1 {{ margin-bottom: 0; }} .sub {{ color: #666; margin-top: .2rem; }}
h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }}
img {{ max-width: 100%; }} .chart {{ margin: .5rem 0; }} .chart svg {{ display: block; width: 100%; height: auto; }}
.panels {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: .6rem 1rem; }}
.grids {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; }} figcaption {{ text-align: center; color: #555; font-size: 13px; }}
.grids img {{ width: 240px; image-rendering: pixelated; border: 1px solid #ddd; }}
.grids .scatter {{ width: 300px; }}
.swatch {{ display: inline-block; width: 1.6em; height: .7em; margin-right: .4em; vertical-align: middle; }}
.note {{ color: #555; font-size: 14px; }}
table {{ border-collapse: collapse; margin: .5rem 0 1rem; }}
td, th {{ border: 1px solid #ddd; padding: .2rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f5f5f5; }} pre {{ background: #f8f8f8; padding: .6rem; overflow-x: auto; }}
tr.differs td {{ background: #fff7e0; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


# -- sections ----------------------------------------------------------------------------------


def _legend(runs: list[_Run]) -> str:
    rows = []
    for r in runs:
        resolved = r.config.get("resolved") or {}
        info = _info(r)
        cells = [f'<span class="swatch" style="background: {r.colour}"></span>{_e(r.label)}',
                 *(_e(x) for x in (r.config.get("architecture", ""), _dataset_name(r.config) or "",
                                   resolved.get("loss", ""), f"{info.step}/{info.steps}" if info else "",
                                   info.status if info else "", os.fspath(r.folder)))]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("run", "architecture", "dataset", "loss", "steps", "status", "folder"))
    return f'<table class="legend"><tr>{head}</tr>{"".join(rows)}</table>'


def _info(run: _Run) -> RunInfo | None:
    """How the run stands (``ganzoo runs``); None for a folder without the config.json of ganzoo train."""
    try:
        return read_run(run.folder)
    except (ConfigError, OSError):
        return None


def _training_charts(page: _Page, runs: list[_Run]) -> None:
    if len(runs) == 1:
        r = runs[0]
        steps = [rec["step"] for rec in r.records]
        page.parts.append(_chart(page, "losses", "Discriminator and generator losses", "loss", [
            Series("D loss", COLOURS[0], steps, _col(r.records, "d_loss")),
            Series("G loss", COLOURS[1], steps, _col(r.records, "g_loss"))], wide=True))
        page.parts.append(_chart(page, "d-outputs", "Discriminator outputs", "D", [
            Series("mean D(x)", COLOURS[0], steps, _col(r.records, "d_real")),
            Series("mean D(G(z))", COLOURS[1], steps, _col(r.records, "d_fake"))], wide=True, equilibrium=True))
        panels = []
    else:
        panels = [_chart(page, key, title, "loss" if key.endswith("loss") else "D", _per_run(runs, key),
                         equilibrium=not key.endswith("loss"))
                  for key, title in (("d_loss", "D loss"), ("g_loss", "G loss"), ("d_real", "mean D(x)"),
                                     ("d_fake", "mean D(G(z))"))]
    others = _ordered(k for r in runs for rec in r.records for k, v in rec.items()
                      if k not in OWN_CHARTS and k not in NOT_DRAWN and _number(v))
    panels += [_chart(page, key, key, key, _per_run(runs, key)) for key in others]
    if panels:
        page.parts.append('<div class="panels">' + "\n".join(panels) + "</div>")


def _evaluation_charts(page: _Page, runs: list[_Run]) -> None:
    """Per metric set, one panel per metric (its own scale); ``*_std`` as error bars; constants in a note."""
    evaluated = [(r, [rec for rec in r.records if isinstance(rec.get("eval"), dict)]) for r in runs]
    sets = _ordered(name for _, recs in evaluated for rec in recs for name in rec["eval"] if name != "protocol")
    if not sets:
        return
    page.parts.append("<h2>Evaluation</h2>")
    for set_name in sets:
        rows = [(r, [(rec["step"], rec["eval"][set_name]) for rec in recs
                     if isinstance(rec["eval"].get(set_name), dict)]) for r, recs in evaluated]
        keys = _ordered(k for _, rs in rows for _, res in rs for k, v in res.items() if _number(v) or v is None)
        metrics = [k for k in keys if not k.endswith("_std")]
        points = sum(len(rs) for _, rs in rows)
        panels, constant, never, gaps = [], [], [], []
        for key in metrics:
            values = [res.get(key) for _, rs in rows for _, res in rs]
            finite = [v for v in values if _number(v) and math.isfinite(v)]
            if not finite:
                never.append(key)
                continue
            missing = [f"{r.label} " * (len(runs) > 1) + f"step {step}" for r, rs in rows for step, res in rs
                       if key in res and _finite(res[key]) is None]
            if missing:
                gaps.append(f"{key} ({', '.join(missing)})")
            if points > 1 and len(finite) == len(values) and len(set(finite)) == 1:
                constant.append(f"{key} {_fmt(finite[0])}")
                continue
            std = f"{key}_std" if f"{key}_std" in keys else None
            series = [Series(r.label if len(runs) > 1 else key, r.colour, [s for s, _ in rs],
                              [_finite(res.get(key)) for _, res in rs],
                              [_finite(res.get(std)) for _, res in rs] if std else None, r.dashes)
                      for r, rs in rows if rs]
            title = f"{key} ± {std}" if std else key
            panels.append(_chart(page, f"{set_name}.{key}", title, key, series, markers=True,
                                 integer=all(isinstance(v, int) for v in finite)))
        page.parts.append(f"<h3>{_e(set_name)}</h3>")
        if panels:
            page.parts.append('<div class="panels">' + "\n".join(panels) + "</div>")
        notes = []
        if constant:
            notes.append("The same at every evaluation: " + ", ".join(constant) + ".")
        if never:
            notes.append("Never finite (recorded as null, e.g. infinite): " + ", ".join(never) + ".")
        if gaps:
            notes.append("Not finite (recorded as null) at some evaluations, left out of the panel: "
                         + "; ".join(gaps) + ".")
        page.parts.extend(f'<p class="note">{_e(n)}</p>' for n in notes)


def _samples(page: _Page, runs: list[_Run]) -> None:
    limit = MAX_GRIDS if len(runs) == 1 else MAX_GRIDS_COMPARED
    picked = {id(r): _pick(grid_steps(r.folder), limit) for r in runs}
    points = {(id(r), step): p for r in runs for step, grid in picked[id(r)]
              if (p := _points(grid.with_suffix(".json"))) is not None}
    modes = {id(r): _modes(r.config) for r in runs if any(k[0] == id(r) for k in points)}
    box = square_box([xy for p in points.values() for xy in p] + [xy for m in modes.values() if m for xy in m])
    for r in runs:
        if len(runs) > 1:
            page.parts.append(f'<h3><span class="swatch" style="background: {r.colour}"></span>{_e(r.label)}</h3>')
        if not picked[id(r)]:
            page.parts.append("<p>No sample grids in this run folder.</p>")
            continue
        figures = []
        for step, grid in picked[id(r)]:
            xy = points.get((id(r), step))
            if xy is not None:
                svg = scatter_plot(xy, modes.get(id(r)), box, prefix=page.prefix())
                picture = f'<div class="scatter" role="img" aria-label="samples at step {step}">{svg}</div>'
            else:
                uri = "data:image/png;base64," + base64.b64encode(grid.read_bytes()).decode("ascii")
                picture = f'<img src="{uri}" alt="samples at step {step}">'
            figures.append(f"<figure>{picture}<figcaption>step {step}</figcaption></figure>")
        page.parts.append('<div class="grids">' + "\n".join(figures) + "</div>")


def _final(runs: list[_Run]) -> str:
    if not any(r.records for r in runs):
        return "<p>None recorded.</p>"
    lasts = [r.records[-1] if r.records else {} for r in runs]
    keys = _ordered(k for last in lasts for k in last if k != "eval")
    out = ["<p>Training metrics at the last record of each run.</p>" if len(runs) > 1 else
           f"<p>Training metrics at step {lasts[0]['step']} (the last record).</p>",
           _table(["metric", *_heads(runs)], [[k, *(_fmt(last.get(k)) for last in lasts)] for k in keys])]
    finals = [next((rec for rec in reversed(r.records) if isinstance(rec.get("eval"), dict)), None) for r in runs]
    if any(finals):
        sets = _ordered(name for f in finals if f for name, res in f["eval"].items()
                        if name != "protocol" and isinstance(res, dict))
        for name in sets:
            results = [f["eval"].get(name) if f and isinstance(f["eval"].get(name), dict) else {} for f in finals]
            at = ", ".join(f"step {f['step']}" for f in finals if f)
            out.append(f"<p>Evaluation <b>{_e(name)}</b> at {_e(at)}.</p>")
            metrics = _ordered(k for res in results for k in res)
            out.append(_table(["metric", *_heads(runs)], [[k, *(_result(res, k) for res in results)]
                                                          for k in metrics]))
        protocols = [f["eval"].get("protocol") if f else None for f in finals]
        if any(isinstance(p, dict) for p in protocols):
            fields = _ordered(k for p in protocols if isinstance(p, dict) for k in p)
            out.append("<p>Protocol of these numbers.</p>")
            out.append(_table(["field", *_heads(runs)], [[k, *(_fmt(p.get(k)) if isinstance(p, dict) else ""
                                                               for p in protocols)] for k in fields]))
    return "\n".join(out)


def _config(runs: list[_Run]) -> str:
    if not any(r.config for r in runs):
        return f"<p>No {CONFIG} in this run folder.</p>"
    tables = [dict(_config_rows(r.config)) for r in runs]
    keys = _ordered(k for t in tables for k in t)
    rows = [[k, *(t.get(k, "") for t in tables)] for k in keys]
    differs = [len(runs) > 1 and len({t.get(k, "") for t in tables}) > 1 for k in keys]
    note = ("<p>The values each run used: what was given, with the loss, device, network and image size "
            "resolved. Rows where the runs differ are marked.</p>" if len(runs) > 1 else
            "<p>The values the run used: what was given, with the loss, device, network and image size resolved.</p>")
    out = [note, _table(["option", *_heads(runs)], rows, differs)]
    for r in runs:
        resolved = r.config.get("resolved")
        if resolved:
            who = f" of {_e(r.label)}" if len(runs) > 1 else ""
            out.append(f"<details><summary>The resolved section{who} of {CONFIG}</summary>"
                       f"<pre>{_e(json.dumps(resolved, indent=2))}</pre></details>")
    return "\n".join(out)


def _config_rows(config: dict[str, Any]) -> list[tuple[str, str]]:
    """``(option, value as used)``: nulls and ``auto`` replaced by what the run resolved them to."""
    resolved: dict[str, Any] = config["resolved"] if isinstance(config.get("resolved"), dict) else {}
    spec: dict[str, Any] = resolved["spec"] if isinstance(resolved.get("spec"), dict) else {}
    data: dict[str, Any] = resolved["dataset"] if isinstance(resolved.get("dataset"), dict) else {}
    rows: list[tuple[str, str]] = []
    for key, value in config.items():
        if key in ("resolved", "logging"):
            continue
        shown = _plain(value)
        if key == "loss" and resolved.get("loss"):
            shown = str(resolved["loss"]) + (" (the architecture's default)" if value is None else "")
        elif key in ("device", "nan_check") and resolved.get(key):
            shown = str(resolved[key]) + (f" ({value})" if value != resolved[key] else "")
        elif key == "dataset" and data:
            shape = "x".join(str(n) for n in data.get("shape", []))
            shown = f"{value} ({data.get('size', '?')} samples of shape {shape}, {data.get('num_classes', 0)} classes)"
        elif key == "image_size" and value is None and isinstance(data.get("shape"), list):
            shape = data["shape"]
            shown = (f"{shape[-2]}x{shape[-1]} (the data's own size)" if len(shape) == 3
                     else f"none: the data are vectors of {'x'.join(map(str, shape))}")
        elif key == "model" and spec:
            given = f" (given: {_plain(value)})" if value else ""
            rows.append(("model: generator", _plain(spec.get("generator_kwargs", {})) + given))
            rows.append(("model: discriminator", _plain(spec.get("discriminator_kwargs", {}))))
            continue
        elif key == "data_dir" and value is None:
            shown = "the default data folder"
        rows.append((key, shown))
    logging = config.get("logging")
    if isinstance(logging, dict):
        rows.extend((f"logging: {k}", _plain(v)) for k, v in logging.items())
    return rows


# -- charts ----------------------------------------------------------------------------------------


def _chart(page: _Page, key: str, title: str, ylabel: str, series: list[Series], **style: bool) -> str:
    svg = line_chart(series, title=title, ylabel=ylabel, prefix=page.prefix(), **style)
    return f'<figure class="chart" data-chart="{_e(key)}">{svg}</figure>'


# -- helpers ---------------------------------------------------------------------------------------


def _per_run(runs: list[_Run], key: str) -> list[Series]:
    return [Series(r.label, r.colour, [rec["step"] for rec in r.records], _col(r.records, key), dashes=r.dashes)
            for r in runs if any(_number(rec.get(key)) for rec in r.records)]


def _pick(grids: list[tuple[int, Path]], limit: int) -> list[tuple[int, Path]]:
    if len(grids) <= limit:
        return grids
    picks = sorted({round(i * (len(grids) - 1) / (limit - 1)) for i in range(limit)})
    return [grids[i] for i in picks]


def _points(path: Path) -> list[list[float]] | None:
    """The 2-D samples the run logger kept beside a grid; None when there are none (images, older runs)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    points = data.get("points") if isinstance(data, dict) else None
    if not isinstance(points, list):
        return None
    return [[float(p[0]), float(p[1])] for p in points
            if isinstance(p, list) and len(p) == 2 and all(_number(v) and math.isfinite(v) for v in p)]


def _modes(config: dict[str, Any]) -> list[list[float]] | None:
    """The centres of a built-in 2-D mixture (ring8, grid25) the run trained on; None for other data."""
    name = _dataset_name(config)
    if name is None:
        return None
    from .evaluation.protocols import MIXTURES

    if name not in MIXTURES:
        return None
    centres: list[list[float]] = MIXTURES[name][0]().tolist()
    return centres


def _heads(runs: list[_Run]) -> list[str]:
    return ["value"] if len(runs) == 1 else [r.label for r in runs]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], marked: Sequence[bool] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(("<tr class=differs>" if marked and marked[i] else "<tr>") + "".join(f"<td>{_e(c)}</td>"
                                                                                        for c in row) + "</tr>"
                   for i, row in enumerate(rows))
    return f"<table><tr>{head}</tr>{body}</table>"


def _ordered(keys: Iterable[str]) -> list[str]:
    """The distinct keys in the order they first appear."""
    return list(dict.fromkeys(keys))


def _col(records: list[dict[str, Any]], key: str) -> list[float | None]:
    return [float(r[key]) if _number(r.get(key)) else None for r in records]


def _finite(v: Any) -> float | None:
    return float(v) if _number(v) and math.isfinite(v) else None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _plain(v: Any) -> str:
    """A config value as text: strings bare, None as none, the rest as JSON."""
    if v is None:
        return "none"
    return v if isinstance(v, str) else json.dumps(v)


def _result(results: dict[str, Any], key: str) -> str:
    """An evaluation number; null there means the metric was not finite (e.g. an infinite KL)."""
    if key in results and results[key] is None:
        return "not finite"
    return _fmt(results.get(key))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return "" if v is None else str(v)


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _dataset_name(config: dict[str, Any]) -> str | None:
    dataset = config.get("dataset")
    return dataset if isinstance(dataset, str) else None


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = load_json(read_or_refuse(path, "the run folder's config", ConfigError), str(path), ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of training options")
    return data
