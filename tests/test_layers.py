"""The core's layers (docs/design.md, "Layers"): imports point down, never up, and never in a circle.

Every import statement of every module under ``ganzoo/`` is read, at module level and inside
functions (``if TYPE_CHECKING:`` blocks excepted: they never run). Importing ``a.b.c`` also
runs the packages ``a.b`` above it, so those count as imported too. And the commands that
only print help answer without importing torch.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ganzoo

ROOT = Path(ganzoo.__file__).parent

# Lowest first. A module may import its own layer and those below it; ``ganzoo`` itself (the lazy
# facade of public names) is imported by none of them.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("contract", ("ganzoo.version", "ganzoo.errors", "ganzoo.values", "ganzoo.hookspecs", "ganzoo.models",
                  "ganzoo.losses", "ganzoo.augment", "ganzoo.fileio", "ganzoo.progress",
                  "ganzoo.locations")),
    ("plugins, data, registry, sampling", ("ganzoo.catalog", "ganzoo.registrations", "ganzoo.builtin",
                                            "ganzoo.weights", "ganzoo.data", "ganzoo.registry", "ganzoo.sampling",
                                            "ganzoo.rendering", "ganzoo.charts")),
    ("training", ("ganzoo.training",)),
    ("evaluation", ("ganzoo.evaluation",)),
    ("facade", ("ganzoo.api", "ganzoo.report", "ganzoo.testing", "ganzoo.pytest_plugin")),
    ("command line", ("ganzoo.cli", "ganzoo.__main__")),
]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package in ``root``: dotted name -> file (a package is its ``__init__.py``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, modules: dict[str, Path], package: str) -> set[str]:
    """The package's modules that module ``name`` imports when it runs (parents of each included)."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:  # `from pkg import mod` imports the module pkg.mod when there is one
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    explicit, implied = set(), set()
    for target in targets:
        if target != package and not target.startswith(package + "."):
            continue  # the standard library, torch, ...
        while target not in modules and "." in target:  # `import pkg.mod.Name`-style spellings
            target = target.rpartition(".")[0]
        explicit.add(target)
        parts = target.split(".")
        implied.update(".".join(parts[:i]) for i in range(2, len(parts)))  # running a.b.c runs a.b first
    own = name.split(".")
    running = {".".join(own[:i]) for i in range(2, len(own) + 1)}  # itself and the subpackages it runs inside
    return (explicit | implied) - running


def layer_of(name: str, layers: list[tuple[str, tuple[str, ...]]]) -> int | None:
    for index, (_, prefixes) in enumerate(layers):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    return None


