"""A third-party plugin cannot take over a built-in name or end the process, and a slow one is named."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import ganzoo
from ganzoo.catalog import load_catalog

SLOW_IMPORT_S = 1.0  # an import that takes longer is named

DUP = '''
import ganzoo
from torch import nn


class G(ganzoo.Generator):
    def __init__(self, *, data_shape, latent_dim=4, num_classes=0):
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        self.net = nn.Linear(latent_dim, 2)

    def forward(self, z, labels=None):
        return self.net(z)


class D(ganzoo.Discriminator):
    def __init__(self, *, data_shape, num_classes=0):
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.net = nn.Linear(2, 1)

    def forward(self, x, labels=None):
        return self.net(x).squeeze(1)


@ganzoo.hookimpl
def register_architectures(register):
    register(ganzoo.Architecture("dcgan", G, D, description="not the real one"))
    register(ganzoo.Architecture("dup-own", G, D))
'''


def test_a_third_party_plugin_cannot_take_a_builtin_name(install_distribution):
    install_distribution("ganzoo-aaa-dup", {"thirdparty_aaa_dup": DUP}, {"aaa-dup": "thirdparty_aaa_dup"})
    cat = load_catalog()
    assert cat.architectures["dcgan"].plugin == "dcgan"  # the built-in, though 'aaa-dup' sorts before 'dcgan'
    (failure,) = [f for f in cat.failures if f.name == "aaa-dup"]
    assert failure.stage == "register_architectures" and failure.distribution == "ganzoo-aaa-dup"
    assert "'dcgan'" in failure.error and "'aaa-dup'" in failure.error
    assert "dup-own" not in cat.architectures  # the refused hook's other registrations go with it
    assert [p.name for p in cat.plugins][:8] == ["core", "augment", "cgan", "dcgan", "gan", "pacgan", "r1", "resnet"]


def test_a_third_party_entry_point_named_like_a_builtin_is_refused(install_distribution):
    install_distribution("ganzoo-impostor", {"thirdparty_impostor": DUP}, {"dcgan": "thirdparty_impostor"})
    cat = load_catalog()
    assert cat.architectures["dcgan"].plugin == "dcgan" and cat.architectures["dcgan"].value.description != (
        "not the real one")
    (failure,) = [f for f in cat.failures if f.distribution == "ganzoo-impostor"]
    assert "'dcgan'" in failure.error and "ganzoo-impostor" in failure.error
    assert next(p for p in cat.plugins if p.name == "dcgan").distribution == "ganzoo"


EXIT_AT_IMPORT = "import sys\nsys.exit(3)\n"
EXIT_IN_HOOK = '''
import sys
import ganzoo


@ganzoo.hookimpl
def register_losses(register):
    sys.exit(4)
'''
INTERRUPTED = "raise KeyboardInterrupt\n"


def test_sys_exit_in_a_plugin_is_a_failure_not_an_exit(install_distribution):
    install_distribution("ganzoo-quitter", {"thirdparty_quitter": EXIT_AT_IMPORT}, {"quitter": "thirdparty_quitter"})
    install_distribution("ganzoo-hookexit", {"thirdparty_hookexit": EXIT_IN_HOOK}, {"hookexit": "thirdparty_hookexit"})
    cat = load_catalog()
    failures = {f.name: f for f in cat.failures}
    assert failures["quitter"].stage == "import" and "sys.exit(3)" in failures["quitter"].error
    assert failures["hookexit"].stage == "register_losses" and "sys.exit(4)" in failures["hookexit"].error
    assert "dcgan" in cat.architectures and "hookexit" not in {p.name for p in cat.plugins}
    with pytest.raises(ganzoo.PluginError, match="quitter"):
        load_catalog(strict=True)


def test_ctrl_c_while_a_plugin_imports_still_interrupts(install_distribution):
    install_distribution("ganzoo-ctrlc", {"thirdparty_ctrlc": INTERRUPTED}, {"ctrlc": "thirdparty_ctrlc"})
    with pytest.raises(KeyboardInterrupt):
        load_catalog()


def test_every_command_survives_a_plugin_that_exits(tmp_path, install_distribution):
    root = install_distribution("ganzoo-quitter", {"thirdparty_quitter2": EXIT_AT_IMPORT},
                                {"quitter2": "thirdparty_quitter2"})
    env = {**os.environ, "PYTHONPATH": str(root), "GANZOO_REGISTRY": str(tmp_path / "reg")}
    run = subprocess.run([sys.executable, "-m", "ganzoo", "plugins", "--json"], env=env, capture_output=True,
                         text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    (failure,) = shown["failures"]
    assert failure["name"] == "quitter2" and "sys.exit(3)" in failure["error"]
    assert "dcgan" in {p["name"] for p in shown["plugins"]}


SLOW = f'''
import time
time.sleep({SLOW_IMPORT_S} + 0.2)
'''


def test_a_slow_import_is_timed_and_named(cli_run, install_distribution):
    install_distribution("ganzoo-slow", {"thirdparty_slow": SLOW}, {"slow": "thirdparty_slow"})
    cat = load_catalog()
    times = {p.name: p.import_seconds for p in cat.plugins}
    assert times["slow"] >= SLOW_IMPORT_S
    del sys.modules["thirdparty_slow"]  # imported again by the command
    result = cli_run("plugins", "--json")
    shown = json.loads(result.stdout)
    assert next(p for p in shown["plugins"] if p["name"] == "slow")["import_seconds"] >= SLOW_IMPORT_S
    assert "importing plugin 'slow' took" in result.stderr and "GANZOO_DISABLE_PLUGINS=slow" in result.stderr
    assert "importing plugin 'core'" not in result.stderr
    del sys.modules["thirdparty_slow"]
    table = cli_run("plugins").stdout
    assert "import s" in table and any(line.startswith("slow\t") for line in table.splitlines())
