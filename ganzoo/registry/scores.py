"""The headline numbers of a stored version's evaluations, for listing and sorting versions.

``ganzoo eval`` stores each metric set under ``metrics.<set>`` in the manifest (``mixture``,
``stacked``, ``classifier``, ``inception``, and ``<set>-test`` against a test split). A score
is named ``<set>.<metric>``; a bare metric name is accepted where only one set has it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError

__all__ = ["HEADLINE", "LOWER_IS_BETTER", "headline_scores", "resolve_score", "sort_by_score"]

# The numbers a listing shows for each metric set, in order.
HEADLINE: dict[str, tuple[str, ...]] = {
    "mixture": ("modes_covered", "high_quality", "reverse_kl"),
    "stacked": ("modes", "kl_to_uniform"),
    "classifier": ("fd", "kid", "precision", "recall", "label_accuracy"),
    "inception": ("fid", "kid"),
}
LOWER_IS_BETTER = frozenset({"fd", "fid", "kid", "reverse_kl", "kl_to_uniform", "class_kl"})


def headline_scores(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``{"<set>.<metric>": value}`` for the headline numbers stored in a manifest's ``metrics``."""
    scores: dict[str, float] = {}
    for metric_set, results in metrics.items():
        if not isinstance(results, Mapping):
            continue
        for key in HEADLINE.get(metric_set.removesuffix("-test"), ()):
            value = results.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                scores[f"{metric_set}.{key}"] = float(value)
    return scores


def resolve_score(name: str, available: Iterable[str]) -> str:
    """The full ``<set>.<metric>`` name that ``name`` means among ``available``; ConfigError if none or several."""
    names = sorted(set(available))
    if name in names:
        return name
    matches = [n for n in names if n.split(".", 1)[1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(f"--sort {name} is ambiguous: {', '.join(matches)}; name one of them")
    listed = ", ".join(names) or "none (no version has been evaluated: run ganzoo eval REF)"
    raise ConfigError(f"no stored version has the score {name!r}; stored scores: {listed}")


def sort_by_score(rows: list[tuple[Any, dict[str, float]]], score: str) -> list[tuple[Any, dict[str, float]]]:
    """``rows`` of (item, scores) best first by ``score`` (lower first for distances); rows without it last."""
    lower = score.split(".", 1)[1] in LOWER_IS_BETTER
    have = [r for r in rows if score in r[1]]
    missing = [r for r in rows if score not in r[1]]
    have.sort(key=lambda r: r[1][score], reverse=not lower)
    return have + missing
