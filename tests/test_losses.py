"""Every built-in loss against values computed by hand, and the saturation that names them."""

from __future__ import annotations

import math

import pytest
import torch

import ganzoo

REAL = torch.tensor([0.0, 2.0])
FAKE = torch.tensor([-1.0, 1.0])


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)


# D maximizes E log D(x) + E log(1 - D(G(z))): its loss is the negation.
D_GAN = -mean(math.log(sig(r)) for r in REAL.tolist()) - mean(math.log(1 - sig(f)) for f in FAKE.tolist())

EXPECTED = {
    "minimax": (D_GAN, mean(math.log(1 - sig(f)) for f in FAKE.tolist())),
    "non-saturating": (D_GAN, -mean(math.log(sig(f)) for f in FAKE.tolist())),
    # hinge: mean(max(0, 1 - r)) = (1 + 0) / 2; mean(max(0, 1 + f)) = (0 + 2) / 2; G: -mean(f) = 0
    "hinge": (0.5 + 1.0, 0.0),
    # least squares: 0.5 mean((r - 1)^2) = 0.5; 0.5 mean(f^2) = 0.5; G: 0.5 mean((f - 1)^2) = 0.5 * (4 + 0) / 2
    "least-squares": (1.0, 1.0),
    # critic: mean(f) - mean(r) = 0 - 1; G: -mean(f) = 0
    "wasserstein-gp": (-1.0, 0.0),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_values_match_hand_computation(name):
    loss = ganzoo.get_catalog().loss(name)
    d_expected, g_expected = EXPECTED[name]
    assert loss.discriminator_loss(REAL, FAKE).item() == pytest.approx(d_expected, abs=1e-6)
    assert loss.generator_loss(FAKE).item() == pytest.approx(g_expected, abs=1e-6)


def test_every_builtin_loss_is_checked_here():
    # Losses of installed plugins are checked by the conformance kit (tests/test_kit.py).
    builtin = {name for name, r in ganzoo.get_catalog().losses.items() if r.plugin == "core"}
    assert builtin == set(EXPECTED)


def _grad_of_generator_loss(name: str, logit: float) -> float:
    f = torch.tensor([logit], requires_grad=True)
    ganzoo.get_catalog().loss(name).generator_loss(f).backward()
    return f.grad.item()


def test_minimax_saturates_and_non_saturating_does_not():
    # When D confidently rejects a sample (logit -10), the saturating loss gives G almost no gradient.
    assert abs(_grad_of_generator_loss("minimax", -10.0)) < 1e-4
    assert abs(_grad_of_generator_loss("non-saturating", -10.0)) > 0.99
    # Both push the logit up (G wants D(G(z)) larger): the gradient of the loss is negative.
    assert _grad_of_generator_loss("minimax", 0.0) < 0 and _grad_of_generator_loss("non-saturating", 0.0) < 0


def test_log_terms_are_stable_for_extreme_logits():
    loss = ganzoo.get_catalog().loss("non-saturating")
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(loss.discriminator_loss(big, -big))
    assert loss.discriminator_loss(big[:1], -big[:1]).item() == pytest.approx(0.0, abs=1e-6)


class Linear(torch.nn.Module):
    """D(x) = w . x, whose input gradient has norm |w| everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))

    def forward(self, x, labels=None):
        return x @ self.w


@pytest.mark.parametrize(("w", "expected"), [([3.0, 4.0], 10 * (5 - 1) ** 2), ([0.6, 0.8], 0.0)])
def test_gradient_penalty_on_a_linear_critic(w, expected):
    loss = ganzoo.get_catalog().loss("wasserstein-gp")
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    penalty = loss.penalty(Linear(w), real, fake)
    assert penalty.item() == pytest.approx(expected, abs=1e-4)


def test_gradient_penalty_reaches_the_critic_weights():
    loss = ganzoo.get_catalog().loss("wasserstein-gp")
    critic = Linear([3.0, 4.0])
    loss.penalty(critic, torch.randn(8, 2), torch.randn(8, 2)).backward()
    # d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w| = 16 w
    assert torch.allclose(critic.w.grad, 16 * critic.w.detach(), atol=1e-4)


def test_input_gradient_is_d_s_slope_and_reaches_only_d_s_weights():
    from ganzoo.losses import input_gradient

    critic = Linear([3.0, 4.0])
    source = torch.randn(5, 2, requires_grad=True)  # stands for whatever produced the batch
    grad = input_gradient(critic, source * 2)
    assert torch.equal(grad, torch.tensor([[3.0, 4.0]]).expand(5, 2))
    grad.pow(2).sum().backward()  # differentiable again, with respect to D's weights
    assert torch.allclose(critic.w.grad, 10 * torch.tensor([3.0, 4.0]))
    assert source.grad is None  # the input was detached


def test_other_losses_have_no_penalty():
    for name in ("minimax", "non-saturating", "hinge", "least-squares"):
        assert ganzoo.get_catalog().loss(name).penalty(Linear([1.0, 0.0]), torch.zeros(2, 2), torch.zeros(2, 2)) is None
