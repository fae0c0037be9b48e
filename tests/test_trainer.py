"""The generic trainer, driven over every registered architecture, loss and fitting dataset."""

from __future__ import annotations

import shutil

import pytest
import torch

import ganzoo
from ganzoo.registry import Registry, load_generator
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit
from ganzoo.training.state import Callback

ARCHITECTURES = sorted(ganzoo.load_catalog().architectures)
DATASETS = ["digits", "ring8", "grid25"]
# Which built-in architecture fits which built-in dataset; unlisted ones must at least fit or refuse cleanly.
FITS = {
    "gan": {"digits", "ring8", "grid25"},
    "cgan": {"digits", "ring8", "grid25"},
    "dcgan": {"digits"},
    "cdcgan": {"digits"},
    "cdcgan-proj": {"digits"},
    "pacgan": {"digits", "ring8", "grid25"},
}
SMALL = {"base_channels": 8}  # keeps the convolutional models fast in tests


def small_options(arch: str) -> dict:
    import inspect

    a = ganzoo.get_catalog().architecture(arch)
    params = set(inspect.signature(a.generator).parameters) | set(inspect.signature(a.discriminator).parameters)
    return {k: v for k, v in SMALL.items() if k in params}


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def config(arch: str, dataset: str, **kw) -> TrainConfig:
    base = dict(architecture=arch, dataset=dataset, steps=2, batch_size=16, model=small_options(arch),
                log_every=1, ema=0.9)
    base.update(kw)
    return TrainConfig(**base)


class Snapshot(Callback):
    def on_train_start(self, state):
        self.g0 = params(state.generator)
        self.d0 = params(state.discriminator)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_one_step_trains_every_fitting_pair(arch, dataset):
    fits = FITS.get(arch)
    if fits is not None and dataset not in fits:
        with pytest.raises(ganzoo.ShapeMismatchError):
            fit(config(arch, dataset))
        return
    snap = Snapshot()
    try:
        result = fit(config(arch, dataset), callbacks=[snap])
    except ganzoo.ShapeMismatchError:
        if fits is not None:
            raise
        pytest.skip(f"{arch} (an installed plugin) refuses {dataset}")
    for before, after in ((snap.g0, result.generator.parameters()), (snap.d0, result.discriminator.parameters())):
        changed = [not torch.equal(b, a.detach()) for b, a in zip(before, after, strict=True)]
        assert all(changed), f"{sum(not c for c in changed)} parameter tensors did not move"
    assert [r["step"] for r in result.history] == [1, 2]
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert all(torch.isfinite(torch.tensor(r[key])) for r in result.history)
    assert 0 <= result.history[-1]["d_real"] <= 1


@pytest.mark.parametrize("loss", sorted(ganzoo.load_catalog().losses))
def test_every_loss_trains(loss):
    snap = Snapshot()
    result = fit(config("gan", "ring8", loss=loss), callbacks=[snap])
    assert not torch.equal(snap.g0[0], next(result.generator.parameters()).detach())
    assert not torch.equal(snap.d0[0], next(result.discriminator.parameters()).detach())


@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_steps_per_generator_step(k):
    class Count(Callback):
        def on_train_start(self, state):
            self.d_calls = 0
            self.g_steps = 0
            state.discriminator.register_forward_hook(lambda *a: setattr(self, "d_calls", self.d_calls + 1))
            self.opt_steps = []

        def on_step_end(self, state, metrics):
            self.g_steps += 1

    count = Count()
    fit(config("gan", "ring8", d_steps=k, steps=3), callbacks=[count])
    assert count.g_steps == 3
    # per generator step: k x (real + fake) discriminator passes, then one pass for G's loss
    assert count.d_calls == 3 * (2 * k + 1)


def test_same_seed_same_weights_and_other_seed_differs():
    a = fit(config("dcgan", "digits", steps=3))
    b = fit(config("dcgan", "digits", steps=3))
    c = fit(config("dcgan", "digits", steps=3, seed=1))
    for pa, pb in zip(a.generator.parameters(), b.generator.parameters(), strict=True):
        assert torch.equal(pa, pb)
    pairs = zip(a.generator.parameters(), c.generator.parameters(), strict=True)
    assert not all(torch.equal(pa, pc) for pa, pc in pairs)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_publish_then_load_gives_identical_outputs(arch, tmp_path):
    dataset = "digits"
    result = fit(config(arch, dataset))
    reg = Registry(tmp_path / "reg")
    record = ganzoo.publish(result, registry=reg)
    z = result.best_generator.sample_latent(5)
    labels = torch.arange(5) % 10 if result.spec.num_classes else None
    with torch.no_grad():
        expected = result.best_generator.eval()(z, labels)
        for ref in (record.ref, record.name, f"{record.name}@latest"):
            assert torch.equal(load_generator(ref, registry=reg)(z, labels), expected)
        raw = load_generator(record.ref, registry=reg, ema=False)
        assert torch.equal(raw(z, labels), result.generator.eval()(z, labels))
        copied = shutil.copy(record.path / "generator_ema.safetensors", tmp_path / "copy.safetensors")
        assert torch.equal(load_generator(copied)(z, labels), expected)


def test_conditional_generation_follows_labels():
    result = fit(config("cgan", "ring8", steps=2))
    out = ganzoo.generate(result.best_generator, 4, labels=3)
    assert out.shape == (4, 2)
    with pytest.raises(ganzoo.ConfigError, match="label 8 is out of range"):
        ganzoo.generate(result.best_generator, 4, labels=8)


def test_bad_config_values_are_refused_with_the_name():
    with pytest.raises(ganzoo.ConfigError, match="d_steps must be a positive integer, got 0"):
        TrainConfig(d_steps=0)
    with pytest.raises(ganzoo.ConfigError, match="lr_g must be a positive number"):
        TrainConfig(lr_g=-1.0)
    with pytest.raises(ganzoo.ConfigError, match="batch_size must be at least 2"):
        TrainConfig(batch_size=1)
    with pytest.raises(ganzoo.ConfigError, match="batch size 5000 is larger than dataset 'digits'"):
        fit(TrainConfig(architecture="gan", batch_size=5000, steps=1))


def test_divergence_stops_before_the_optimizer_step(monkeypatch):
    from ganzoo.losses import NonSaturating

    monkeypatch.setattr(NonSaturating, "generator_loss", lambda self, f: f.mean() * float("nan"))
    with pytest.raises(ganzoo.TrainingDiverged, match="generator loss became nan at step 1"):
        fit(config("gan", "ring8"))


def test_image_size_resizes_once_and_sets_dcgan_depth():
    result = fit(config("dcgan", "digits", image_size=16, steps=1))
    assert result.dataset.shape == (1, 16, 16)
    assert result.dataset.preprocessing["resize"]["to"] == [16, 16]
    assert result.spec.data_shape == (1, 16, 16)
    with pytest.raises(ganzoo.ShapeMismatchError, match="--image-size"):
        fit(config("dcgan", "digits", image_size=9, steps=1))
