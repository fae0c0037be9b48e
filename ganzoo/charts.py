"""Charts as inline SVG: line charts of numbers over training steps, and 2-D scatter plots of samples.

Drawn with matplotlib's SVG canvas, text kept as ``<text>`` (selectable, searchable, and
readable by a test in a browser). Every id in one SVG gets a caller-given prefix, so that
many charts can share one HTML page without two elements sharing an id.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Series", "line_chart", "scatter_plot", "square_box"]


@dataclass
class Series:
    """One line of a chart: ``values[i]`` at ``steps[i]``; None is a gap (not recorded, or not finite)."""

    label: str  # in the legend
    colour: str  # a CSS/matplotlib colour
    steps: list[int]
    values: list[float | None]
    errors: list[float | None] | None = None  # half-widths of error bars (e.g. a KID's std), if any
    dashes: bool = False  # dashed instead of solid


def line_chart(series: list[Series], *, title: str, ylabel: str, prefix: str, wide: bool = False,
               equilibrium: bool = False, markers: bool = False, integer: bool = False) -> str:
    """One axes over ``step``: ``wide`` spans a page; ``equilibrium`` draws D = 1/2 on a [0, 1] axis;
    ``markers`` marks each point (few points, e.g. evaluations); ``integer`` keeps the y ticks whole."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 3.4) if wide else (4.6, 3.1))
    ax = fig.add_subplot()
    for s in series:
        xs = [x for x, v in zip(s.steps, s.values, strict=True) if v is not None]
        ys = [v for v in s.values if v is not None]
        style: dict[str, Any] = {"color": s.colour, "label": s.label, "linestyle": "--" if s.dashes else "-",
                                 "marker": "o" if markers else None, "markersize": 4, "linewidth": 1.4}
        if s.errors is not None:
            errs = [e if e is not None else 0.0 for v, e in zip(s.values, s.errors, strict=True) if v is not None]
            ax.errorbar(xs, ys, yerr=errs, capsize=3, **style)
        else:
            ax.plot(xs, ys, **style)
    if equilibrium:
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="equilibrium, D = 1/2")
        ax.set_ylim(-0.02, 1.02)
    if integer:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) > 1 or equilibrium:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _svg(fig, prefix)


def scatter_plot(points: list[list[float]], modes: list[list[float]] | None,
                 box: tuple[float, float, float, float], *, prefix: str) -> str:
    """Samples as black dots, the true modes (if known) as red crosses, on square axes limited to ``box``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.4, 3.4))
    ax = fig.add_subplot()
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=9, color="black", label=f"samples ({len(points)})",
               zorder=3)
    if modes:
        ax.scatter([m[0] for m in modes], [m[1] for m in modes], s=70, marker="x", color="#d62728", linewidths=2,
                   label=f"true modes ({len(modes)})", zorder=2)
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return _svg(fig, prefix)


def square_box(points: list[list[float]]) -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)``: a square around every point, with a margin; one box for many plots compares them."""
    if not points:
        return (-1.0, 1.0, -1.0, 1.0)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half = max(max(xs) - min(xs), max(ys) - min(ys), 1e-3) / 2 * 1.12
    return (cx - half, cx + half, cy - half, cy + half)


def _svg(fig: Any, prefix: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog, no metadata), every id prefixed with ``prefix``."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ganzoo"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], flags=re.S)
    for old, new in (('id="', f'id="{prefix}'), ("url(#", f"url(#{prefix}"), ('href="#', f'href="#{prefix}')):
        text = text.replace(old, new)
    return text
