"""The conformance kit (ganzoo.testing): every registered architecture and loss passes it, the
example plugin passes it, and each check catches the contract breach it claims to."""

from __future__ import annotations

import importlib
import inspect
import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo import builtin, testing

pytest_plugins = ["ganzoo.pytest_plugin"]

EXAMPLE = Path(__file__).parent.parent / "examples" / "ganzoo-sngan"

_CATALOG = ganzoo.load_catalog()


def small(name: str, catalog: ganzoo.Catalog = _CATALOG) -> dict:
    """Narrow convolutional models keep the kit fast; other options stay at their defaults."""
    arch = catalog.architecture(name)
    params = set(inspect.signature(arch.generator).parameters) | set(inspect.signature(arch.discriminator).parameters)
    return {"base_channels": 8} if "base_channels" in params else {}


PAIRS = [(name, shape) for name in sorted(_CATALOG.architectures)
         for shape in testing.fitting_shapes(name, options=small(name), catalog=_CATALOG)]


# -- every registered architecture and loss, the built-ins and installed plugins alike -----------


def test_every_architecture_fits_some_kit_shape():
    assert {name for name, _ in PAIRS} == set(_CATALOG.architectures)
    assert ("gan", (2,)) in PAIRS and ("dcgan", (1, 8, 8)) in PAIRS and ("dcgan", (2,)) not in PAIRS


@pytest.mark.parametrize(("name", "shape"), PAIRS)
def test_architecture_passes_the_kit(name, shape):
    testing.check_architecture(name, data_shape=shape, options=small(name))


@pytest.mark.parametrize("name", sorted(_CATALOG.losses))
def test_loss_passes_the_kit(name):
    testing.check_loss(name)


@pytest.mark.parametrize("name", sorted(_CATALOG.augmentations))
def test_augmentation_passes_the_kit(name):
    testing.check_augmentation(name)


def test_the_kit_fixture(ganzoo_kit, tmp_path):
    assert ganzoo_kit is testing
    assert Path(ganzoo.Registry().root) == tmp_path / "ganzoo-registry"
    ganzoo_kit.check_loss("hinge")


def test_the_kit_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    state = torch.get_rng_state()
    testing.check_determinism("gan", data_shape=(2,))
    testing.check_loss("wasserstein-gp")
    assert torch.equal(torch.get_rng_state(), state)


def test_unknown_names_are_not_conformance_failures():
    with pytest.raises(ganzoo.UnknownNameError, match="did you mean 'dcgan'"):
        testing.check_architecture("dcgna")
    with pytest.raises(ganzoo.UnknownNameError, match="did you mean 'hinge'"):
        testing.check_loss("hinje")


# -- the example third-party plugin, examples/ganzoo-sngan ----------------------------------------


def test_the_example_plugin_is_discovered_as_an_installed_distribution():
    pytest.importorskip("ganzoo_sngan", reason="examples/ganzoo-sngan is not installed here "
                                               "(pip install -e examples/ganzoo-sngan; CI installs it)")
    info = next(p for p in _CATALOG.plugins if p.name == "sngan")
    assert info.distribution == "ganzoo-sngan"
    assert sorted(info.hooks) == ["register_architectures", "register_losses"]
    assert _CATALOG.architectures["sngan"].plugin == "sngan"
    assert _CATALOG.losses["relativistic-average"].plugin == "sngan"


