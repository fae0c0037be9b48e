"""Shared fixtures: isolated registries and data dirs, fresh catalogs, an in-process CLI, throwaway distributions."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.catalog import reset_catalog
from ganzoo.cli import cli

USER_FOLDERS = ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")


@pytest.fixture(scope="session")
def user_folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for the user's data, cache, config and state folders (platformdirs' locations) all session."""
    return tmp_path_factory.mktemp("user")


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, user_folders: Path):
    """No test touches the user's registry, caches or data dir, or leaks plugins between tests."""
    for var in USER_FOLDERS:  # the user data registry and the shared caches land here, never in $HOME
        monkeypatch.setenv(var, str(user_folders / var.lower()))
    monkeypatch.delenv("GANZOO_CACHE", raising=False)
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


@pytest.fixture
def cli_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``ganzoo ARGS...`` in-process from ``tmp_path``: ``cli_run(*args, code=0)`` checks the exit code
    (``code=None`` accepts any); ``input`` is typed at prompts.

    Progress is printed plainly (no live display), whatever the environment says about colour or terminals.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANZOO_PLAIN_PROGRESS", "1")
    runner = CliRunner()

    def invoke(*args: str, code: int | None = 0, input: str | None = None):
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    return invoke


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