def violations(root: Path, package: str, layers: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """What breaks the layer rule in the package at ``root``: upward imports, unplaced modules, cycles."""
    modules = module_names(root, package)
    graph = {name: imports_of(name, path, modules, package) for name, path in modules.items()}
    problems = []
    for name, targets in sorted(graph.items()):
        if name == package:
            continue  # the facade: hands on names lazily, imports nothing of its own at run time
        mine = layer_of(name, layers)
        if mine is None:
            problems.append(f"{name} is in no layer; place it in the layer list")
            continue
        for target in sorted(targets):
            theirs = len(layers) if target == package else layer_of(target, layers)
            if theirs is None or theirs > mine:
                where = "the package facade" if target == package else f"layer '{layers[theirs][0]}'" \
                    if theirs is not None else "no layer"
                problems.append(f"{name} (layer '{layers[mine][0]}') imports {target} ({where}): an upward import")
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules that import each other."""
    found, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt):], nxt])
            elif state.get(nxt) == 0:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            walk(node)
    return found


def test_ganzoo_imports_point_down_and_never_in_a_circle():
    assert violations(ROOT, "ganzoo", LAYERS) == []


def test_nothing_inside_ganzoo_imports_the_api_facade():
    modules = module_names(ROOT, "ganzoo")
    importers = [name for name, path in modules.items() if "ganzoo.api" in imports_of(name, path, modules, "ganzoo")]
    assert importers == []


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


PLANTED_LAYERS = [("low", ("pkg.low",)), ("high", ("pkg.high",))]


def test_the_check_catches_an_upward_import_even_inside_a_function(tmp_path):
    root = _plant(tmp_path / "pkg", {
        "__init__.py": "",
        "low.py": "def f():\n    from .high import g\n    return g\n",
        "high.py": "from . import low\n",
    })
    found = violations(root, "pkg", PLANTED_LAYERS)
    assert any("pkg.low (layer 'low') imports pkg.high" in p for p in found), found
    assert any(p.startswith("import cycle: ") for p in found), found


def test_the_check_catches_modules_that_import_each_other_in_one_layer(tmp_path):
    root = _plant(tmp_path / "pkg", {
        "__init__.py": "",
        "low/__init__.py": "from .a import x\n",
        "low/a.py": "x = 1\n",
        "low/b.py": "import pkg.low.c\n",
        "low/c.py": "from pkg.low import b\n",
        "high.py": "from .low import a\n",
    })
    assert violations(root, "pkg", PLANTED_LAYERS) == ["import cycle: pkg.low.b -> pkg.low.c -> pkg.low.b"]


def test_type_checking_imports_and_the_package_facade_are_judged_as_they_run(tmp_path):
    root = _plant(tmp_path / "pkg", {
        "__init__.py": "",
        "low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import g\n",
        "high.py": "import pkg\n",
    })
    assert violations(root, "pkg", PLANTED_LAYERS) == [
        "pkg.high (layer 'high') imports pkg (the package facade): an upward import"]


def test_a_running_parent_package_is_part_of_the_cycle(tmp_path):
    root = _plant(tmp_path / "pkg", {
        "__init__.py": "",
        "low/__init__.py": "from .loading import load\n",
        "low/core.py": "x = 1\n",
        "low/loading.py": "from ..low2 import y\ndef load(): ...\n",
        "low2.py": "from .low.core import x\ny = x\n",
        "high.py": "",
    })
    found = violations(root, "pkg", [("low", ("pkg.low", "pkg.low2")), ("high", ("pkg.high",))])
    assert found == ["import cycle: pkg.low -> pkg.low.loading -> pkg.low2 -> pkg.low"]


HEAVY = ("torch", "torchvision")
PROBE = """
import atexit, sys
atexit.register(lambda: sys.__stderr__.write("\\nHEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules) + "\\n"))
sys.argv = ["ganzoo", *{args!r}]
from ganzoo.cli import main
main()
"""


def _heavy_modules_after(args: list[str], env: dict[str, str] | None = None) -> tuple[str, str]:
    code = PROBE.format(heavy=HEAVY, args=args)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    marker = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY=")]
    assert marker, proc.stderr
    return marker[-1].removeprefix("HEAVY="), proc.stdout


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["train", "--help"], ["models", "--help"], ["runs"]])
def test_commands_that_only_print_import_neither_torch_nor_torchvision(args):
    heavy, out = _heavy_modules_after(args)
    assert out.strip(), "the command printed nothing"
    assert heavy == ""


@pytest.mark.parametrize(("line", "offered"), [
    ("ganzoo tr", "plain,train"), ("ganzoo train dc", "plain,dcgan"), ("ganzoo train --dataset dig", "plain,digits"),
    ("ganzoo train --loss hin", "plain,hinge"), ("ganzoo sample ", "plain,dcgan-digits"),
    ("ganzoo models show dcgan-digits:", "plain,dcgan-digits:1"), ("ganzoo report ", "dir,"),
])
def test_shell_completion_imports_neither_torch_nor_torchvision(line, offered, catalog):
    from ganzoo.registry import index  # one stored version, so references come from a real index

    with index.Index(Path(os.environ["GANZOO_REGISTRY"]) / "index.sqlite").writing() as conn:
        index.insert_version(conn, index.Row("dcgan-digits", 1, "dcgan", "digits", 1, "2025-01-01T00:00:00Z", ()))
    heavy, out = _heavy_modules_after([], env={"_GANZOO_COMPLETE": "bash_complete", "COMP_WORDS": line,
                                             "COMP_CWORD": str(len(line.split(" ")) - 1)})
    assert offered in out.splitlines()
    assert heavy == ""


def test_the_probe_sees_torch_when_a_command_imports_it():
    heavy, _ = _heavy_modules_after(["list"])
    assert "torch" in heavy.split(",")


def test_every_public_name_is_handed_on():
    missing = [name for name in ganzoo.__all__ if getattr(ganzoo, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        ganzoo.nothing_here  # noqa: B018
