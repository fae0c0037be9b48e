"""The R1 loss plugin, loss options (``NAME:KEY=VALUE``) and the learning-rate decay."""

from __future__ import annotations

import json

import pytest
import torch
from ganzoo_r1 import NonSaturatingR1
from test_losses import Linear  # D(x) = w . x: its input gradient is w everywhere

import ganzoo
from ganzoo.losses import lr_scale
from ganzoo.training.state import Callback


class Square(torch.nn.Module):
    """D(x) = |x|^2: its input gradient is 2x, so the penalty tells real from generated input."""

    def forward(self, x, labels=None):
        return x.pow(2).sum(1)


def test_r1_is_registered_with_its_options():
    catalog = ganzoo.get_catalog()
    assert catalog.losses["non-saturating-r1"].plugin == "r1"
    assert catalog.loss("non-saturating-r1").gamma == 1.0
    assert catalog.loss("non-saturating-r1:gamma=3").gamma == 3.0
    assert catalog.loss("non-saturating-r1: gamma = 0.5").gamma == 0.5


@pytest.mark.parametrize(("w", "gamma", "expected"), [([3.0, 4.0], 2.0, 25.0), ([3.0, 4.0], 0.5, 6.25),
                                                      ([0.0, 1.0], 10.0, 5.0)])
def test_r1_penalty_on_a_linear_discriminator(w, gamma, expected):
    penalty = NonSaturatingR1(gamma).penalty(Linear(w), torch.randn(16, 2), torch.randn(16, 2))
    assert penalty.item() == pytest.approx(expected, rel=1e-5)  # gamma / 2 * |w|^2


def test_r1_penalty_is_taken_at_the_real_batch_and_reaches_d():
    real, fake = torch.full((8, 2), 1.0), torch.full((8, 2), 5.0)
    # grad |x|^2 = 2x = (2, 2) at the real points: |.|^2 = 8; gamma / 2 * 8 = 4 (at the fakes it would be 100)
    assert NonSaturatingR1(1.0).penalty(Square(), real, fake).item() == pytest.approx(4.0)
    d = Linear([3.0, 4.0])
    NonSaturatingR1(2.0).penalty(d, torch.randn(8, 2), torch.randn(8, 2)).backward()
    assert torch.allclose(d.w.grad, 2.0 * d.w.detach())  # d/dw gamma / 2 |w|^2 = gamma w


def test_r1_keeps_the_non_saturating_game():
    loss, plain = NonSaturatingR1(1.0), ganzoo.get_catalog().loss("non-saturating")
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 1.0])
    assert loss.discriminator_loss(real, fake) == plain.discriminator_loss(real, fake)
    assert loss.generator_loss(fake) == plain.generator_loss(fake)
    points = torch.zeros(2, 2)
    assert NonSaturatingR1(0).penalty(Linear([1.0, 0.0]), points, points) is None


def test_builtin_losses_take_options_the_same_way():
    assert ganzoo.get_catalog().loss("wasserstein-gp:weight=1").weight == 1


@pytest.mark.parametrize(("spec", "words"), [
    ("non-saturating-r1:gama=3", ["no option gama", "it takes decay, gamma, gamma_end"]),
    ("non-saturating-r1:gamma=-1", ["gamma must be a number >= 0", "-1"]),
    ("non-saturating-r1:gamma", ["KEY=VALUE", "'gamma'"]),
    ("hinge:margin=2", ["no option margin", "takes no options"]),
    ("nonsaturating-r1:gamma=1", ["nonsaturating-r1"]),
])
def test_bad_loss_options_are_refused_clearly(spec, words):
    with pytest.raises(ganzoo.GanzooError) as info:
        ganzoo.get_catalog().loss(spec)
    for word in words:
        assert word in str(info.value)


