"""BatchNorm statistics of a trained generator describe the network that samples (eval mode)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.training import batchnorm
from ganzoo.training.batchnorm import recalibrate_batchnorm
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit


class TwoNormGenerator(ganzoo.Generator):
    """Two BatchNorm layers, declared in the opposite order to the one the forward pass meets them."""

    def __init__(self) -> None:
        super().__init__(data_shape=(2,), latent_dim=3)
        self.out = nn.Linear(8, 2)
        self.bn2 = nn.BatchNorm1d(8)
        self.mid = nn.Linear(8, 8)
        self.bn1 = nn.BatchNorm1d(8)
        self.inp = nn.Linear(3, 8)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.bn1(self.inp(z)))
        return self.out(torch.relu(self.bn2(self.mid(h))))


def norms(g: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def eval_input_stats(g: ganzoo.Generator, n: int = 100_000) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Mean and variance of what each BatchNorm layer receives when ``g`` samples in eval mode."""
    seen: dict[int, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, i=i: seen.__setitem__(i, args[0]))
             for i, m in enumerate(norms(g))]
    was_training = g.training
    g.eval()
    g(g.sample_latent(n, generator=torch.Generator().manual_seed(5)))
    g.train(was_training)
    for h in hooks:
        h.remove()
    return {i: (x.mean(0), x.var(0)) for i, x in seen.items()}


def worst_errors(g: ganzoo.Generator) -> tuple[float, float]:
    """Largest error of the running mean (in std) and of the running variance (relative), over all layers."""
    stats = eval_input_stats(g)
    mean_err = var_err = 0.0
    for i, m in enumerate(norms(g)):
        mean, var = stats[i]
        assert m.running_mean is not None and m.running_var is not None
        mean_err = max(mean_err, float(((m.running_mean - mean).abs() / var.sqrt()).max()))
        var_err = max(var_err, float(((m.running_var - var).abs() / var).max()))
    return mean_err, var_err


def test_statistics_are_those_of_the_eval_mode_network_even_from_tiny_batches():
    torch.manual_seed(0)
    g = TwoNormGenerator()
    recalibrate_batchnorm(g, 4, samples=4096)
    mean_err, var_err = worst_errors(g)
    assert mean_err < 0.08 and var_err < 0.15, (mean_err, var_err)
    assert g.bn1.momentum == 0.1 and g.bn2.momentum == 0.1  # restored
    assert g.training  # the mode it came in with


def test_all_layers_at_once_in_train_mode_would_miss_the_later_layer():
    """The naive way (every layer in train mode together) is measurably off: what the test above guards against."""
    torch.manual_seed(0)
    g = TwoNormGenerator()
    naive = copy.deepcopy(g)
    for m in norms(naive):
        m.reset_running_stats()
        m.momentum = None
    with torch.no_grad():
        for _ in range(1024):
            naive(naive.sample_latent(4))
    assert worst_errors(naive)[1] > 0.3
    recalibrate_batchnorm(g, 4, samples=4096)
    assert worst_errors(g)[1] < 0.15


def test_trained_generators_are_recalibrated_layer_by_layer():
    """``fit`` hands back both the trained and the averaged generator with eval-mode statistics."""
    config = TrainConfig(architecture="gan", dataset="grid25", steps=20, batch_size=8, ema=0.9, log_every=10,
                         model={"hidden": 16, "latent_dim": 2})
    result = fit(config)
    assert result.ema_generator is not None
    for g in (result.generator, result.ema_generator):
        assert not g.training
        mean_err, var_err = worst_errors(g)
        assert mean_err < 0.2 and var_err < 0.3, (mean_err, var_err)


def test_a_generator_without_batchnorm_is_left_alone():
    g = TwoNormGenerator()
    g.bn1, g.bn2 = nn.Identity(), nn.Identity()  # type: ignore[assignment]
    before = copy.deepcopy(g.state_dict())
    recalibrate_batchnorm(g, 4, samples=8)
    after = g.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(("arch", "seed"), [("gan", 0), ("cgan", 3)])
