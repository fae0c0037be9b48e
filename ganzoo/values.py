"""Checking option values, whatever their source: the command line, a ``--config`` file, a stored
model's record (``--from``), ``-o`` model options and loss options all pass the same rules.

An option is checked against the kind of its default: a flag takes only true or false, a
whole number only an integer (never a boolean, never a float, so nothing is silently cut), a real
number any finite number, text only text. Ranges are the caller's to give.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import ConfigError

__all__ = ["MAX_INT", "check_bool", "check_int", "check_like", "check_number", "check_text", "parse_key_values"]

MAX_INT = 2**63 - 1  # the largest whole number torch and SQLite store (seeds, counts)


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else repr(value[:80])


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is true or false."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {_shown(value)}")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int = MAX_INT,
              kind: str | None = None) -> int:
    """``value`` as a whole number in [minimum, maximum]: an int, never a float (not even 3.0) nor a bool.

    ``kind`` words what is expected in the error (default: "a whole number >= minimum").
    """
    kind = kind or f"a whole number{_range(minimum, maximum)}"
    if isinstance(value, bool) or not isinstance(value, int) or \
            (minimum is not None and value < minimum) or value > maximum:
        raise ConfigError(f"{name} must be {kind}, got {_shown(value)}")
    return value


def check_number(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 above: float | None = None, below: float | None = None, kind: str | None = None) -> float:
    """``value`` as a finite float; ``minimum``/``maximum`` are inclusive bounds, ``above``/``below`` exclusive."""
    kind = kind or f"a finite number{_bounds(minimum, maximum, above, below)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be {kind}, got {_shown(value)}")
    number = float(value)
    if ((minimum is not None and number < minimum) or (maximum is not None and number > maximum)
            or (above is not None and number <= above) or (below is not None and number >= below)):
        raise ConfigError(f"{name} must be {kind}, got {value}")
    return number


def check_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty text, got {_shown(value)}")
    return value


def check_like(name: str, value: Any, default: Any) -> Any:
    """``value`` checked against the kind of ``default`` (a constructor's default, say).

    With no usable default (None, or none at all) any JSON value passes, but numbers in it
    must be finite.
    """
    if isinstance(default, bool):
        return check_bool(name, value)
    if isinstance(default, int):
        return check_int(name, value)
    if isinstance(default, float):
        return check_number(name, value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a text, got {_shown(value)}")
        return value
    _check_finite(name, value)
    return value


def parse_key_values(items: list[str], what: str, example: str) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` as a dict: values read as JSON where they can be (numbers, true/false, lists),
    as text otherwise; a key given twice is refused. ``what`` and ``example`` word the errors."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise ConfigError(f"{what} {item!r} must look like KEY=VALUE, e.g. {example}")
        if key in out:
            raise ConfigError(f"{what} {key!r} is given twice ({key}={_shown(out[key])} and {item}); give it once")
        try:
            out[key] = json.loads(raw)
        except (ValueError, RecursionError):
            out[key] = raw
    return out


def _check_finite(name: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value}")
    if isinstance(value, list):
        for item in value:
            _check_finite(name, item)
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(name, item)


def _range(minimum: int | None, maximum: int) -> str:
    if minimum is None:
        return ""
    return f" >= {minimum}" if maximum == MAX_INT else f" in [{minimum}, {maximum}]"


def _bounds(minimum: float | None, maximum: float | None, above: float | None, below: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum}")
    if above is not None:
        parts.append(f"> {above}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    if below is not None:
        parts.append(f"< {below}")
    return (" " + " and ".join(parts)) if parts else ""
