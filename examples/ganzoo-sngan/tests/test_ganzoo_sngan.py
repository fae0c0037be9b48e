"""ganzoo-sngan's own tests: it is discovered, it keeps ganzoo's contracts, and it does what the papers say."""

from __future__ import annotations

import math

import ganzoo_sngan
import pytest
import torch
from torch import nn

import ganzoo

SMALL = {"base_channels": 8}


def test_plugin_is_discovered_through_its_entry_point():
    catalog = ganzoo.load_catalog()
    info = next(p for p in catalog.plugins if p.name == "sngan")
    assert info.distribution == "ganzoo-sngan" and info.version == ganzoo_sngan.__version__
    assert sorted(info.hooks) == ["register_architectures", "register_losses"]
    assert catalog.architectures["sngan"].plugin == "sngan"
    assert catalog.losses["relativistic-average"].plugin == "sngan"
    assert catalog.failures == []


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_sngan_passes_the_conformance_kit(ganzoo_kit, shape):
    ganzoo_kit.check_architecture("sngan", data_shape=shape, options=SMALL)


def test_relativistic_average_passes_the_conformance_kit(ganzoo_kit):
    ganzoo_kit.check_loss("relativistic-average")


def test_vectors_are_refused_with_a_pointer_to_an_mlp():
    with pytest.raises(ganzoo.ShapeMismatchError, match=r"sngan needs images.*'gan'"):
        ganzoo.create("sngan", data_shape=(2,))


def test_bad_options_are_refused():
    with pytest.raises(ganzoo.ConfigError, match="base_channels"):
        ganzoo.create("sngan", data_shape=(1, 8, 8), base_channels=0)
    with pytest.raises(ganzoo.ConfigError, match="power_iterations"):
        ganzoo.create("sngan", data_shape=(1, 8, 8), power_iterations=0)


def convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


def test_the_papers_cifar_network():
    g, d = ganzoo.create("sngan", data_shape=(3, 32, 32))
    d_layers = convs(d)
    assert [m.out_channels for m in d_layers[:-1]] == [64, 64, 128, 128, 256, 256, 512]
    assert [m.kernel_size for m in d_layers[:-1]] == [(3, 3), (4, 4)] * 3 + [(3, 3)]
    assert [m.stride for m in d_layers[:-1]] == [(1, 1), (2, 2)] * 3 + [(1, 1)]
    assert isinstance(d_layers[-1], nn.Linear) and d_layers[-1].in_features == 512 * 4 * 4
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert g.latent_dim == 128
    assert [m.out_channels for m in convs(g)[1:]] == [256, 128, 64, 3]
    assert isinstance(list(g.modules())[-1], nn.Tanh)


def test_every_discriminator_layer_is_spectrally_normalized_and_no_generator_layer():
    g, d = ganzoo.create("sngan", data_shape=(1, 16, 16), **SMALL)
    is_sn = torch.nn.utils.parametrize.is_parametrized
    assert all(is_sn(m, "weight") for m in convs(d))
    assert not any(is_sn(m, "weight") for m in convs(g))


def test_power_iteration_brings_every_layer_to_norm_one():
    torch.manual_seed(0)
    _, d = ganzoo.create("sngan", data_shape=(3, 16, 16), **SMALL)
    raw = [float(torch.linalg.matrix_norm(m.parametrizations.weight.original.detach().flatten(1), ord=2))
           for m in convs(d)]
    assert max(abs(s - 1) for s in raw) > 0.2  # the weights themselves are not normalized
    d.train()
    x = torch.randn(4, 3, 16, 16)
    for _ in range(50):  # one power-iteration step per training forward pass
        d(x)
    sigmas = ganzoo_sngan.spectral_norms(d)
    assert len(sigmas) == len(raw)
    assert all(abs(s - 1) < 1e-2 for s in sigmas.values()), sigmas


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_relativistic_average_values_match_hand_computation():
    loss = ganzoo.get_catalog().loss("relativistic-average")
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])  # means 2 and -1
    d_expected = (softplus(-(1 + 1)) + softplus(-(3 + 1))) / 2 + (softplus(0 - 2) + softplus(-2 - 2)) / 2
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(d_expected, rel=1e-6)
    fake_g = torch.tensor([1.0, 1.0])  # G's phase uses the real logits of the D phase: mean 2
    g_expected = softplus(-(1 - 2)) + (softplus(1 - 1) + softplus(3 - 1)) / 2
    assert loss.generator_loss(fake_g).item() == pytest.approx(g_expected, rel=1e-6)


def test_relativistic_generator_loss_needs_the_discriminator_phase():
    with pytest.raises(ganzoo.ConfigError, match="call discriminator_loss first"):
        ganzoo.get_catalog().loss("relativistic-average").generator_loss(torch.zeros(2))


def test_trains_with_the_relativistic_loss():
    result = ganzoo.train("sngan", "digits", steps=3, batch_size=16, ema=0, log_every=1,
                          loss="relativistic-average", model=SMALL)
    assert [r["step"] for r in result.history] == [1, 2, 3]
    assert all(math.isfinite(v) for r in result.history for v in r.values())
