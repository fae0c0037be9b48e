"""Typed errors: every error a user can cause, each also the built-in exception that fits.

Every error a user can cause is a :class:`GanzooError`. Each also subclasses the
built-in exception that fits (``KeyError`` for unknown names, ``ValueError`` for
bad values, ``FileNotFoundError`` for missing things) so callers can catch
whichever they prefer. Messages say what was wrong, which value, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DataError",
    "GanzooError",
    "IntegrityError",
    "ModelNotFoundError",
    "PluginError",
    "PluginWarning",
    "RegistryError",
    "ShapeMismatchError",
    "StorageError",
    "UnknownNameError",
]


class GanzooError(Exception):
    """Base class of every error ganzoo raises on purpose."""

    def __str__(self) -> str:  # KeyError would otherwise repr() its message
        return str(self.args[0]) if self.args else ""


class ConfigError(GanzooError, ValueError):
    """A value given by the user (option, keyword argument, config field) is invalid."""


class ShapeMismatchError(ConfigError):
    """Data and architecture do not fit each other (image size, channels, labels)."""


class UnknownNameError(GanzooError, KeyError):
    """An architecture, loss, dataset or model name that nothing registered."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        available = sorted(available)
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        msg += " Available: " + (", ".join(available) if available else "(none)")
        super().__init__(msg)
        self.kind = kind
        self.name = name
        self.available = available
        self.suggestions = close


class PluginError(GanzooError, RuntimeError):
    """A plugin failed to import or to register, or two plugins clash."""


class PluginWarning(UserWarning):
    """Plugins were left out because they failed to load; the rest of ganzoo works without them."""


class DataError(GanzooError, ValueError):
    """A dataset could not be loaded or is not what it claims to be."""


class RegistryError(GanzooError):
    """Base class of model-registry errors."""


class ModelNotFoundError(RegistryError, FileNotFoundError):
    """A model reference that resolves to nothing."""


class IntegrityError(RegistryError, ValueError):
    """A stored file whose size, hash or content is not what was recorded."""


class StorageError(GanzooError, OSError):
    """A file could not be written or read: disk full, no permission, a path that is not a folder."""