def test_eval_during_training_scores_what_the_run_hands_back(arch, seed, tmp_path, monkeypatch):
    """At the last step ``--eval-every`` scores exactly the model the run hands back (statistics recomputed alike)."""
    import ganzoo.evaluation.callback as evaluation

    scored: list[torch.Tensor] = []
    original = evaluation.evaluate

    def spy(generator, *args, **kwargs):
        scored.append(ganzoo.generate(generator, 256, seed=1))
        return original(generator, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", spy)
    config = TrainConfig(architecture=arch, dataset="ring8", steps=30, batch_size=32, ema=0.9, log_every=10,
                         seed=seed, model={"hidden": 16, "latent_dim": 2})
    callback = evaluation.EvalCallback(15, samples=500)
    result = fit(config, callbacks=[callback])
    assert [r["step"] for r in callback.records] == [15, 30]
    assert torch.equal(scored[-1], ganzoo.generate(result.best_generator, 256, seed=1))


def test_conditional_generators_get_labels():
    """Uniform labels by default; a label source (e.g. the data's) when given."""
    spec = ganzoo.get_catalog().resolve_spec("cgan", (2,), 8, hidden=16)
    g, _ = ganzoo.get_catalog().build(spec)
    assert norms(g)
    seen: list[torch.Tensor] = []

    def labels(n: int) -> torch.Tensor:
        y = torch.full((n,), 3)
        seen.append(y)
        return y

    recalibrate_batchnorm(g, 64, samples=256)
    uniform = norms(g)[0].running_mean.clone()
    recalibrate_batchnorm(g, 64, labels=labels, samples=512)
    assert len(seen) == 2 and all(len(y) == 256 for y in seen)  # batches of at least 256
    assert not torch.allclose(norms(g)[0].running_mean, uniform)  # class 3 only: other statistics
    assert g.training  # the mode it came in with


class ConvGenerator(ganzoo.Generator):
    """A BatchNorm1d layer on (N, C), then a BatchNorm2d layer on 8x8 maps, then a counted output layer."""

    def __init__(self) -> None:
        super().__init__(data_shape=(4, 8, 8), latent_dim=3)
        self.inp = nn.Linear(3, 16)
        self.bn1d = nn.BatchNorm1d(16)
        self.up = nn.Linear(16, 4 * 8 * 8)
        self.bn2d = nn.BatchNorm2d(4)
        self.out = nn.Conv2d(4, 4, 3, padding=1)
        self.out_calls = 0  # forward passes that got past the last BatchNorm layer

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.bn1d(self.inp(z)))
        h = torch.relu(self.bn2d(self.up(h).view(-1, 4, 8, 8)))
        self.out_calls += 1
        return self.out(h)


def test_each_pass_stops_at_the_layer_it_recalibrates():
    """What comes after the last BatchNorm layer runs only in the pass that finds the layers' order."""
    torch.manual_seed(0)
    g = ConvGenerator()
    recalibrate_batchnorm(g, 4, samples=2048)
    assert g.out_calls == 1


def test_a_conv_layer_gets_fewer_latents_but_its_exact_statistics():
    """A BatchNorm2d channel averages over 64 values per latent here: it needs fewer latents than a 1-d layer."""
    torch.manual_seed(0)
    g = ConvGenerator()
    seen = {"bn1d": 0, "bn2d": 0}  # latents each layer's input comes from

    def count(name: str) -> None:
        getattr(g, name).register_forward_pre_hook(lambda m, args: seen.__setitem__(name, seen[name] + len(args[0])))

    for name in seen:
        count(name)
    recalibrate_batchnorm(g, 4, samples=8192)
    assert seen["bn2d"] <= seen["bn1d"] // 4, seen
    g.eval()
    with torch.no_grad():
        z = g.sample_latent(100_000, generator=torch.Generator().manual_seed(5))
        x = g.up(torch.relu(g.bn1d(g.inp(z)))).view(-1, 4, 8, 8)  # what bn2d gets in eval mode
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    assert g.bn2d.running_mean is not None and g.bn2d.running_var is not None
    assert float(((g.bn2d.running_mean - mean).abs() / var.sqrt()).max()) < 0.05
    assert float(((g.bn2d.running_var - var).abs() / var).max()) < 0.08


def test_the_batch_size_changes_the_statistics_only_by_rounding(monkeypatch):
    """Statistics pooled over batches equal those of one batch (a mean of per-batch variances would not)."""
    torch.manual_seed(0)
    one, many = TwoNormGenerator(), TwoNormGenerator()
    many.load_state_dict(one.state_dict())
    recalibrate_batchnorm(one, 4, samples=4096)
    monkeypatch.setattr(batchnorm, "CPU_BUDGET", 32 * 64)  # 64 samples of 8 floats
    recalibrate_batchnorm(many, 4, samples=4096)
    for a, b in zip(norms(one), norms(many), strict=True):
        assert int(a.num_batches_tracked) == 1 and int(b.num_batches_tracked) == 4096 // 64
        assert torch.allclose(a.running_mean, b.running_mean, rtol=1e-5, atol=1e-6)
        assert torch.allclose(a.running_var, b.running_var, rtol=1e-5, atol=1e-6)
