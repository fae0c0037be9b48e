"""Model names, aliases and references, validated so that none can escape the registry root.

A name becomes a folder (``models/<name>/``), so the rules are strict and checked before
any path is built; every path the registry builds is checked again with
:func:`inside` after resolving symlinks; a path the registry writes must also be reached
without passing through a symbolic link (:func:`real_inside`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, RegistryError
from ..values import MAX_INT

__all__ = ["ModelRef", "check_alias", "check_filename", "check_model_name", "inside", "parse_ref", "real_inside"]

_NAME_RULE = ("1-64 characters from a-z, 0-9, '-', '_' and '.', not starting with '.' or '-', "
              "and no '..'")
_NAME = re.compile(r"[a-z0-9_][a-z0-9._-]{0,63}")
_FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_FORBIDDEN = {"/": "'/'", "\\": "'\\'", "\x00": "a NUL character", "%": "'%' (no URL encoding)"}


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: ``name``, ``name:3`` or ``name@alias`` (exactly one of version/alias may be set)."""

    name: str
    version: int | None = None
    alias: str | None = None


def _check_text(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{kind} must be a string, got {type(value).__name__}: {value!r}")
    for ch, what in _FORBIDDEN.items():
        if ch in value:
            raise ConfigError(f"invalid {kind} {value!r}: it contains {what}; a {kind} is not a path. "
                              "To load a file, give a path ending in .safetensors.")
    if os.path.isabs(value) or ".." in value:
        raise ConfigError(f"invalid {kind} {value!r}: absolute paths and '..' are not allowed")
    return value


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name, else raise :class:`ConfigError`."""
    text = _check_text("model name", name)
    if not _NAME.fullmatch(text):
        raise ConfigError(f"invalid model name {text!r}: use {_NAME_RULE}")
    return text


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is valid: a model-name-like word that is not all digits."""
    text = _check_text("alias", alias)
    if not _NAME.fullmatch(text):
        raise ConfigError(f"invalid alias {text!r}: use {_NAME_RULE}")
    if text.isdigit():
        raise ConfigError(f"invalid alias {text!r}: an alias cannot be all digits (that reads as a version)")
    return text


def check_filename(filename: object) -> str:
    """A plain file name inside a version folder (no folders, no leading dot)."""
    text = _check_text("file name", filename)
    if not _FILENAME.fullmatch(text):
        raise ConfigError(f"invalid file name {text!r}: use 1-128 characters from A-Z, a-z, 0-9, '.', '-' "
                          "and '_', not starting with '.' or '-'")
    return text


def parse_ref(ref: object) -> ModelRef:
    """Split ``name``, ``name:VERSION`` or ``name@ALIAS``, validating each part."""
    text = _check_text("model reference", ref)
    if ":" in text and "@" in text:
        raise ConfigError(f"invalid model reference {text!r}: use name, name:VERSION or name@ALIAS, not both")
    if ":" in text:
        name, _, version = text.partition(":")
        if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= MAX_INT:
            raise ConfigError(f"invalid model reference {text!r}: the version after ':' must be a positive "
                              "integer (e.g. dcgan-digits:3)")
        return ModelRef(check_model_name(name), version=int(version))
    if "@" in text:
        name, _, alias = text.partition("@")
        return ModelRef(check_model_name(name), alias=check_alias(alias))
    return ModelRef(check_model_name(text))


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved, after checking that it lies within ``root`` (symlinks followed)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise RegistryError(f"refusing to touch {resolved}: it lies outside the registry root {root}")
    return resolved


def real_inside(root: Path, path: Path) -> Path:
    """``path`` (built below the resolved ``root``) checked for writing: no part of it below the root is a
    symbolic link, and it lies within the root. Returns the resolved path.

    A link inside the store (``tmp``, ``models/<name>``, a version folder) would let a write, a rename or a
    removal land wherever it points, so it is refused even when it points inside the root.
    """
    root = root.resolve()
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise RegistryError(f"refusing to write through {current}: it is a symbolic link (to "
                                f"{os.readlink(current)}); the registry writes only into real folders inside "
                                f"{root}: replace the link with a folder")
    return inside(root, path)
