"""Shell completion, driven as bash, zsh and fish drive it: a process started with ``_GANZOO_COMPLETE`` set.

Every completion here also checks that neither torch nor torchvision was imported to answer it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_distribution
from test_layers import HEAVY, PROBE

import ganzoo
from ganzoo.cli.complete import stored_references
from ganzoo.locations import MARKER, cache_dir
from ganzoo.registry import Registry
from ganzoo.registry import index as ix


def complete(line: str, *, shell: str = "bash", env: dict[str, str] | None = None,
             cwd: Path | None = None) -> list[tuple[str, ...]]:
    """What ``ganzoo`` offers for the last word of ``line`` (``""`` after a trailing space), as
    ``(type, value)`` pairs, or ``(type, value, help)`` for zsh and fish."""
    words = line.split(" ")
    cword = words[-1] if shell == "fish" else str(len(words) - 1)
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, args=[])], capture_output=True, text=True,
                          timeout=60, cwd=cwd,
                          env={**os.environ, "_GANZOO_COMPLETE": f"{shell}_complete", "COMP_WORDS": line,
                               "COMP_CWORD": cword, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    heavy = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY=")]
    assert heavy == ["HEAVY="], proc.stderr  # answered without torch or torchvision
    out = proc.stdout.strip("\n")  # nothing offered: an empty line
    if shell == "zsh":
        lines = out.splitlines()
        return [tuple(lines[i:i + 3]) for i in range(0, len(lines), 3)]
    if shell == "fish":
        return [(*kind_value.split(",", 1), *rest) for kind_value, *rest in
                (line.split("\t", 1) for line in out.splitlines())]
    return [tuple(line.split(",", 1)) for line in out.splitlines()]


def values(line: str, **kwargs) -> list[str]:
    found = complete(line, **kwargs)
    assert all(item[0] == "plain" for item in found), found
    return [item[1] for item in found]


@pytest.fixture
def names(catalog: ganzoo.Catalog) -> ganzoo.Catalog:
    """The installed catalog, loaded once, which leaves the names completion offers in the cache."""
    return catalog


def stock(root: Path, rows: list[tuple[str, int, tuple[str, ...]]]) -> Path:
    """An index holding ``(name, version, aliases)`` rows: all completion reads of a registry."""
    with ix.Index(root / "index.sqlite").writing() as conn:
        for name, version, aliases in rows:
            ix.insert_version(conn, ix.Row(name, version, "dcgan", "digits", 100, "2025-01-01T00:00:00Z", aliases))
    (root / "models").mkdir(exist_ok=True)
    return root


@pytest.fixture
def stocked(tmp_path: Path) -> Path:
    return stock(tmp_path / "stocked", [("dcgan-digits", 1, ("best",)), ("dcgan-digits", 2, ("latest",)),
                                        ("cgan-digits", 1, ("latest",))])


def test_train_completes_registered_architectures_datasets_and_losses(names):
    assert values("ganzoo train ") == sorted(names.architectures)
    assert values("ganzoo train dc") == [a for a in sorted(names.architectures) if a.startswith("dc")] == ["dcgan"]
    assert values("ganzoo train dcgan --dataset ") == sorted(names.datasets)
    assert values("ganzoo train --dataset fa") == ["fashion-mnist"]
    assert values("ganzoo train --loss non-") == [n for n in sorted(names.losses) if n.startswith("non-")]
    assert "non-saturating-r1" in values("ganzoo train --loss non-")
    assert values("ganzoo train --loss hinge:") == []  # options are the user's to type
    zsh = complete("ganzoo train dcg", shell="zsh")
    assert zsh == [("plain", "dcgan", names.architectures["dcgan"].description)]
    fish = complete("ganzoo train --dataset dig", shell="fish")
    assert fish == [("plain", "digits", names.datasets["digits"].description)]


def test_augmentations_are_completed_from_the_same_names(names):
    assert names.augmentations  # the built-in ones: the test can tell
    assert values("ganzoo train dcgan --augment ") == sorted(names.augmentations)
    assert values("ganzoo train --augment diff") == [a for a in sorted(names.augmentations) if a.startswith("diff")]
    assert values("ganzoo train --augment diffaugment:policy=") == []


def test_the_names_follow_the_installed_plugins(names, tmp_path):
    source = ("import ganzoo, ganzoo_gan\n@ganzoo.hookimpl\ndef register_architectures(register):\n"
              "    register(ganzoo.Architecture('toy-arch', ganzoo_gan.MLPGenerator, ganzoo_gan.MLPDiscriminator))\n")
    site = make_distribution(tmp_path / "site", "ganzoo-toy", {"ganzoo_toy": source}, {"toy": "ganzoo_toy"})
    installed = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    assert values("ganzoo train ", env=installed) == []  # names remembered for another set of plugins: none
    listed = subprocess.run([sys.executable, "-m", "ganzoo", "list", "--json"], capture_output=True, text=True,
                            timeout=300, env={**os.environ, **installed})
    assert listed.returncode == 0, listed.stderr
    assert "toy-arch" in values("ganzoo train ", env=installed)  # a command loaded them: remembered
    assert values("ganzoo train ") == []  # and the plugin's removal is noticed
    ganzoo.load_catalog()
    assert values("ganzoo train ") == sorted(names.architectures)
    disabled = {"GANZOO_DISABLE_PLUGINS": "pacgan"}
    assert values("ganzoo train ", env=disabled) == []


def test_a_damaged_name_cache_offers_nothing(names):
    path = cache_dir() / "catalog-names.json"
    for damage in (b"\xff\x00 not json", b"[]", json.dumps({"key": None, "names": 3}).encode()):
        path.write_bytes(damage)
        assert values("ganzoo train ") == [] and values("ganzoo train --loss ") == []
    ganzoo.load_catalog()  # a command writes it again
    assert values("ganzoo train --loss hi") == ["hinge"]


def test_stored_references_complete_name_version_and_alias(stocked, monkeypatch):
    env = {"GANZOO_REGISTRY": str(stocked)}
    assert values("ganzoo sample ", env=env) == ["cgan-digits", "dcgan-digits"]
    assert values("ganzoo sample dc", env=env) == ["dcgan-digits", "dcgan-digits:1", "dcgan-digits:2",
                                                    "dcgan-digits@best", "dcgan-digits@latest"]
    assert values("ganzoo eval dcgan-digits:", env=env) == ["dcgan-digits:1", "dcgan-digits:2"]
    assert values("ganzoo models show dcgan-digits@", env=env) == ["dcgan-digits@best", "dcgan-digits@latest"]
    assert values("ganzoo models rm cgan-digits", env=env) == ["cgan-digits", "cgan-digits:1", "cgan-digits@latest"]
    assert values("ganzoo models alias dcgan-digits:2", env=env) == ["dcgan-digits:2"]
    assert values("ganzoo models export x", env=env) == []
    assert values("ganzoo train --from cg", env=env)[0] == "cgan-digits"
    assert values("ganzoo train --init-from dcgan-digits@b", env=env) == ["dcgan-digits@best"]
    zsh = complete("ganzoo sample dcgan-digits:", shell="zsh", env=env)
    assert zsh[0] == ("plain", r"dcgan-digits\:1", "dcgan on digits, 100 steps")  # zsh: colons escaped
    monkeypatch.setenv("GANZOO_REGISTRY", str(stocked))
    versions = {ref for ref in stored_references(stocked) if ":" in ref}
    assert versions == {record.ref for record in Registry().list()}  # the index read as the registry reads it


def test_the_registry_option_and_the_lookup_pick_the_registry_completed(stocked, tmp_path):
    empty = {"GANZOO_REGISTRY": str(tmp_path / "empty")}
    assert values("ganzoo sample ", env=empty) == []
    assert values(f"ganzoo sample --registry {stocked} c", env=empty) == ["cgan-digits", "cgan-digits:1",
                                                                        "cgan-digits@latest"]
    assert values(f"ganzoo models --registry {stocked} show cg", env=empty)[0] == "cgan-digits"
    project = stock(tmp_path / "project" / "registry", [("found-here", 4, ("latest",))])
    (project / MARKER).write_text("")
    (tmp_path / "project" / "sub").mkdir()
    unset = {"GANZOO_REGISTRY": ""}
    assert values("ganzoo eval ", env=unset, cwd=tmp_path / "project" / "sub") == [
        "found-here", "found-here:4", "found-here@latest"]


def test_files_and_run_folders_complete_as_paths(stocked):
    env = {"GANZOO_REGISTRY": str(stocked)}
    assert complete("ganzoo sample ./gen", env=env) == [("file", "./gen")]  # a weight file is a path
    assert complete("ganzoo report ") == [("dir", "")]
    assert complete("ganzoo report runs/d") == [("dir", "runs/d")]
    assert complete("ganzoo train --resume ru") == [("dir", "ru")]


def test_a_damaged_or_missing_index_offers_nothing(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.sqlite").write_bytes(b"not an SQLite database " * 100)
    assert values("ganzoo sample ", env={"GANZOO_REGISTRY": str(tmp_path / "bad")}) == []
    assert values("ganzoo sample ", env={"GANZOO_REGISTRY": str(tmp_path / "nowhere")}) == []
    assert not (tmp_path / "nowhere").exists()  # completion never creates a registry
