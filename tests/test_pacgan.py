"""PacGAN's packed discriminator: packs of consecutive samples, one logit per pack repeated per sample."""

from __future__ import annotations

import pytest
import torch
from ganzoo_pacgan import PACK, PackedDiscriminator, pack_samples, unpack_logits
from torch import nn

import ganzoo
from ganzoo import testing
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit


@pytest.fixture
def discriminator() -> PackedDiscriminator:
    torch.manual_seed(0)
    _, d = ganzoo.create("pacgan", data_shape=(2,), hidden=16, depth=2)
    assert isinstance(d, PackedDiscriminator)
    return d.eval()


def test_pacgan_passes_the_kit_on_vectors_and_images():
    testing.check_architecture("pacgan", data_shape=(2,))
    testing.check_architecture("pacgan", data_shape=(1, 8, 8), options={"pack": 2, "spectral_norm": True})


def test_default_is_pacgan4_with_a_pack_wide_input_layer(discriminator):
    assert PACK == 4 and discriminator.pack == 4 and discriminator.batch_multiple == 4
    first = next(m for m in discriminator.modules() if isinstance(m, nn.Linear))
    assert first.in_features == 4 * 2


def test_packs_are_consecutive_samples_side_by_side():
    x = torch.arange(24.0).view(6, 2, 2)
    packed = pack_samples(x, 3)
    assert packed.shape == (2, 12)
    assert torch.equal(packed[0], x[:3].flatten()) and torch.equal(packed[1], x[3:].flatten())
    assert torch.equal(unpack_logits(torch.tensor([1.0, 2.0]), 3), torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0, 2.0]))


def test_each_pack_logit_is_repeated_for_its_samples(discriminator):
    x = torch.randn(12, 2)
    with torch.no_grad():
        logits = discriminator(x)
        by_pack = discriminator.net(x.view(3, 8)).view(3)
    assert logits.shape == (12,)
    assert torch.equal(logits.view(3, 4), by_pack[:, None].expand(3, 4))
    assert by_pack.unique().numel() == 3, "different packs get different logits"


def test_a_pack_is_judged_as_a_whole(discriminator):
    x = torch.randn(8, 2)
    y = x.clone()
    y[5] += 1.0  # change one sample of the second pack
    with torch.no_grad():
        a, b = discriminator(x), discriminator(y)
    assert torch.equal(a[:4], b[:4]), "the first pack is untouched"
    assert not torch.isclose(a[4:], b[4:]).any(), "every sample of the changed pack gets the new logit"


def test_the_loss_mean_over_samples_is_the_mean_over_packs(discriminator):
    loss = ganzoo.get_catalog().loss("non-saturating")
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    with torch.no_grad():
        per_sample = loss.discriminator_loss(discriminator(real), discriminator(fake))
        per_pack = loss.discriminator_loss(discriminator.net(real.view(4, 8)).view(4),
                                           discriminator.net(fake.view(4, 8)).view(4))
    assert per_sample.item() == pytest.approx(per_pack.item(), abs=1e-6)


@pytest.mark.parametrize(("n", "hint"), [(6, "e.g. 4 or 8"), (3, "e.g. 4 or 4"), (10, "e.g. 8 or 12")])
def test_a_batch_the_pack_does_not_divide_is_refused(discriminator, n, hint):
    with pytest.raises(ganzoo.ConfigError, match=rf"batch of {n} samples cannot be split into packs of 4") as err:
        discriminator(torch.randn(n, 2))
    assert hint in str(err.value) and "--model pack=" in str(err.value)


def test_training_with_an_indivisible_batch_size_fails_clearly():
    config = TrainConfig(architecture="pacgan", dataset="ring8", steps=1, batch_size=10, ema=0.0, device="cpu")
    with pytest.raises(ganzoo.ConfigError, match="batch of 10 samples cannot be split into packs of 4"):
        fit(config)


@pytest.mark.parametrize("pack", [0, -1, 2.0, True])
def test_bad_pack_sizes_are_refused(pack):
    # a bool or a float is refused as every model option is (ganzoo.values); 0 and -1 by the family
    with pytest.raises(ganzoo.ConfigError, match=r"pack (of 'pacgan' )?must be a (positive integer|whole number)"):
        ganzoo.create("pacgan", data_shape=(2,), pack=pack)


def test_pack_one_is_the_unpacked_gan_discriminator():
    torch.manual_seed(0)
    _, packed = ganzoo.create("pacgan", data_shape=(2,), pack=1)
    torch.manual_seed(0)
    _, plain = ganzoo.create("gan", data_shape=(2,))
    x = torch.randn(5, 2)
    with torch.no_grad():
        assert torch.equal(packed.eval()(x), plain.eval()(x))


def test_spectral_norm_bounds_every_layer():
    torch.manual_seed(0)
    _, d = ganzoo.create("pacgan", data_shape=(2,), spectral_norm=True)
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert linears and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in linears)
    d.train()
    for _ in range(30):  # power iterations converge on the largest singular value
        d(torch.randn(8, 2))
    d.eval()
    for m in linears:
        assert torch.linalg.matrix_norm(m.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=0.05)
    _, plain = ganzoo.create("pacgan", data_shape=(2,))
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in plain.modules())
