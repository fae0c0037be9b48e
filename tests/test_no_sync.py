"""NaN checks without host synchronisation in the loop (ganzoo.training.guard), and CUDA graphs (graphs.py).

The deferred strategy runs on the CPU as on CUDA, so it is tested here in full: it trains the
same networks as eager checks, reads the device only where something is written, skips a bad
update and every later one until the read, and reports with eager's message. The CUDA graph
tests need a GPU and are skipped without one.
"""

from __future__ import annotations

import collections
import copy
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

import ganzoo
from ganzoo.training.checkpoint import Checkpointer, load_checkpoint
from ganzoo.training.config import TrainConfig
from ganzoo.training.guard import nan_check_strategy
from ganzoo.training.loop import fit
from ganzoo.training.state import Callback, TrainState

# on the CPU unless a test says cuda (on a GPU machine "auto" would pick the GPU, where checks run deferred)
TINY = {"architecture": "dcgan", "dataset": "digits", "batch_size": 16, "model": {"base_channels": 8}, "device": "cpu"}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _config(**options: Any) -> TrainConfig:
    return TrainConfig(**{**TINY, **options})


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    """The entries that differ (NaN equal to NaN, so a bad value shows as a difference only if it is new)."""
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k]) and not torch.allclose(a[k], b[k], rtol=0, atol=0,
                                                                               equal_nan=True)]


def _adam(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    return {f"{i}.{k}": v.detach().clone() for i, s in enumerate(opt.state.values()) for k, v in s.items()}


# -- which strategy ----------------------------------------------------------------------------------


def test_auto_checks_eagerly_on_the_cpu_and_on_the_device_on_cuda() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert nan_check_strategy(TrainConfig(), cpu) == "eager"  # the default run is unchanged
    assert nan_check_strategy(TrainConfig(), cuda) == "deferred"
    assert nan_check_strategy(TrainConfig(nan_check="eager"), cuda) == "eager"
    assert nan_check_strategy(TrainConfig(nan_check="deferred"), cpu) == "deferred"
    assert nan_check_strategy(TrainConfig(cuda_graphs=True), cpu) == "deferred"


def test_deferred_checks_run_adam_fused_and_say_so() -> None:
    seen: dict[str, Any] = {}

    class Look(Callback):
        def on_train_start(self, state: TrainState) -> None:
            seen["fused"] = [g["fused"] for opt in (state.opt_g, state.opt_d) for g in opt.param_groups]
            seen["notes"] = list(state.notes)

    fit(_config(steps=1, nan_check="deferred"), callbacks=[Look()])
    assert seen["fused"] == [True, True]
    assert any("Adam runs fused" in n for n in seen["notes"])
    fit(_config(steps=1), callbacks=[Look()])
    assert not any(seen["fused"]) and not any("fused" in n for n in seen["notes"])


# -- deferred checks train the same networks -----------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"reuse_fake": True, "d_steps": 2}, {"ema": 0.0, "lr_decay": 0.5}],
                         ids=["defaults", "reuse-fake-k2", "no-ema-decay"])
def test_deferred_checks_train_the_same_networks_as_eager_ones(options: dict[str, Any]) -> None:
    """With fused Adam on both sides (deferred checks need it), only where the checks run differs."""
    common = {"steps": 5, "log_every": 2, "fused_adam": True, **options}
    eager = fit(_config(nan_check="eager", **common))
    deferred = fit(_config(nan_check="deferred", **common))
    assert _equal(_state(eager.generator), _state(deferred.generator)) == []
    assert _equal(_state(eager.discriminator), _state(deferred.discriminator)) == []
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in eager.history] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in deferred.history]
    if eager.ema_generator is not None:  # the guarded average rounds once more differently
        assert deferred.ema_generator is not None
        for (name, a), b in zip(_state(eager.ema_generator).items(), _state(deferred.ema_generator).values(),
                                strict=True):
            assert torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-6), name


# -- no host synchronisation ---------------------------------------------------------------------------


class _Reads(Callback):
    """Counts, per step, the calls that read a tensor's value on the host (each a synchronisation on a GPU)."""

    READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.per_step: dict[int, int] = {}
        self._on = False
        self._last = 0
        for name in self.READS:
            original = getattr(torch.Tensor, name)

            def counted(tensor: torch.Tensor, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
                if self._on:
                    self.count += 1
                return __original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)

    def on_train_start(self, state: TrainState) -> None:
        self._on = True

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        self.per_step[state.step] = self.count - self._last
        self._last = self.count

    def on_train_end(self, state: TrainState) -> None:
        self._on = False


