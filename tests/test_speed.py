"""The speed options: each runs, and the default path is Goodfellow's algorithm unchanged.

No timing here: speed is measured by ``benchmarks/speed.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.data import TensorSampler
from ganzoo.data.loading import load_dataset
from ganzoo.training.batchnorm import recalibrate_for_sampling
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit
from ganzoo.training.state import Callback


def _literal_loop(config: TrainConfig) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Algorithm 1 of Goodfellow et al. written out plainly, drawing randomness in fit's order."""
    catalog = ganzoo.get_catalog()
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    dataset = load_dataset(config.dataset)
    arch = catalog.architecture(config.architecture)
    loss = catalog.loss(config.loss or arch.default_loss)
    spec = catalog.resolve_spec(config.architecture, dataset.shape, dataset.num_classes)
    G, D = catalog.build(spec)
    G.train()
    D.train()
    b = config.batch_size
    sampler = TensorSampler(dataset, b, torch.device("cpu"), torch.Generator().manual_seed(config.seed + 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=config.betas)
    G.sample_latent(64)  # fit draws the fixed latent of its progress grids here
    for _ in range(config.steps):
        for _ in range(config.d_steps):
            real, labels = sampler.next()
            with torch.no_grad():
                fake = G(G.sample_latent(b), labels)
            d_loss = loss.discriminator_loss(D(real, labels), D(fake, labels))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        labels = sampler.sample_labels(b)
        g_loss = loss.generator_loss(D(G(G.sample_latent(b), labels), labels))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    # then G's BatchNorm statistics are recomputed for its final weights (no training happens there)
    recalibrate_for_sampling(G, dataset, config)
    return G, D


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(("arch", "dataset", "d_steps"), [("gan", "ring8", 2), ("dcgan", "digits", 1),
                                                           ("cgan", "digits", 1)])
def test_default_path_is_the_plain_algorithm_bit_for_bit(arch: str, dataset: str, d_steps: int) -> None:
    config = TrainConfig(architecture=arch, dataset=dataset, steps=4, batch_size=32, d_steps=d_steps, ema=0.0)
    result = fit(config)
    G, D = _literal_loop(config)
    assert _same(result.generator, G)
    assert _same(result.discriminator, D)


class _CountGeneratorCalls(Callback):
    def __init__(self) -> None:
        self.calls = 0
        self.per_step: list[int] = []

    def on_train_start(self, state: Any) -> None:
        state.generator.register_forward_hook(lambda *_: setattr(self, "calls", self.calls + 1))

    def on_step_end(self, state: Any, metrics: Any) -> None:
        self.per_step.append(self.calls)


@pytest.mark.parametrize(("reuse", "d_steps", "expected"), [(False, 1, 2), (True, 1, 1), (True, 3, 3)])
def test_reuse_fake_saves_one_generator_forward(reuse: bool, d_steps: int, expected: int) -> None:
    counter = _CountGeneratorCalls()
    fit(TrainConfig(architecture="gan", dataset="ring8", steps=3, batch_size=16, d_steps=d_steps,
                    reuse_fake=reuse, ema=0.0), callbacks=[counter])
    assert counter.per_step == [expected, 2 * expected, 3 * expected]


FAST_OPTIONS = [
    {"channels_last": True},
    {"reuse_fake": True},
    {"fused_adam": True},
    {"precision": "bf16"},
    {"precision": "bf16", "channels_last": True, "reuse_fake": True, "fused_adam": True},
]


@pytest.mark.parametrize("options", FAST_OPTIONS, ids=lambda o: "+".join(o))
@pytest.mark.parametrize("arch", ["dcgan", "cdcgan"])
def test_every_speed_option_trains_and_publishes(arch: str, options: dict[str, Any], tmp_path: Path) -> None:
    result = fit(TrainConfig(architecture=arch, dataset="digits", steps=3, batch_size=16, log_every=1, **options))
    assert len(result.history) == 3
    assert all(torch.isfinite(torch.tensor(r["d_loss"])) for r in result.history)
    for net in (result.generator, result.discriminator, result.best_generator):
        assert all(p.is_contiguous() for p in net.parameters()), "networks come back in the usual layout"
    record = ganzoo.publish(result, name="fast", registry=tmp_path)
    g = ganzoo.load(record.ref, registry=tmp_path)
    labels = 3 if arch == "cdcgan" else None
    assert torch.equal(ganzoo.generate(g, 4, labels=labels, seed=1),
                       ganzoo.generate(result.best_generator, 4, labels=labels, seed=1))


def test_speed_options_change_the_numbers_only_slightly() -> None:
    """channels-last and fused Adam round differently, but they train the same network."""
    base = TrainConfig(architecture="dcgan", dataset="digits", steps=3, batch_size=16, ema=0.0)
    plain = fit(base).generator
    for options in ({"channels_last": True}, {"fused_adam": True}):
        other = fit(TrainConfig.from_dict({**base.to_dict(), **options})).generator
        for (name, p), q in zip(plain.named_parameters(), other.parameters(), strict=True):
            assert torch.allclose(p, q, atol=1e-3, rtol=1e-3), f"{options}: {name} differs by more than rounding"


def test_compile_option_trains() -> None:
    pytest.importorskip("torch._dynamo")
    result = fit(TrainConfig(architecture="gan", dataset="ring8", steps=3, batch_size=16, compile=True, ema=0.0))
    assert result.steps == 3
    assert all(p.isfinite().all() for p in result.generator.parameters())


@pytest.mark.parametrize("value", [1, "yes", None])
def test_speed_flags_must_be_booleans(value: Any) -> None:
    with pytest.raises(ganzoo.ConfigError, match="reuse_fake must be true or false"):
        TrainConfig(reuse_fake=value)


def _run_config(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "config.json").read_text())


def test_cli_fast_turns_on_the_fast_path_and_typed_options_win(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["train", "gan", "--dataset", "ring8", "--steps", "2", "--batch-size", "16", "--no-publish",
            "--checkpoint-every", "1", "--out", str(tmp_path / "s.png")]
    result = runner.invoke(cli, [*args, "--fast", "--run-dir", str(tmp_path / "fast")])
    assert result.exit_code == 0, result.output
    config = _run_config(tmp_path / "fast")
    assert (config["precision"], config["channels_last"], config["reuse_fake"], config["fused_adam"]) == \
        ("bf16", True, True, True)
    result = runner.invoke(cli, [*args, "--fast", "--precision", "fp32", "--run-dir", str(tmp_path / "mixed")])
    assert result.exit_code == 0, result.output
    config = _run_config(tmp_path / "mixed")
    assert config["precision"] == "fp32" and config["reuse_fake"] is True


def test_train_help_explains_every_speed_option() -> None:
    out = CliRunner().invoke(cli, ["train", "--help"]).output
    for flag in ("--precision", "--channels-last", "--reuse-fake", "--fused-adam", "--compile", "--fast"):
        line = next((ln for ln in out.splitlines() if ln.strip().startswith(flag)), "")
        assert len(line.split(flag, 1)[1].strip()) > 10, f"{flag} has no one-line explanation"
