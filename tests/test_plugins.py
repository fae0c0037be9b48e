"""The plugin system: discovery through entry points, validation, isolation of broken plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest
import torch

import ganzoo
from ganzoo.catalog import load_catalog

TOY = '''
import torch
from torch import nn
import ganzoo


class ToyGenerator(ganzoo.Generator):
    def __init__(self, *, data_shape, latent_dim=4, num_classes=0, width=8):
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        out = 1
        for s in data_shape:
            out *= s
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.ReLU(), nn.Linear(width, out))

    def forward(self, z, labels=None):
        return self.net(z).view(len(z), *self.data_shape)


class ToyDiscriminator(ganzoo.Discriminator):
    def __init__(self, *, data_shape, num_classes=0, width=8):
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        inp = 1
        for s in data_shape:
            inp *= s
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(inp, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x, labels=None):
        return self.net(x).squeeze(1)


@ganzoo.hookimpl
def register_architectures(register):
    register(ganzoo.Architecture("toy", ToyGenerator, ToyDiscriminator, description="a toy MLP",
                                 paper="none", defaults={"width": 16}))
'''


def test_builtins_come_through_entry_points(catalog):
    names = {p.name: p for p in catalog.plugins}
    assert {"core", "gan", "dcgan", "cgan"} <= set(names)
    assert names["dcgan"].distribution == "ganzoo"
    assert "register_architectures" in names["dcgan"].hooks
    assert {"gan", "dcgan", "cgan", "cdcgan"} <= set(catalog.architectures)
    assert catalog.architectures["dcgan"].plugin == "dcgan"
    assert set(catalog.losses) >= {"minimax", "non-saturating", "hinge", "least-squares", "wasserstein-gp"}
    assert set(catalog.datasets) >= {"digits", "ring8", "grid25"}
    assert catalog.failures == []


def test_third_party_distribution_is_discovered(install_distribution):
    install_distribution("ganzoo-toy", {"thirdparty_toy": TOY}, {"toy": "thirdparty_toy"})
    cat = load_catalog()
    assert cat.architectures["toy"].plugin == "toy"
    info = next(p for p in cat.plugins if p.name == "toy")
    assert (info.distribution, info.version, info.hooks) == ("ganzoo-toy", "0.1.0", ["register_architectures"])
    g, d = cat.create("toy", data_shape=(2,))
    assert g.net[0].out_features == 16  # Architecture.defaults reached the constructor
    assert d(g(g.sample_latent(3))).shape == (3,)


def test_third_party_architecture_trains_from_the_cli(tmp_path, install_distribution):
    root = install_distribution("ganzoo-toy", {"thirdparty_toy": TOY}, {"toy": "thirdparty_toy"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "GANZOO_REGISTRY": str(tmp_path / "reg")}
    listing = subprocess.run([sys.executable, "-m", "ganzoo", "list", "--json"], env=env, capture_output=True,
                             text=True, check=True)
    assert "toy" in listing.stdout
    run = subprocess.run([sys.executable, "-m", "ganzoo", "train", "toy", "--dataset", "ring8", "--steps", "20",
                          "--out", str(tmp_path / "toy.png")], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "toy.png").stat().st_size > 0
    assert (tmp_path / "reg" / "models" / "toy-ring8" / "1" / "generator.safetensors").exists()


def test_broken_plugins_are_isolated_and_reported(install_distribution):
    install_distribution("ganzoo-broken", {"thirdparty_broken": "raise ImportError('no such thing')"},
                         {"broken": "thirdparty_broken"})
    bad_sig = "import ganzoo\n@ganzoo.hookimpl\ndef register_architectures(register, extra):\n    pass\n"
    install_distribution("ganzoo-badsig", {"thirdparty_badsig": bad_sig}, {"badsig": "thirdparty_badsig"})
    raising = "import ganzoo\n@ganzoo.hookimpl\ndef register_losses(register):\n    raise RuntimeError('boom')\n"
    install_distribution("ganzoo-raising", {"thirdparty_raising": raising}, {"raising": "thirdparty_raising"})
    cat = load_catalog()
    failures = {f.name: f for f in cat.failures}
    assert failures["broken"].stage == "import" and "no such thing" in failures["broken"].error
    assert failures["broken"].distribution == "ganzoo-broken"
    assert failures["badsig"].stage == "register" and "extra" in failures["badsig"].error
    assert failures["raising"].stage == "register_losses" and "boom" in failures["raising"].error
    assert "dcgan" in cat.architectures  # everything else still works
    with pytest.raises(ganzoo.PluginError, match="broken"):
        load_catalog(strict=True)


def test_disabled_plugins_are_skipped():
    cat = load_catalog(disabled={"dcgan"})
    assert "dcgan" not in cat.architectures and "gan" in cat.architectures


def test_env_controls(monkeypatch, install_distribution):
    install_distribution("ganzoo-broken", {"thirdparty_broken2": "raise ImportError('x')"},
                         {"broken2": "thirdparty_broken2"})
    monkeypatch.setenv("GANZOO_DISABLE_PLUGINS", "broken2, cgan")
    cat = load_catalog()
    assert "cgan" not in cat.architectures and not cat.failures
    monkeypatch.delenv("GANZOO_DISABLE_PLUGINS")
    monkeypatch.setenv("GANZOO_STRICT_PLUGINS", "1")
    with pytest.raises(ganzoo.PluginError):
        load_catalog()


_toy = types.ModuleType("toy_inline")
exec(TOY, _toy.__dict__)


class _Dup:
    @ganzoo.hookimpl
    def register_architectures(self, register):
        register(ganzoo.Architecture("dcgan", _toy.ToyGenerator, _toy.ToyDiscriminator))


def test_duplicate_name_is_an_error_naming_both_plugins():
    cat = load_catalog(plugins=[("copycat", _Dup())])
    (failure,) = [f for f in cat.failures if f.name == "copycat"]
    assert "'dcgan'" in failure.error and "'copycat'" in failure.error
    assert cat.architectures["dcgan"].plugin == "dcgan"  # the first registration is kept, not overwritten


class _Invalid:
    def __init__(self, thing):
        self.thing = thing

    @ganzoo.hookimpl
    def register_losses(self, register):
        register(*self.thing)


class _Abstract(ganzoo.Loss):
    def generator_loss(self, fake_logits):
        return fake_logits.mean()


@pytest.mark.parametrize(("thing", "message"), [
    (("Bad Name", ganzoo.Loss), "invalid loss name"),
    (("fine", int), "subclass of ganzoo.Loss"),
    (("fine", _Abstract), "does not implement discriminator_loss"),
])
def test_registration_is_validated(thing, message):
    cat = load_catalog(plugins=[("invalid", _Invalid(thing))])
    (failure,) = [f for f in cat.failures if f.name == "invalid"]
    assert message in failure.error
    assert "fine" not in cat.losses


def test_architecture_record_is_validated():
    with pytest.raises(ganzoo.ConfigError, match=r"subclass of ganzoo\.Generator"):
        ganzoo.Architecture("x", torch.nn.Linear, ganzoo.Discriminator)  # type: ignore[arg-type]
    with pytest.raises(ganzoo.ConfigError, match="invalid architecture name"):
        ganzoo.Architecture("../x", ganzoo.Generator, ganzoo.Discriminator)


def test_unknown_names_suggest_close_ones(catalog):
    with pytest.raises(ganzoo.UnknownNameError, match="did you mean 'dcgan'") as err:
        catalog.architecture("dcgna")
    assert isinstance(err.value, KeyError) and "Available:" in str(err.value)
    with pytest.raises(KeyError, match="did you mean 'hinge'"):
        catalog.loss("hinje")
    with pytest.raises(KeyError, match="did you mean 'digits'"):
        catalog.dataset("digit")


def test_unknown_model_option_is_refused(catalog):
    with pytest.raises(ganzoo.ConfigError, match="has no option 'widht'"):
        catalog.create("gan", (2,), widht=3)


def test_contract_violation_is_caught_at_create():
    class BadG(ganzoo.Generator):
        def __init__(self, *, data_shape, latent_dim=2, num_classes=0):
            super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
            self.lin = torch.nn.Linear(latent_dim, 3)

        def forward(self, z, labels=None):
            return self.lin(z)

    class Plugin:
        @ganzoo.hookimpl
        def register_architectures(self, register):
            register(ganzoo.Architecture("bad", BadG, _toy.ToyDiscriminator))

    cat = load_catalog(plugins=[("badplugin", Plugin())])
    with pytest.raises(ganzoo.PluginError, match=r"generator output has shape \(2, 3\), expected \(2, 2\)"):
        cat.create("bad", (2,))


def test_the_example_plugin_in_the_docs_works(install_distribution):
    import re
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    module = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "register_architectures" in b)
    install_distribution("ganzoo-tiny", {"thirdparty_tiny": module}, {"tiny": "thirdparty_tiny"})
    from ganzoo.catalog import reset_catalog

    reset_catalog()
    assert "tiny" in ganzoo.list_architectures() and "soft-hinge" in ganzoo.list_losses()
    result = ganzoo.train("tiny", "ring8", steps=5, batch_size=32, loss="soft-hinge")
    assert result.history[-1]["step"] == 5
    assert result.generator.net[0].out_features == 64


def test_spec_records_every_constructor_default(catalog):
    spec = catalog.resolve_spec("gan", (2,))
    assert spec.generator_kwargs["hidden"] == spec.discriminator_kwargs["hidden"]
    assert "depth" in spec.generator_kwargs and "latent_dim" in spec.generator_kwargs
    assert "latent_dim" not in spec.discriminator_kwargs


def test_cli_keeps_working_beside_broken_plugins(tmp_path, install_distribution):
    roots = [
        install_distribution("ganzoo-broken", {"thirdparty_broken3": "raise ImportError('missing dep')"},
                             {"broken3": "thirdparty_broken3"}),
        install_distribution("ganzoo-badsig", {"thirdparty_badsig3": (
            "import ganzoo\n@ganzoo.hookimpl\ndef register_architectures(register, extra):\n    pass\n")},
            {"badsig3": "thirdparty_badsig3"}),
        install_distribution("ganzoo-toy", {"thirdparty_toy3": TOY}, {"toy": "thirdparty_toy3"}),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(r) for r in roots),
           "GANZOO_REGISTRY": str(tmp_path / "reg")}

    def ganzoo_cli(*args: str, **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ganzoo", *args], env={**env, **kw}, capture_output=True,
                              text=True, cwd=tmp_path)

    assert ganzoo_cli("--help").returncode == 0
    assert "toy" in ganzoo_cli("list").stdout
    assert ganzoo_cli("train", "toy", "--dataset", "ring8", "--steps", "3").returncode == 0
    shown = ganzoo_cli("plugins")
    assert "missing dep" in shown.stdout and "badsig3" in shown.stdout
    strict = ganzoo_cli("list", GANZOO_STRICT_PLUGINS="1")
    assert strict.returncode == 1 and "broken3" in strict.stderr and "Traceback" not in strict.stderr


MISSPELT = '''
import ganzoo


class Mean(ganzoo.Loss):
    def discriminator_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits):
        return -fake_logits.mean()


@ganzoo.hookimpl
def register_architecure(register):
    raise AssertionError("a hook that does not exist is never called")


@ganzoo.hookimpl
def register_losses(register):
    register("typo-mean", Mean)
'''


def test_misspelt_hook_is_reported_and_the_other_plugins_load(cli_run, install_distribution):
    install_distribution("ganzoo-typo", {"thirdparty_typo": MISSPELT}, {"typo": "thirdparty_typo"})
    install_distribution("ganzoo-toy", {"thirdparty_toy4": TOY}, {"toy": "thirdparty_toy4"})
    shown = json.loads(cli_run("plugins", "--json").output)
    (failure,) = shown["failures"]
    assert (failure["name"], failure["stage"], failure["distribution"]) == ("typo", "hooks", "ganzoo-typo")
    assert "'register_architecure' (did you mean 'register_architectures'?)" in failure["error"]
    assert ("known hooks: register_architectures, register_augmentations, register_datasets, register_losses"
            in failure["error"])
    loaded = {p["name"] for p in shown["plugins"]}
    assert "toy" in loaded and "typo" not in loaded
    table = cli_run("plugins").output
    assert "typo" in table and "register_architecure" in table
    cat = load_catalog()
    assert "typo-mean" not in cat.losses  # the whole plugin is skipped, its valid hooks too
    assert {"toy", "dcgan"} <= set(cat.architectures)


def test_misspelt_hook_is_an_error_when_strict(cli_run, monkeypatch, install_distribution):
    install_distribution("ganzoo-typo", {"thirdparty_typo2": MISSPELT}, {"typo2": "thirdparty_typo2"})
    monkeypatch.setenv("GANZOO_STRICT_PLUGINS", "1")
    with pytest.raises(ganzoo.PluginError, match=r"typo2 \(hooks\): plugin 'typo2' implements 'register_architecure'"):
        load_catalog()
    assert "register_architecure" in cli_run("list", code=1).output


class _Mean(ganzoo.Loss):
    def discriminator_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits):
        return -fake_logits.mean()


class _Unknown:
    @ganzoo.hookimpl
    def register_datsets(self, register):
        pass

    @ganzoo.hookimpl
    def setup(self):
        pass

    @ganzoo.hookimpl(optionalhook=True)
    def register_schedules(self, register):  # optional: a hook this ganzoo may not have
        pass


class _Optional:
    @ganzoo.hookimpl(optionalhook=True)
    def register_schedules(self, register):
        pass

    @ganzoo.hookimpl
    def register_losses(self, register):
        register("optional-mean", _Mean)


def test_every_unknown_hook_is_named_and_optional_ones_are_allowed():
    cat = load_catalog(plugins=[("unknown", _Unknown()), ("optional", _Optional())])
    (failure,) = cat.failures
    assert failure.name == "unknown" and failure.stage == "hooks"
    assert "implements 'register_datsets' (did you mean 'register_datasets'?), 'setup', which are not" \
        in failure.error
    assert "register_schedules" not in failure.error
    assert cat.losses["optional-mean"].plugin == "optional"
