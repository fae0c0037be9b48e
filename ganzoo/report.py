"""One self-contained HTML page about a training run (``ganzoo report RUN``).

It reads what :class:`~ganzoo.training.runlog.RunLogger` wrote into the run folder and shows the
loss curves, mean D(x) and D(G(z)) against the 0.5 equilibrium line, the sample grids
as training went on, the final metrics and the config. Plots are drawn with
matplotlib's Agg canvas; every image is inlined as a base64 PNG data URI, so the file
opens anywhere, offline, and can be mailed around alone. It has no scripts.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .fileio import write_atomic
from .training.runfolder import CONFIG, METRICS, grid_steps, read_metrics

__all__ = ["MAX_GRIDS", "REPORT", "write_report"]

REPORT = "report.html"
MAX_GRIDS = 12  # sample grids shown; a longer run shows evenly spaced ones and the last


def write_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``); returns its path."""
    folder = Path(run_dir)
    if not folder.is_dir():
        what = "it is a file" if folder.exists() else "no such folder"
        raise ConfigError(f"{os.fspath(run_dir)} is not a run folder: {what}. Pass a folder written "
                          "by `ganzoo train` (runs/<name>-<time> unless --run-dir was given)")
    if not (folder / METRICS).is_file() and not (folder / CONFIG).is_file():
        raise ConfigError(f"{os.fspath(run_dir)} is not a run folder: it has neither {METRICS} nor {CONFIG}. "
                          "Pass a folder written by `ganzoo train` (runs/<name>-<time> unless --run-dir was given)")
    config = _read_config(folder / CONFIG)
    records = read_metrics(folder)
    page = render(folder, config, records)
    path = Path(out) if out is not None else folder / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, page.encode("utf-8"))
    return path


def render(folder: Path, config: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The HTML text of the report."""
    title = f"ganzoo run {folder.resolve().name}"
    resolved = config.get("resolved") or {}
    subtitle = " · ".join(str(x) for x in (config.get("architecture"), _dataset_name(config), resolved.get("loss"))
                          if x)
    parts = [f"<h1>{_e(title)}</h1>", f"<p class=sub>{_e(subtitle)}</p>" if subtitle else ""]
    parts.append("<h2>Training curves</h2>")
    if records:
        steps = [r["step"] for r in records]
        parts.append(_img(_plot(steps, {"D loss": _col(records, "d_loss"), "G loss": _col(records, "g_loss")},
                                "loss", "Losses"), "Discriminator and generator losses"))
        parts.append(_img(_plot(steps, {"mean D(x)": _col(records, "d_real"),
                                        "mean D(G(z))": _col(records, "d_fake")},
                                "D", "Discriminator outputs", equilibrium=True),
                          "Mean D(x) and D(G(z)) with the 0.5 equilibrium line"))
        parts.extend(_eval_plots(records))
    else:
        parts.append("<p>No metric records yet: the run stopped before its first <code>--log-every</code> step.</p>")
    parts.append("<h2>Samples from the fixed latent</h2>")
    parts.append(_grids(folder))
    parts.append("<h2>Final metrics</h2>")
    parts.append(_final(records))
    parts.append("<h2>Config</h2>")
    parts.append(_config(config))
    body = "\n".join(p for p in parts if p)
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
img {{ max-width: 100%; }} .plot {{ display: block; margin: .5rem 0; }}
.grids {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; }} figcaption {{ text-align: center; color: #555; font-size: 13px; }}
.grids img {{ width: 240px; image-rendering: pixelated; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: .5rem 0 1rem; }}
td, th {{ border: 1px solid #ddd; padding: .2rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f5f5f5; }} pre {{ background: #f8f8f8; padding: .6rem; overflow-x: auto; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


# -- sections ----------------------------------------------------------------------------------


def _eval_plots(records: list[dict[str, Any]]) -> list[str]:
    """One plot per evaluation metric set, when ``--eval-every`` recorded any."""
    evaluated = [r for r in records if isinstance(r.get("eval"), dict)]
    sets = sorted({k for r in evaluated for k in r["eval"] if k != "protocol"})
    out = []
    for name in sets:
        rows = [(r["step"], r["eval"][name]) for r in evaluated if isinstance(r["eval"].get(name), dict)]
        keys = sorted({k for _, res in rows for k, v in res.items() if _number(v)})
        if rows and keys:
            series = {k: [res.get(k) if _number(res.get(k)) else None for _, res in rows] for k in keys}
            out.append(_img(_plot([s for s, _ in rows], series, "value", f"Evaluation: {name}", markers=True),
                            f"Evaluation metrics ({name})"))
    return out


def _grids(folder: Path) -> str:
    grids = grid_steps(folder)
    if not grids:
        return "<p>No sample grids in this run folder.</p>"
    if len(grids) > MAX_GRIDS:
        picks = sorted({round(i * (len(grids) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)})
        grids = [grids[i] for i in picks]
    figures = []
    for step, path in grids:
        uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        figures.append(f'<figure><img src="{uri}" alt="samples at step {step}"><figcaption>step {step}'
                       "</figcaption></figure>")
    return '<div class="grids">' + "\n".join(figures) + "</div>"


def _final(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p>None recorded.</p>"
    last = records[-1]
    rows = [(k, _fmt(v)) for k, v in last.items() if k != "eval"]
    out = [f"<p>Training metrics at step {last['step']} (the last record).</p>", _table(["metric", "value"], rows)]
    evaluated = [r for r in records if isinstance(r.get("eval"), dict)]
    if evaluated:
        final = evaluated[-1]
        for name, results in final["eval"].items():
            if name == "protocol" or not isinstance(results, dict):
                continue
            out.append(f"<p>Evaluation <b>{_e(name)}</b> at step {final['step']}.</p>")
            out.append(_table(["metric", "value"], [(k, _fmt(v)) for k, v in results.items()]))
        protocol = final["eval"].get("protocol")
        if isinstance(protocol, dict):
            out.append("<p>Protocol of these numbers.</p>")
            out.append(_table(["field", "value"], [(k, _fmt(v)) for k, v in protocol.items()]))
    return "\n".join(out)


def _config(config: dict[str, Any]) -> str:
    if not config:
        return f"<p>No {CONFIG} in this run folder.</p>"
    options = [(k, json.dumps(v)) for k, v in config.items() if k != "resolved"]
    out = [_table(["option", "value"], options)]
    resolved = config.get("resolved")
    if resolved:
        out.append("<p>Resolved: the loss, network spec, dataset and device actually used.</p>")
        out.append(f"<pre>{_e(json.dumps(resolved, indent=2))}</pre>")
    return "\n".join(out)


# -- helpers ---------------------------------------------------------------------------------------


def _plot(steps: Sequence[int], series: dict[str, list[float | None]], ylabel: str, title: str, *,
          equilibrium: bool = False, markers: bool = False) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, values in series.items():
        xs = [s for s, v in zip(steps, values, strict=True) if v is not None]
        ys = [v for v in values if v is not None]
        ax.plot(xs, ys, label=label, marker="o" if markers else None, linewidth=1.5)
    if equilibrium:
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="equilibrium, D = 1/2")
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _img(png: bytes, alt: str) -> str:
    return f'<img class="plot" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{_e(alt)}">'


def _table(header: Sequence[str], rows: Sequence[tuple[Any, Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td></tr>" for a, b in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _col(records: list[dict[str, Any]], key: str) -> list[float | None]:
    return [float(r[key]) if _number(r.get(key)) else None for r in records]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); the run folder's config is damaged") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of training options")
    return data