def test_train_with_r1_and_lr_decay_from_the_cli(cli_run, tmp_path):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "12", "--batch-size", "32", "--loss",
            "non-saturating-r1:gamma=3", "--lr-decay", "0.5", "--registry", str(tmp_path / "reg"),
            "--name", "ring-r1")
    manifest = json.loads(cli_run("models", "show", "ring-r1", "--registry", str(tmp_path / "reg")).output)
    config = _find_config(manifest)
    assert config["loss"] == "non-saturating-r1:gamma=3" and config["lr_decay"] == 0.5
    out = cli_run("train", "gan", "--dataset", "ring8", "--steps", "2", "--loss", "non-saturating-r1:gama=3",
                  "--no-publish", code=1).output
    assert "no option gama" in out and "Traceback" not in out


def _find_config(tree):
    """The training config inside a manifest, wherever the manifest nests it."""
    if isinstance(tree, dict):
        if "lr_decay" in tree and "loss" in tree:
            return tree
        for value in tree.values():
            found = _find_config(value)
            if found is not None:
                return found
    return None


def test_lr_scale_falls_linearly_over_the_last_share():
    assert [lr_scale(s, 10, 0.4) for s in range(1, 11)] == [1, 1, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25]
    assert all(lr_scale(s, 10, 0.0) == 1.0 for s in range(1, 11))
    assert lr_scale(1, 4, 1.0) == 1.0 and lr_scale(4, 4, 1.0) == 0.25


class RecordLR(Callback):
    def __init__(self):
        self.lrs = []

    def on_step_end(self, state, metrics):
        self.lrs.append((state.opt_g.param_groups[0]["lr"], state.opt_d.param_groups[0]["lr"]))


def test_trainer_applies_the_decay_to_both_optimizers():
    record = RecordLR()
    ganzoo.train("gan", "ring8", steps=8, batch_size=16, lr_g=1e-3, lr_d=2e-3, lr_decay=0.5, callbacks=[record])
    scales = [1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25]
    assert record.lrs == [pytest.approx((1e-3 * s, 2e-3 * s)) for s in scales]


def test_lr_decay_is_checked():
    with pytest.raises(ganzoo.ConfigError, match="lr_decay must be a fraction in"):
        ganzoo.train("gan", "ring8", steps=2, lr_decay=1.5)


class RecordWeight(Callback):
    def __init__(self):
        self.weights = []

    def on_step_end(self, state, metrics):
        self.weights.append(state.loss.weight)


def test_r1_weight_decays_with_the_run_when_asked():
    record = RecordWeight()
    ganzoo.train("gan", "ring8", steps=8, batch_size=16, loss="non-saturating-r1:gamma=10,decay=0.5,gamma_end=2",
                 callbacks=[record])
    # 10 until the last 4 steps, then towards 2 on --lr-decay's schedule (scale 1, 0.75, 0.5, 0.25)
    assert record.weights == pytest.approx([10, 10, 10, 10, 10, 8, 6, 4])
    record = RecordWeight()
    ganzoo.train("gan", "ring8", steps=3, batch_size=16, loss="non-saturating-r1:gamma=3", callbacks=[record])
    assert record.weights == [3.0, 3.0, 3.0]  # no decay: constant


def test_r1_penalty_uses_the_weight_of_the_step():
    loss = NonSaturatingR1(gamma=4.0, decay=1.0)
    points = torch.randn(8, 2)
    loss.set_progress(3, 4)  # scale 0.5: weight 2
    assert loss.penalty(Linear([3.0, 4.0]), points, points).item() == pytest.approx(25.0)  # 2 / 2 * |w|^2
    loss.set_progress(1, 1)  # one step of one: scale 1
    assert loss.weight == 4.0


@pytest.mark.parametrize(("spec", "word"), [("non-saturating-r1:decay=1.5", "decay must be a fraction in [0, 1]"),
                                            ("non-saturating-r1:gamma_end=-2", "gamma_end must be a number >= 0")])
def test_r1_schedule_options_are_checked(spec, word):
    with pytest.raises(ganzoo.ConfigError) as info:
        ganzoo.get_catalog().loss(spec)
    assert word in str(info.value)
