"""Shared fixtures: isolated registries and data dirs, fresh catalogs, throwaway distributions."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.catalog import reset_catalog


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test touches the user's registry or data dir, or leaks plugins between tests."""
    monkeypatch.setenv("GANZOO_REGISTRY", str(tmp_path_factory.mktemp("registry")))
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("GANZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("GANZOO_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GANZOO_DEBUG", raising=False)
    torch.set_num_threads(2)
    reset_catalog()
    yield
    reset_catalog()


@pytest.fixture
def catalog() -> ganzoo.Catalog:
    """A fresh catalog of the installed plugins."""
    return ganzoo.load_catalog()


def make_distribution(root: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str],
                      version: str = "0.1.0") -> Path:
    """Write an installed-looking distribution (modules + dist-info) under ``root``.

    Putting ``root`` on ``sys.path`` makes ``importlib.metadata`` discover its ``ganzoo``
    entry points exactly as it would for a package installed with pip.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "[ganzoo]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    (info / "RECORD").write_text("")
    return root


@pytest.fixture
def install_distribution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Install throwaway distributions for this test only: ``install_distribution(dist, modules, eps)``."""
    counter = iter(range(1000))

    def install(dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> Path:
        root = make_distribution(tmp_path / f"site{next(counter)}", dist, modules, entry_points)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        return root

    yield install
    for name in list(sys.modules):
        if name.startswith("thirdparty_"):
            del sys.modules[name]
