"""A pytest plugin shipped with ganzoo: the conformance kit as a fixture.

A plugin package turns it on in its ``tests/conftest.py``::

    pytest_plugins = ["ganzoo.pytest_plugin"]

and then asks for the fixture::

    def test_my_architecture_conforms(ganzoo_kit):
        ganzoo_kit.check_architecture("myarch")

It is opt-in (not a ``pytest11`` entry point) because loading it imports ganzoo and
torch, which would slow down every pytest run in an environment where ganzoo is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from . import catalog, testing


@pytest.fixture
def ganzoo_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The :mod:`ganzoo.testing` module, with a throwaway registry and a fresh plugin catalog for the test."""
    monkeypatch.setenv("GANZOO_REGISTRY", str(tmp_path / "ganzoo-registry"))
    catalog.reset_catalog()
    yield testing
    catalog.reset_catalog()
