"""docs/plugins.md as a reader follows it: every ``bash`` block run as written in a temporary folder.

The files the page shows under a backticked name (`pyproject.toml`, `ganzoo_tiny.py`) are written
where the reader would be when reaching them. The blocks of one section share the reader's
folder (a ``cd`` carries over); each section starts at the temporary folder, which holds a copy
of ``examples/`` as a clone of ganzoo does. ``pip install`` goes into a virtual environment
that sees this Python's packages (so nothing is downloaded and nothing here is changed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
NAMED = re.compile(r"^`([\w\-/]+\.\w+)`")  # a paragraph that opens with a file name: the block below is that file


def steps(doc: str) -> list[tuple[str, str, str]]:
    """``(section, kind, text)`` in page order: kind ``bash`` (run it) or a file name (write it)."""
    out = []
    for match in FENCE.finditer(doc):
        before = doc[: match.start()]
        headings = re.findall(r"^## (.+)$", before, re.M)
        section = headings[-1] if headings else ""
        paragraph = before.rstrip("\n").rsplit("\n\n", 1)[-1].strip()
        named = NAMED.match(paragraph)
        if match.group(1) == "bash":
            out.append((section, "bash", match.group(2)))
        elif named and match.group(1) in ("toml", "python"):
            out.append((section, named.group(1), match.group(2)))
    return out


def test_the_page_has_the_steps_a_reader_follows():
    found = steps(DOC.read_text())
    kinds = [kind for _, kind, _ in found]
    assert kinds == ["bash", "pyproject.toml", "ganzoo_tiny.py", "bash", "bash"], kinds
    assert "pip install -e ." in found[3][2]


def _shim(folder: Path, name: str, command: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\nexec {command} \"$@\"\n")
    path.chmod(0o755)


@pytest.mark.slow
def test_every_shell_block_of_the_plugin_guide_runs_as_written(tmp_path):
    root = tmp_path / "reader"
    root.mkdir()
    shutil.copytree(ROOT / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    _shim(venv / "bin", "pip", f"{python} -m pip")  # this Python's pip, installing into the venv
    _shim(venv / "bin", "ganzoo", f"{python} -m ganzoo")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "GANZOO_REGISTRY": str(tmp_path / "registry"), "GANZOO_PLAIN_PROGRESS": "1",
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    where: dict[str, Path] = {}
    for section, kind, text in steps(DOC.read_text()):
        cwd = where.get(section, root)
        if kind != "bash":
            (cwd / kind).write_text(text)
            continue
        script = f"set -e\n{text}\npwd > {tmp_path / 'pwd'}\n"
        done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"in {cwd}:\n{textwrap.indent(text, '  ')}\n{done.stdout}\n{done.stderr}"
        where[section] = Path((tmp_path / "pwd").read_text().strip())
        if "ganzoo list" in text:
            assert "tiny" in done.stdout and "soft-hinge" in done.stdout
    assert (tmp_path / "registry" / "models" / "tiny-ring8").is_dir()
    assert (tmp_path / "registry" / "models" / "sngan-digits").is_dir()