def test_the_example_plugin_from_its_source_folder_passes_the_kit(monkeypatch):
    """Runs on any checkout: the plugin is loaded from examples/, installed or not."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    installed = sys.modules.pop("ganzoo_sngan", None)
    try:
        module = importlib.import_module("ganzoo_sngan")
        assert Path(module.__file__).resolve().is_relative_to(EXAMPLE.resolve())
        catalog = ganzoo.load_catalog(disabled={"sngan"}, plugins=[("sngan-source", module)])
        assert catalog.failures == []
        testing.check_architecture("sngan", options={"base_channels": 8}, catalog=catalog)
        testing.check_loss("relativistic-average", catalog=catalog)
    finally:
        sys.modules.pop("ganzoo_sngan", None)
        if installed is not None:
            sys.modules["ganzoo_sngan"] = installed


# -- the kit catches what it claims to --------------------------------------------------------------


class ToyG(ganzoo.Generator):
    """A small conforming MLP generator; the broken variants below each change one thing."""

    def __init__(self, *, data_shape, latent_dim=4, num_classes=0, width=8):
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        self.net = nn.Sequential(nn.Linear(latent_dim + num_classes, width), nn.ReLU(),
                                 nn.Linear(width, math.prod(data_shape)))

    def condition(self, z, labels):
        if not self.num_classes:
            return z
        if labels is None:
            raise ganzoo.ConfigError("toy is conditional: forward() needs labels")
        return torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)

    def forward(self, z, labels=None):
        return torch.tanh(self.net(self.condition(z, labels))).view(len(z), *self.data_shape)


class ToyD(ganzoo.Discriminator):
    def __init__(self, *, data_shape, num_classes=0, width=8):
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.net = nn.Sequential(nn.Linear(math.prod(data_shape) + num_classes, width), nn.LeakyReLU(0.2),
                                 nn.Linear(width, 1))

    def forward(self, x, labels=None):
        x = x.flatten(1)
        if self.num_classes:
            if labels is None:
                raise ganzoo.ConfigError("toy is conditional: forward() needs labels")
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(x.dtype)], dim=1)
        return self.net(x).view(len(x))


class Unbounded(ToyG):
    def forward(self, z, labels=None):
        return 3 * super().forward(z, labels)


class ColumnLogits(ToyD):
    def forward(self, x, labels=None):
        return super().forward(x, labels).view(-1, 1)


class Probabilities(ToyD):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.net.append(nn.Sigmoid())


class Unused(ToyG):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.spare = nn.Linear(2, 2)


class EvalOnly(ToyG):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.shift = nn.Parameter(torch.zeros(1))

    def forward(self, z, labels=None):
        x = super().forward(z, labels)
        return x if self.training else (x + self.shift).clamp(-1, 1)


class DeafG(ToyG):
    def forward(self, z, labels=None):
        self.condition(z, labels)  # refuses None, then ignores the label
        labels = torch.zeros_like(labels)
        return super().forward(z, labels)


class DeafD(ToyD):
    def forward(self, x, labels=None):
        return super().forward(x, None if labels is None else torch.zeros_like(labels))


class Lenient(ToyD):
    def forward(self, x, labels=None):
        return super().forward(x, torch.zeros(len(x), dtype=torch.long) if labels is None else labels)


class Unsaved(ToyG):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.projection = torch.randn(math.prod(self.data_shape))  # neither a parameter nor a buffer

    def forward(self, z, labels=None):
        return torch.tanh(super().forward(z, labels) + self.projection.view(self.data_shape))


class Unseeded(ToyG):
    def sample_latent(self, n, generator=None):
        return torch.randn(n, self.latent_dim)  # ignores the generator it is given


class Noisy(ToyG):
    def forward(self, z, labels=None):
        return torch.tanh(super().forward(z, labels) + 0.1 * torch.randn(len(z), *self.data_shape))


class Fussy(ToyG):
    def __init__(self, *, data_shape, **kw):
        if len(data_shape) == 1:
            raise RuntimeError("vectors are not supported")  # should be a ShapeMismatchError
        super().__init__(data_shape=data_shape, **kw)


def catalog_with(g=ToyG, d=ToyD, conditional=False) -> ganzoo.Catalog:
    class Broken:
        @ganzoo.hookimpl
        def register_architectures(self, register):
            register(ganzoo.Architecture("toy", g, d, conditional=conditional))

    catalog = ganzoo.load_catalog(entry_points=False, plugins=[("core", builtin), ("broken", Broken())])
    assert catalog.failures == []
    return catalog


@pytest.mark.parametrize(("g", "d", "conditional", "check", "message"), [
    (ToyG, ToyD, False, testing.check_architecture, None),
    (ToyG, ToyD, True, testing.check_architecture, None),
    (Unbounded, ToyD, False, testing.check_shape_contract, r"must lie in \[-1, 1\]"),
    (ToyG, ColumnLogits, False, testing.check_shape_contract, r"discriminator output has shape \(2, 1\)"),
    (ToyG, Probabilities, False, testing.check_shape_contract, "ends in a Sigmoid: it must return raw logits"),
    (Unused, ToyD, False, testing.check_shape_contract, "G.spare.weight got no gradient"),
    (EvalOnly, ToyD, False, testing.check_training_step, "G's shift got no gradient in a training step"),
    (DeafG, ToyD, True, testing.check_conditioning, "G ignores the label"),
    (ToyG, DeafD, True, testing.check_conditioning, "D ignores the label"),
    (ToyG, Lenient, True, testing.check_conditioning, r"D\(x, None\) returned a result"),
    (Unsaved, ToyD, False, testing.check_round_trip, "gives other samples than the model that was saved"),
    (Unseeded, ToyD, False, testing.check_determinism, "draw from `generator`"),
    (Noisy, ToyD, False, testing.check_determinism, "eval mode gives two different outputs"),
    (Fussy, ToyD, False, testing.fitting_shapes, r"on data \(2,\): building the model raised RuntimeError"),
])
def test_each_check_catches_its_breach(g, d, conditional, check, message):
    catalog = catalog_with(g, d, conditional)
    if message is None:  # the unbroken toy passes, so each failure below is the one change's doing
        check("toy", catalog=catalog)
        return
    with pytest.raises(AssertionError, match=message) as err:
        check("toy", catalog=catalog)
    assert str(err.value).startswith("architecture 'toy' (plugin 'broken')")


class Sound(ganzoo.Loss):
    """The non-saturating loss; each broken variant below changes one thing."""

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits):
        return F.softplus(-fake_logits).mean()


class Backwards(Sound):
    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()


class Sulky(Sound):  # G prefers being caught
    def generator_loss(self, fake_logits):
        return F.softplus(fake_logits).mean()


class PerSample(Sound):
    def generator_loss(self, fake_logits):
        return F.softplus(-fake_logits)


class Naive(Sound):
    def discriminator_loss(self, real_logits, fake_logits):
        return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()


class Meddling(Sound):
    def discriminator_loss(self, real_logits, fake_logits):
        fake_logits.data.mul_(2)
        return super().discriminator_loss(real_logits, fake_logits)


class NegativePenalty(Sound):
    def penalty(self, discriminator, real, fake, labels=None):
        return -discriminator(real, labels).pow(2).mean()


class DetachedPenalty(Sound):
    def penalty(self, discriminator, real, fake, labels=None):
        return discriminator(real, labels).detach().pow(2).mean()


class NeedsArguments(Sound):
    def __init__(self, weight):
        self.weight = weight


@pytest.mark.parametrize(("cls", "message"), [
    (Sound, None),
    (Backwards, "raising the real logits raises the discriminator loss"),
    (Sulky, "raising the fake logits raises the generator loss"),
    (PerSample, r"generator_loss must return a scalar \(0-dim\) tensor, got shape \(16,\)"),
    (Naive, "must be a finite floating-point number"),
    (Meddling, "changed the logits it was given in place"),
    (NegativePenalty, "penalty must be non-negative"),
    (DetachedPenalty, "penalty is detached"),
    (NeedsArguments, "constructing the loss with no arguments raised TypeError"),
])
def test_loss_checks_catch_their_breach(cls, message):
    class Broken:
        @ganzoo.hookimpl
        def register_losses(self, register):
            register("bad-loss", cls)

    catalog = ganzoo.load_catalog(entry_points=False, plugins=[("broken", Broken())])
    if message is None:
        testing.check_loss("bad-loss", catalog=catalog)
        return
    with pytest.raises(AssertionError, match=message) as err:
        testing.check_loss("bad-loss", catalog=catalog)
    assert str(err.value).startswith(f"loss 'bad-loss' (plugin 'broken', class {cls.__name__})")


def test_the_docs_test_file_passes_for_the_docs_plugin(install_distribution):
    """docs/plugins.md's example test file, run against its ganzoo-tiny plugin."""
    import re

    doc = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    plugin = next(b for b in blocks if "register_architectures" in b)
    tests = next(b for b in blocks if "def test_tiny_conforms():" in b)
    install_distribution("ganzoo-tiny", {"thirdparty_tiny_kit": plugin}, {"tiny": "thirdparty_tiny_kit"})
    ganzoo.reset_catalog()
    namespace: dict = {}
    exec(compile(tests, "docs/plugins.md", "exec"), namespace)
    test_functions = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(test_functions) == 2
    for test in test_functions:
        test()


def test_a_loss_is_checked_with_its_options_too():
    """``NAME:KEY=VALUE`` is checked as the trainer builds it (a loss needing an argument passes with it)."""

    class Plugin:
        @ganzoo.hookimpl
        def register_losses(self, register):
            register("weighted", NeedsArguments)

    catalog = ganzoo.load_catalog(entry_points=False, plugins=[("weighted", Plugin())])
    testing.check_loss("weighted:weight=2", catalog=catalog)
    testing.check_loss("non-saturating-r1:gamma=3")
    with pytest.raises(AssertionError, match="constructing the loss with no arguments raised TypeError"):
        testing.check_loss("weighted", catalog=catalog)
    with pytest.raises(AssertionError, match="constructing the loss with its options raised ConfigError: loss "
                                             "'weighted' has no option wieght; it takes weight"):
        testing.check_loss("weighted:wieght=2", catalog=catalog)