def test_deferred_checks_read_the_device_only_where_something_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _Reads(monkeypatch)
    fit(_config(steps=12, log_every=5, checkpoint_every=4, nan_check="deferred"), callbacks=[reads])
    # one read of the guard at steps 4, 5, 8, 10, 12 (something is written), plus the metric record at 5, 10, 12
    assert reads.per_step == {1: 0, 2: 0, 3: 0, 4: 1, 5: 2, 6: 0, 7: 0, 8: 1, 9: 0, 10: 2, 11: 0, 12: 2}


def test_eager_checks_read_the_device_four_times_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """What deferred checks save: each loss and each gradient set is read before its update. (Fused Adam,
    as deferred checks use: the for-each Adam reads its step counts, which it keeps on the host.)"""
    reads = _Reads(monkeypatch)
    fit(_config(steps=4, log_every=3, fused_adam=True), callbacks=[reads])
    assert reads.per_step == {1: 4, 2: 4, 3: 5, 4: 5}  # and one transfer for the metric record at 3 and 4


# -- a bad update is never applied -----------------------------------------------------------------------


class _PoisonOnce(Callback):
    """The discriminator's first weight gets NaN gradients in step ``at`` only (the loss stays finite).

    Keeps a copy of the whole run as it stood after step ``at - 1``."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.state: TrainState | None = None
        self.before: dict[str, dict[str, torch.Tensor]] = {}

    def on_train_start(self, state: TrainState) -> None:
        self.state = state
        weight = next(state.discriminator.parameters())
        weight.register_hook(lambda g: torch.full_like(g, float("nan")) if state.step == self.at - 1 else g)

    def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
        if state.step == self.at - 1:
            assert state.opt_g is not None and state.opt_d is not None
            self.before = {"G": _state(state.generator), "D": _state(state.discriminator),
                           "EMA": _state(state.ema.module), "opt_g": _adam(state.opt_g),
                           "opt_d": _adam(state.opt_d)}

    def now(self) -> dict[str, dict[str, torch.Tensor]]:
        state = self.state
        assert state is not None and state.opt_g is not None and state.opt_d is not None
        return {"G": _state(state.generator), "D": _state(state.discriminator), "EMA": _state(state.ema.module),
                "opt_g": _adam(state.opt_g), "opt_d": _adam(state.opt_d)}


def _parameters_and_moments(run: dict[str, dict[str, torch.Tensor]], names: dict[str, list[str]]) -> dict[str, Any]:
    return {part: {k: v for k, v in values.items() if k in names[part]} for part, values in run.items()}


@pytest.mark.parametrize("checks", ["eager", "deferred"])
def test_no_weight_moment_or_average_changes_on_the_bad_step(checks: str) -> None:
    """Poisoned in step 3 only: the error names step 3; weights, Adam's moments and step counts and the
    EMA are those after step 2. Deferred checks find it at step 6 (the next logged step), so steps 4-6,
    whose gradients were fine again, were skipped too: the flag is sticky."""
    poison = _PoisonOnce(at=3)
    with pytest.raises(ganzoo.TrainingDiverged, match="discriminator gradients became non-finite at step 3 "
                                                      r"\(first in features\.0\.weight\); the step was not applied"):
        fit(_config(steps=20, log_every=6, nan_check=checks, fused_adam=True), callbacks=[poison])
    assert poison.state is not None and poison.state.step == 2  # the last step that completed
    before, after = poison.before, poison.now()
    parameters = {"G": [n for n, _ in poison.state.generator.named_parameters()],
                  "D": [n for n, _ in poison.state.discriminator.named_parameters()],
                  "EMA": [n for n, _ in poison.state.ema.module.named_parameters()]}
    parameters |= {"opt_g": list(before["opt_g"]), "opt_d": list(before["opt_d"])}
    kept = _parameters_and_moments(after, parameters)
    for part, values in _parameters_and_moments(before, parameters).items():
        assert _equal(values, kept[part]) == [], part
    assert all(float(v) == 2 for k, v in after["opt_d"].items() if k.endswith(".step"))  # step counts, too
    if checks == "deferred":  # buffers (BatchNorm statistics) and the EMA's are put back as well
        assert _equal(before["D"], after["D"]) == [] and _equal(before["G"], after["G"]) == []
        assert _equal(before["EMA"], after["EMA"]) == []


def test_a_bad_generator_loss_after_a_good_discriminator_update_keeps_that_update(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Deferred: in step 2, D's update is applied and G's (NaN loss) is not, as with eager checks."""
    from ganzoo.losses import NonSaturating

    calls = collections.Counter()
    original = NonSaturating.generator_loss

    def generator_loss(self: Any, fake_logits: torch.Tensor) -> torch.Tensor:
        calls["g"] += 1
        value = original(self, fake_logits)
        return value * float("nan") if calls["g"] == 2 else value

    monkeypatch.setattr(NonSaturating, "generator_loss", generator_loss)
    seen: dict[str, Any] = {}

    class Keep(Callback):
        def on_train_start(self, state: TrainState) -> None:
            seen["state"] = state

        def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
            if state.step == 1:
                seen["G"], seen["EMA"] = _state(state.generator), _state(state.ema.module)

    with pytest.raises(ganzoo.TrainingDiverged, match="the generator loss became nan at step 2; the step was "
                                                      "not applied"):
        fit(_config(steps=10, log_every=4, nan_check="deferred"), callbacks=[Keep()])
    state = seen["state"]
    d_steps = {float(s["step"]) for s in state.opt_d.state.values()}
    g_steps = {float(s["step"]) for s in state.opt_g.state.values()}
    assert (d_steps, g_steps) == ({2.0}, {1.0})  # D stepped in steps 1 and 2, G only in step 1
    weights = {n for n, _ in state.generator.named_parameters()}
    assert _equal({k: v for k, v in seen["G"].items() if k in weights},
                  {k: v for k, v in _state(state.generator).items() if k in weights}) == []
    assert _equal(seen["EMA"], _state(state.ema.module)) == []  # its buffers too


