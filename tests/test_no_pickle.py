"""No pickle anywhere a file is read: the build fails if one creeps into ganzoo/ or plugins/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("ganzoo", "plugins") for p in (ROOT / folder).rglob("*.py"))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _true(call: ast.Call, keyword: str) -> bool | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return isinstance(kw.value, ast.Constant) and kw.value.value is True
    return None


def pickle_uses(source: str) -> list[str]:
    """``line: what`` for every unpickling call in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "joblib") for n in names):
                found.append(f"{node.lineno}: imports a pickle module")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name.endswith(("pickle.load", "pickle.loads", "pickle.Unpickler")):
            found.append(f"{node.lineno}: {name}")
        elif name in ("torch.load", "torch.serialization.load"):  # safetensors.torch.load is safe
            if not _true(node, "weights_only"):
                found.append(f"{node.lineno}: torch.load without weights_only=True")
        elif name.endswith(("np.load", "numpy.load")) and _true(node, "allow_pickle"):
            found.append(f"{node.lineno}: {name} with allow_pickle=True")
        for kw in node.keywords:
            if kw.arg == "weights_only" and not (isinstance(kw.value, ast.Constant) and kw.value.value is True):
                found.append(f"{node.lineno}: weights_only not True")
    return found


def test_there_is_something_to_scan():
    assert any(p.name == "checkpoint.py" for p in SOURCES)
    assert any(p.parts[-3] == "plugins" or p.parts[-2].startswith("ganzoo_") for p in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_unpickling(path):
    assert pickle_uses(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    "import pickle\npickle.load(f)",
    "from pickle import loads",
    "torch.load(path)",
    "torch.load(path, weights_only=False)",
    "torch.load(path, map_location='cpu', weights_only=flag)",
    "numpy.load(path, allow_pickle=True)",
])
def test_the_scanner_catches(source):
    assert pickle_uses(source)


def test_the_scanner_allows_the_safe_forms():
    assert pickle_uses("torch.load(path, map_location='cpu', weights_only=True)") == []
    assert pickle_uses("safetensors.torch.load(data)") == []