@pytest.mark.parametrize("checks", ["eager", "deferred"])
def test_a_nan_loss_is_reported_alike(checks: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganzoo.losses import NonSaturating

    monkeypatch.setattr(NonSaturating, "generator_loss", lambda self, f: f.mean() * float("nan"))
    with pytest.raises(ganzoo.TrainingDiverged, match="generator loss became nan at step 1; the step was not "
                                                      r"applied\. Lower the learning rates"):
        fit(_config(architecture="gan", dataset="ring8", steps=5, nan_check=checks, model={}))


def test_deferred_divergence_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    """Read at each checkpoint step: nothing after the bad step is saved, and the error names the checkpoint."""
    with pytest.raises(ganzoo.TrainingDiverged) as err:
        fit(_config(steps=12, checkpoint_every=4, log_every=50, nan_check="deferred"),
            callbacks=[_PoisonOnce(at=6), Checkpointer(tmp_path, 4)])
    message = str(err.value)
    assert "discriminator gradients became non-finite at step 6" in message
    assert "last good checkpoint (step 4)" in message and str(tmp_path) in message
    assert load_checkpoint(tmp_path)["step"] == 4


def test_deferred_divergence_on_the_command_line_is_one_line_and_exit_1(cli_run: Any, monkeypatch: Any) -> None:
    from ganzoo.losses import NonSaturating

    monkeypatch.setattr(NonSaturating, "generator_loss", lambda self, f: f.mean() * 0 + float("inf"))
    result = cli_run("train", "dcgan", "--steps", "4", "--batch-size", "16", "-o", "base_channels=8",
                     "--nan-check", "deferred", "--no-publish", code=1)
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: the generator loss became inf at step 1; the step was not applied")
    assert "Traceback" not in result.output


def test_a_callback_that_saves_between_reads_can_ask_first() -> None:
    """TrainState.raise_if_diverged: a pending bad update is reported there, not at the next logged step."""

    class SaveEveryStep(Callback):
        def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
            state.raise_if_diverged()

    with pytest.raises(ganzoo.TrainingDiverged, match="at step 3") as err:
        fit(_config(steps=20, log_every=10, nan_check="deferred"), callbacks=[_PoisonOnce(at=3), SaveEveryStep()])
    assert "step 3" in str(err.value)


@pytest.mark.distributed
@pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo")
def test_deferred_nan_on_one_rank_stops_every_rank(tmp_path: Path) -> None:
    """Rank 1's D weights turn NaN after step 3: both ranks report step 4 on rank 1 at the next read."""
    from test_distributed import torchrun

    config = _config(architecture="gan", dataset="ring8", steps=50, ema=0.0, log_every=5, nan_check="deferred",
                     model={}).to_dict()
    start = time.monotonic()
    done = torchrun("nan", tmp_path / "out", {"config": config, "nan_step": 4}, timeout=60)
    assert time.monotonic() - start < 60 and done.returncode != 0
    for r in (0, 1):
        message = (tmp_path / "out" / f"rank{r}.err").read_text()
        assert "the discriminator loss became" in message and "at step 4 on rank 1" in message, message


# -- CUDA graphs -----------------------------------------------------------------------------------------


def test_cuda_graphs_are_refused_without_cuda() -> None:
    with pytest.raises(ganzoo.ConfigError, match="--cuda-graphs needs a CUDA device, but this run trains on cpu"):
        fit(_config(steps=1, device="cpu", cuda_graphs=True))


@pytest.mark.parametrize(("options", "says"), [
    ({"compile": True}, "cuda_graphs cannot be combined with compile"),
    ({"nan_check": "eager"}, "cuda_graphs needs the NaN checks on the device"),
    ({"augment": "ada"}, "cuda_graphs cannot be combined with augment"),
])
def test_cuda_graphs_refuse_what_a_replay_cannot_do(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ganzoo.ConfigError, match=says):
        TrainConfig(cuda_graphs=True, **options)


def test_graphs_are_captured_again_when_a_loss_rebinds_a_number_or_a_tensor_not_when_it_fills_one() -> None:
    """What GraphedUpdates compares before each replay: a tensor filled in place is read by the replay itself."""
    from ganzoo.training.graphs import _capture_state

    loss = ganzoo.catalog.get_catalog().loss("non-saturating-r1:gamma=2,decay=0.5")
    loss.scale = torch.zeros(())
    before = _capture_state(loss)
    assert before["weight"] == 2.0 and before["scale"][0] == "tensor"
    loss.scale.fill_(3.0)
    assert _capture_state(loss) == before
    loss.set_progress(100, 100)  # the end of the decay: the weight falls to gamma_end
    assert _capture_state(loss) != before
    loss.set_progress(1, 100)
    assert _capture_state(loss) == before
    loss.scale = torch.full((), 3.0)  # the same value in a new tensor: the graph would still read the old one
    assert _capture_state(loss) != before


@CUDA
@pytest.mark.parametrize("options", [{}, {"reuse_fake": True}, {"d_steps": 2, "lr_decay": 0.5},
                                     {"loss": "non-saturating-r1:gamma=1,decay=0.5"}],
                         ids=["defaults", "reuse-fake", "k2-decay", "r1-schedule"])
def test_cuda_graphs_train_as_eager_execution_does(options: dict[str, Any]) -> None:
    """Graphs replay the same kernels on the same inputs: the same networks within float tolerance."""
    common = {"steps": 12, "log_every": 4, "device": "cuda", "nan_check": "deferred", **options}
    eager = fit(_config(**common))
    graphed = fit(_config(cuda_graphs=True, **common))
    for a, b in ((eager.generator, graphed.generator), (eager.discriminator, graphed.discriminator),
                 (eager.best_generator, graphed.best_generator)):
        for (name, x), y in zip(_state(a).items(), _state(b).values(), strict=True):
            assert torch.allclose(x.float(), y.float(), rtol=1e-3, atol=1e-4), name
    for r, s in zip(eager.history, graphed.history, strict=True):
        assert r["step"] == s["step"] and abs(r["d_loss"] - s["d_loss"]) < 1e-3


@CUDA
@pytest.mark.parametrize("options", [
    {"cuda_graphs": True},
    {"cuda_graphs": True, "architecture": "cdcgan"},
    {},
    {"architecture": "cdcgan"},
], ids=["graphs", "graphs-conditional", "deferred", "deferred-conditional"])
def test_the_loop_runs_without_host_synchronisation(options: dict[str, Any]) -> None:
    """Between two logged steps the loop never waits for the GPU (sync debug mode raises on a wait): with
    graphs, and with the default (deferred) checks in eager execution; conditional runs draw labels too."""

    class Strict(Callback):
        """From step 6 (graphs capture the updates at step 4), every step that reads nothing is strict."""

        def on_step_end(self, state: TrainState, metrics: dict[str, torch.Tensor]) -> None:
            upcoming = state.step + 1
            reads = upcoming % state.config.log_every == 0 or upcoming >= state.config.steps
            torch.cuda.set_sync_debug_mode(2 if upcoming >= 6 and not reads else 0)

    try:
        fit(_config(steps=30, log_every=10, device="cuda", **options), callbacks=[Strict()])
    finally:
        torch.cuda.set_sync_debug_mode(0)


@CUDA
def test_deferred_checks_skip_a_bad_update_on_cuda() -> None:
    poison = _PoisonOnce(at=3)
    with pytest.raises(ganzoo.TrainingDiverged, match="discriminator gradients became non-finite at step 3"):
        fit(_config(steps=20, log_every=6, device="cuda"), callbacks=[poison])
    before, after = poison.before, poison.now()
    for part in ("G", "D", "EMA", "opt_g", "opt_d"):
        assert _equal({k: v.cpu() for k, v in before[part].items()},
                      {k: v.cpu() for k, v in after[part].items()}) == [], part


def test_copy_of_state_helpers_are_deep() -> None:  # the helpers above must not alias the live tensors
    m = torch.nn.BatchNorm1d(2)
    s = _state(m)
    with torch.no_grad():
        m.running_mean.add_(1)
    assert not torch.equal(s["running_mean"], m.running_mean) and copy.copy(s).keys() == s.keys()
