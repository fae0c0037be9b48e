"""Augmentation of what D sees (--augment: diffaugment, ada, plugins) and training on a subset (--subset).

Every augmentation passes the conformance kit in tests/test_kit.py; here: the kit catches what it
claims to, the built-ins do what their papers say, the trainer applies them where D looks, runs
resume exactly, and a subset is fixed, seeded, class-balanced and recorded. No timings: the
speed comparison with kornia is benchmarks/augment_speed.py, the quality one
benchmarks/quality/augment.py.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo import builtin, testing
from ganzoo.data.loading import load_dataset, take_subset
from ganzoo.training.checkpoint import Checkpointer, load_checkpoint
from ganzoo.training.config import TrainConfig
from ganzoo.training.loop import fit
from ganzoo.training.runfolder import read_metrics

ROOT = Path(__file__).parent.parent
SMALL = {"base_channels": 8}


def config(**kw) -> TrainConfig:
    base = dict(architecture="dcgan", dataset="digits", steps=3, batch_size=16, model=SMALL, ema=0.0, log_every=1)
    return TrainConfig(**{**base, **kw})


def catalog_with(*plugins: object) -> ganzoo.Catalog:
    """The installed plugins plus throwaway ones."""
    catalog = ganzoo.load_catalog(plugins=[(f"extra{i}", p) for i, p in enumerate(plugins)])
    assert catalog.failures == []
    return catalog


def images(n: int = 8, shape: tuple[int, ...] = (1, 16, 16), seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- registration and options ---------------------------------------------------------------------------


def test_the_builtins_are_registered_by_an_ordinary_plugin(catalog):
    assert {n: r.plugin for n, r in catalog.augmentations.items()} == {"ada": "augment", "diffaugment": "augment"}
    assert ganzoo.list_augmentations() == ["ada", "diffaugment"]
    assert isinstance(catalog.augmentation("ada"), ganzoo.Augmentation)


def test_registration_is_checked_and_a_duplicate_names_both_plugins():
    class NotOne:
        pass

    class Abstract(ganzoo.Augmentation):
        pass

    class Fine(ganzoo.Augmentation):
        def augment(self, x, generator=None):
            return x

    for cls, message in ((NotOne, "expected a subclass of ganzoo.Augmentation"),
                         (Abstract, "Abstract does not implement augment")):
        class Bad:
            @ganzoo.hookimpl
            def register_augmentations(self, register, cls=cls):
                register("bad", cls)

        catalog = ganzoo.load_catalog(plugins=[("bad", Bad())])
        (failure,) = catalog.failures
        assert failure.stage == "register_augmentations" and message in failure.error

    class Taker:
        @ganzoo.hookimpl
        def register_augmentations(self, register):
            register("ada", Fine)

    catalog = ganzoo.load_catalog(plugins=[("taker", Taker())])
    (failure,) = catalog.failures
    assert "duplicate augmentation name 'ada': registered by plugin 'augment' and again by plugin 'taker'" in \
        failure.error
    assert catalog.augmentations["ada"].plugin == "augment"


def test_options_reach_the_constructor_and_a_policy_may_hold_commas(catalog):
    aug = catalog.augmentation("diffaugment:policy=cutout,translation,p=0.5")
    assert aug.policy == ("translation", "cutout") and aug.strength == 0.5  # the paper's order
    ada = catalog.augmentation("ada:target=0.7,interval=2,kimg=50,p=0.25")
    assert (ada.target, ada.interval, ada.kimg, ada.strength) == (0.7, 2, 50.0, 0.25)


@pytest.mark.parametrize(("spec", "error", "message"), [
    ("diffaugmnt", ganzoo.UnknownNameError, "unknown augmentation 'diffaugmnt'; did you mean 'diffaugment'"),
    ("diffaugment:policy=translation,cutuot", ganzoo.ConfigError, "unknown policy 'cutuot'; did you mean 'cutout'"),
    ("diffaugment:policy=", ganzoo.ConfigError, "policy is empty"),
    ("diffaugment:p=2", ganzoo.ConfigError, "p must be a probability in [0, 1]"),
    ("ada:targte=0.6", ganzoo.ConfigError, "augmentation 'ada' has no option targte; it takes interval, kimg, p, "
                                           "target"),
    ("ada:target=2", ganzoo.ConfigError, "target must be a number in [0, 1]"),
    ("ada:interval=0", ganzoo.ConfigError, "interval must be a positive whole number"),
    ("ada:interval=1.5", ganzoo.ConfigError, "must be a whole number"),
    ("ada:kimg=0", ganzoo.ConfigError, "kimg must be a positive number"),
    ("ada:target", ganzoo.ConfigError, "must look like KEY=VALUE"),
])
def test_bad_names_and_options_are_refused_with_the_value(catalog, spec, error, message):
    with pytest.raises(error) as caught:
        catalog.augmentation(spec)
    assert message in str(caught.value)


# -- the kit catches what it claims to -----------------------------------------------------------------


class Sound(ganzoo.Augmentation):
    """A per-sample random sign flip with probability strength / 2; each broken variant changes one thing."""

    def __init__(self) -> None:
        self.count = torch.tensor(0.0)

    def augment(self, x, generator=None):
        flip = torch.rand(len(x), generator=generator, device=x.device) < self.strength / 2
        return torch.where(flip.view(-1, *[1] * (x.dim() - 1)), -x, x)

    def observe(self, real_logits, fake_logits):
        self.count = self.count + (real_logits > 0).float().sum()

    def metrics(self):
        return {"count": self.count}

    def state_dict(self):
        return {"count": self.count.clone()}

    def load_state_dict(self, state):
        self.count = state["count"].clone()


class Reshaping(Sound):
    def augment(self, x, generator=None):
        return super().augment(x, generator)[..., :-1]


class Halving(Sound):
    def augment(self, x, generator=None):
        return super().augment(x, generator).double()


class Detached(Sound):
    def augment(self, x, generator=None):
        return super().augment(x, generator).detach()


class AlwaysOn(Sound):
    def augment(self, x, generator=None):
        return -x


class Global(Sound):
    def augment(self, x, generator=None):
        return super().augment(x, None)  # ignores the generator it is given


class Forgetful(Sound):
    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class Pickling(Sound):
    def state_dict(self):
        return {"count": self.count, "when": object()}


class Fussy(Sound):
    def check_shape(self, data_shape):
        if len(data_shape) != 3:
            raise RuntimeError("images only")  # should be a ShapeMismatchError


@pytest.mark.parametrize(("cls", "message"), [
    (Sound, None),
    (Reshaping, "into a torch.float32 batch of shape (8, 1, 8, 7): keep the shape and the dtype"),
    (Halving, "into a torch.float64 batch"),
    (Detached, "no finite, non-zero gradient reaches the input"),
    (AlwaysOn, "at strength 0 augment must return its input unchanged"),
    (Global, "augment(x, generator=g) drew from torch's global generator"),
    (Forgetful, "a copy loaded from state_dict() reports other metrics"),
    (Pickling, "state_dict() through torch.save and torch.load(weights_only=True) raised"),
])
def test_the_kit_catches_each_breach(cls, message):
    class Plugin:
        @ganzoo.hookimpl
        def register_augmentations(self, register):
            register("toy", cls)

    catalog = ganzoo.load_catalog(entry_points=False, plugins=[("core", builtin), ("toyplugin", Plugin())])
    if message is None:
        testing.check_augmentation("toy", catalog=catalog)  # passes without a 'gan' architecture, too
        testing.check_augmentation("toy", catalog=catalog_with(Plugin()))  # and trains a step with one
        return
    with pytest.raises(AssertionError) as caught:
        testing.check_augmentation("toy", catalog=catalog)
    assert str(caught.value).startswith(f"augmentation 'toy' (plugin 'toyplugin', class {cls.__name__})")
    assert message in str(caught.value)


def test_a_shape_refusal_must_be_a_shape_mismatch_error():
    class Plugin:
        @ganzoo.hookimpl
        def register_augmentations(self, register):
            register("fussy", Fussy)

    catalog = catalog_with(Plugin())
    testing.check_augmentation("fussy", data_shape=(1, 8, 8), catalog=catalog)
    with pytest.raises(AssertionError, match=r"check_shape\(\(2,\)\) raised RuntimeError: images only"):
        testing.check_augmentation("fussy", data_shape=(2,), catalog=catalog)
    testing.check_augmentation("ada", catalog=catalog)  # the built-ins refuse vectors as they should


# -- DiffAugment does what the paper says ---------------------------------------------------------------------


def shifts_of(x: torch.Tensor, limit: int) -> list[tuple[int, int, torch.Tensor]]:
    """Every integer shift of one image up to ``limit`` pixels, with zero padding."""
    _, h, w = x.shape
    out = []
    padded = torch.nn.functional.pad(x, (limit, limit, limit, limit))
    for dy in range(-limit, limit + 1):
        for dx in range(-limit, limit + 1):
            out.append((dy, dx, padded[:, limit - dy:limit - dy + h, limit - dx:limit - dx + w]))
    return out


def test_translation_shifts_by_at_most_an_eighth_with_zero_padding(catalog):
    aug = catalog.augmentation("diffaugment:policy=translation")
    x = images(64)
    y = aug.augment(x, generator=torch.Generator().manual_seed(1))
    seen = set()
    for i in range(len(x)):
        matches = [(dy, dx) for dy, dx, s in shifts_of(x[i], 2) if torch.equal(s, y[i])]
        assert matches, f"sample {i} is no shift of up to 2 pixels of its input"
        seen.add(matches[0])
    assert len(seen) > 10 and max(max(abs(dy), abs(dx)) for dy, dx in seen) == 2  # 16 / 8 pixels


def test_cutout_zeroes_one_square_of_half_the_size(catalog):
    aug = catalog.augmentation("diffaugment:policy=cutout")
    x = images(64) * 0.5 + 0.6  # no zeros of its own
    y = aug.augment(x, generator=torch.Generator().manual_seed(2))
    for i in range(len(x)):
        hole = y[i, 0] == 0
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8  # 16 / 2, clipped at the edges
        assert bool(hole[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all())  # one rectangle
        assert torch.equal(y[i][:, ~hole], x[i][:, ~hole])  # the rest untouched
    assert (y == 0).float().mean().item() == pytest.approx(0.18, abs=0.05)  # a quarter, less when clipped


def test_color_changes_brightness_and_contrast_and_saturation_only_for_colour(catalog):
    aug = catalog.augmentation("diffaugment:policy=color")
    grey = images(256)
    y = aug.augment(grey, generator=torch.Generator().manual_seed(3))
    shift = (y - grey).mean(dim=(1, 2, 3))
    assert shift.min() < -0.3 and shift.max() > 0.3  # brightness +- 0.5
    ratio = (y.std(dim=(1, 2, 3)) / grey.std(dim=(1, 2, 3)))
    assert ratio.min() < 0.6 and ratio.max() > 1.4  # contrast x 0.5 to 1.5 (saturation does nothing to grey)
    colour = images(256, (3, 8, 8))
    y = aug.augment(colour, generator=torch.Generator().manual_seed(3))
    spread = (y - y.mean(1, keepdim=True)).abs().mean(dim=(1, 2, 3)) / \
        (colour - colour.mean(1, keepdim=True)).abs().mean(dim=(1, 2, 3))
    assert spread.min() < 0.2 and spread.max() > 2.0  # saturation x 0 to 2, then contrast


def test_p_is_the_probability_of_each_transformation(catalog):
    x = images(4000, (1, 8, 8))
    aug = catalog.augmentation("diffaugment:policy=translation,p=0.5")
    y = aug.augment(x, generator=torch.Generator().manual_seed(4))
    unchanged = (y == x).flatten(1).all(1).float().mean().item()
    # not picked (1/2), or picked with the shift (0, 0) (1/2 x 1/9 on 8x8 images: shifts of -1, 0, 1)
    assert unchanged == pytest.approx(0.5 + 0.5 / 9, abs=0.03)
    assert torch.equal(catalog.augmentation("diffaugment:p=0").augment(x), x)


# -- ADA ------------------------------------------------------------------------------------------------------


def test_ada_p_follows_the_sign_of_the_real_logits(catalog):
    ada = catalog.augmentation("ada:target=0.6,interval=4,kimg=1")
    confident, unsure = torch.full((50,), 3.0), torch.tensor([1.0, -1.0] * 25)
    for _ in range(3):
        ada.observe(confident, -confident)
    assert ada.strength == 0.0  # adjusted only every 4 D steps
    ada.observe(confident, -confident)
    assert ada.metrics()["rt"].item() == 1.0
    assert ada.strength == pytest.approx(200 / 1000)  # 4 x 50 images of the 1,000 that move p by 1
    for _ in range(4):
        ada.observe(unsure, -unsure)  # r_t = 0 < 0.6: down again
    assert ada.strength == pytest.approx(0.0, abs=1e-7) and ada.metrics()["rt"].item() == 0.0
    for _ in range(4 * 10):
        ada.observe(confident, -confident)
    assert ada.strength == 1.0  # clamped


def test_ada_applies_each_transformation_with_probability_p(catalog):
    x = images(8000, (1, 16, 16))
    ada = catalog.augmentation("ada:p=0.5")
    y = ada.augment(x, generator=torch.Generator().manual_seed(5))
    unchanged = (y == x).flatten(1).all(1).float().mean().item()
    # flip 1 - p/2; quarter turn 1 - 3p/4; shift 1 - p(1 - 1/16) (rounded shifts of 0 have chance 1/4 per axis);
    # brightness and contrast 1 - p each; saturation leaves grey images alone
    p = 0.5
    expected = (1 - p / 2) * (1 - 3 * p / 4) * (1 - p * (1 - 1 / 16)) * (1 - p) ** 2
    assert unchanged == pytest.approx(expected, abs=0.012)
    assert torch.equal(catalog.augmentation("ada").augment(x), x)  # p starts at 0


def test_ada_rotations_and_flips_keep_the_pixels(catalog):
    """Geometry only moves pixels (and mirrors them at the edges); colour is off for this check."""
    ada = catalog.augmentation("ada:p=1")
    ada_module = type(ada).__module__
    x = torch.arange(2 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(f"{ada_module}.BRIGHTNESS_STD", 0.0)
        mp.setattr(f"{ada_module}.CONTRAST_STD", 0.0)
        for seed in range(10):
            y = ada.augment(x, generator=torch.Generator().manual_seed(seed))
            for i in range(2):
                assert set(y[i].unique().tolist()) <= set(x[i].unique().tolist())


def test_ada_on_images_that_are_not_square_keeps_their_shape(catalog):
    ada = catalog.augmentation("ada:p=1")
    x = images(32, (3, 8, 12))
    assert ada.augment(x, generator=torch.Generator().manual_seed(0)).shape == x.shape


# -- vector data: refused, with a clear error ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["diffaugment", "ada"])
def test_image_augmentations_refuse_vector_data(name):
    with pytest.raises(ganzoo.ShapeMismatchError, match=rf"--augment {name} transforms images \(C, H, W\); this "
                                                        r"dataset holds 2-d vectors"):
        fit(TrainConfig(architecture="gan", dataset="ring8", steps=1, batch_size=16, augment=name))


# -- the trainer -------------------------------------------------------------------------------------------


SEEN: dict[str, list] = {"calls": [], "observed": [], "penalty": []}  # what the recorders below were given


class Recorder(ganzoo.Augmentation):
    """Negates every batch and records what it was given and what it returned."""

    def augment(self, x, generator=None):
        assert generator is not None and generator.device == x.device
        y = -x
        SEEN["calls"].append((x, y, torch.is_grad_enabled() and x.requires_grad))
        return y

    def observe(self, real_logits, fake_logits):
        SEEN["observed"].append(real_logits)


class PenaltyRecorder(ganzoo.Loss):

    def discriminator_loss(self, real_logits, fake_logits):
        return torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits):
        return torch.nn.functional.softplus(-fake_logits).mean()

    def penalty(self, discriminator, real, fake, labels=None):
        SEEN["penalty"].append(real)
        return None


class RecorderPlugin:
    @ganzoo.hookimpl
    def register_augmentations(self, register):
        register("recorder", Recorder)

    @ganzoo.hookimpl
    def register_losses(self, register):
        register("penalty-recorder", PenaltyRecorder)


def test_every_batch_d_sees_passes_through_the_augmentation(monkeypatch):
    for seen in SEEN.values():
        seen.clear()
    catalog = catalog_with(RecorderPlugin())
    fit(config(steps=2, d_steps=2, augment="recorder", loss="penalty-recorder"), catalog=catalog)
    calls = SEEN["calls"]
    # per step: real and generated in each of 2 D steps, then the generated batch of G's step
    assert len(calls) == 2 * (2 * 2 + 1)
    d_calls = [c for i, c in enumerate(calls) if i % 5 != 4]
    g_calls = calls[4::5]
    assert not any(tracked for _, _, tracked in d_calls)  # D's batches are detached from G
    assert all(tracked for _, _, tracked in g_calls)  # G's gradient flows back through the augmentation
    assert all(x.min() >= -1 and x.max() <= 1 for x, _, _ in calls)
    reals = [c[1] for c in calls[0::5] + calls[2::5]]
    assert all(any(seen is y for y in reals) for seen in SEEN["penalty"])  # the penalty sees what D sees
    assert len(SEEN["penalty"]) == 4 and len(SEEN["observed"]) == 4  # observe after each D step
    assert all(r.shape == (16,) for r in SEEN["observed"])


def test_without_augment_the_augmentation_is_never_called():
    SEEN["calls"].clear()
    fit(config(steps=2, loss="penalty-recorder"), catalog=catalog_with(RecorderPlugin()))
    assert SEEN["calls"] == []


def test_p_and_the_overfitting_signal_are_logged_and_p_follows_the_signal(tmp_path):
    run = tmp_path / "run"
    result = fit(config(steps=6, augment="ada:interval=1,kimg=0.1,p=0.5"), callbacks=[ganzoo.RunLogger(run)])
    lines = read_metrics(run)
    assert [r["step"] for r in lines] == [1, 2, 3, 4, 5, 6]
    assert [r["augment_p"] for r in lines] == [r["augment_p"] for r in result.history]
    p = 0.5
    for r in lines:  # one D step per step, adjusted after each: +-16 real images of the 100 that move p by 1
        assert -1 <= r["augment_rt"] <= 1
        p = min(1.0, max(0.0, p + (0.16 if r["augment_rt"] > 0.6 else -0.16)))
        assert r["augment_p"] == pytest.approx(p, abs=1e-6)


def test_the_report_draws_p_and_the_overfitting_signal(tmp_path):
    run = tmp_path / "run"
    fit(config(steps=4, augment="ada:interval=1,kimg=0.1,p=0.5"), callbacks=[ganzoo.RunLogger(run)])
    html = ganzoo.write_report(run).read_text()
    assert 'data-chart="augment_p"' in html and 'data-chart="augment_rt"' in html


@pytest.mark.parametrize("options", [{"precision": "bf16"}, {"reuse_fake": True, "channels_last": True},
                                     {"loss": "wasserstein-gp", "d_steps": 2},
                                     {"loss": "non-saturating-r1:gamma=1"}])
def test_augmentation_trains_with_the_other_options(options):
    result = fit(config(steps=2, augment="diffaugment", **options))
    assert all(torch.isfinite(p).all() for p in result.generator.parameters())


def test_a_packed_discriminator_trains_with_augmentation():
    result = fit(TrainConfig(architecture="pacgan", dataset="digits", steps=2, batch_size=16, ema=0.0,
                             augment="ada:p=0.5"))
    assert result.steps == 2


def test_a_resumed_run_continues_the_augmentation_exactly(tmp_path):
    torch.set_num_threads(1)
    run = dict(steps=8, augment="ada:interval=1,kimg=0.2,p=0.5", deterministic=True, checkpoint_every=4, log_every=1)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    fit(config(**run), callbacks=[Checkpointer(straight, 4)])
    fit(config(**{**run, "steps": 4}), callbacks=[Checkpointer(resumed, 4)])
    fit(config(**run), callbacks=[Checkpointer(resumed, 4)], resume_from=resumed)
    a, b = load_checkpoint(straight), load_checkpoint(resumed)
    assert len({r["augment_p"] for r in a["history"]}) > 1  # p moved: there was state to carry over
    for key in ("p", "sum", "rt"):
        assert torch.equal(a["augment"]["state"][key], b["augment"]["state"][key])
    assert torch.equal(a["augment"]["rng"], b["augment"]["rng"])
    for net in ("generator", "discriminator"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])
    assert [r["augment_p"] for r in a["history"]] == [r["augment_p"] for r in b["history"]]


def test_a_resumed_run_keeps_its_augmentation_and_subset(tmp_path, cli_run):
    cli_run("train", "dcgan", "--steps", "2", "--batch-size", "16", "-o", "base_channels=8", "--augment", "ada",
            "--subset", "100", "--run-dir", "run", "--no-publish")
    for change in (["--augment", "diffaugment"], ["--subset", "200"], ["--subset-seed", "1"]):
        out = cli_run("train", "--resume", "run", "--steps", "3", *change, "--no-publish", code=1).output
        assert "cannot resume" in out and change[0] in out


def test_the_run_folder_and_the_manifest_record_augmentation_and_subset(cli_run, tmp_path):
    out = cli_run("train", "dcgan", "--steps", "2", "--batch-size", "16", "-o", "base_channels=8", "--augment",
                  "diffaugment:policy=translation,cutout", "--subset", "120", "--subset-seed", "3", "--run-dir",
                  "run", "--name", "little").output
    assert "Published little:1" in out
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["augment"], saved["subset"], saved["subset_seed"]) == ("diffaugment:policy=translation,cutout", 120,
                                                                         3)
    assert saved["resolved"]["dataset"]["size"] == 120
    manifest = ganzoo.Registry().read_manifest("little")
    assert manifest.training["augment"] == "diffaugment:policy=translation,cutout"
    assert (manifest.training["subset"], manifest.training["subset_seed"]) == (120, 3)
    assert manifest.dataset["preprocessing"]["subset"] == {"size": 120, "seed": 3, "of": 1797,
                                                           "balanced": "per class"}
    config_file = tmp_path / "run.toml"
    config_file.write_text('augment = "ada:target=0.5"\nsubset = 50\nsteps = 1\nbatch-size = 16\n'
                           "no-publish = true\n[model]\nbase_channels = 8\n")
    cli_run("train", "dcgan", "--config", str(config_file), "--run-dir", "run2")
    saved = json.loads((tmp_path / "run2" / "config.json").read_text())
    assert (saved["augment"], saved["subset"]) == ("ada:target=0.5", 50)
    cli_run("train", "--from", "little", "--steps", "1", "--run-dir", "run3", "--no-publish")
    saved = json.loads((tmp_path / "run3" / "config.json").read_text())
    assert (saved["augment"], saved["subset"], saved["subset_seed"]) == ("diffaugment:policy=translation,cutout", 120,
                                                                         3)


# -- --subset ------------------------------------------------------------------------------------------------


def test_a_subset_is_fixed_seeded_and_class_balanced():
    full = load_dataset("digits")
    a, b, c = (load_dataset("digits", subset=105, subset_seed=s) for s in (0, 0, 1))
    assert len(a) == 105 and torch.equal(a.data, b.data) and not torch.equal(a.data, c.data)
    counts = torch.bincount(a.labels, minlength=10)
    assert counts.max() - counts.min() == 1 and counts.sum() == 105
    assert (a.name, a.num_classes, a.class_names) == (full.name, full.num_classes, full.class_names)
    rows = {tuple(r.flatten().tolist()) for r in full.data}
    assert all(tuple(r.flatten().tolist()) in rows for r in a.data)  # items of the dataset, not new ones
    assert a.preprocessing["subset"] == {"size": 105, "seed": 0, "of": 1797, "balanced": "per class"}


def test_a_small_class_gives_what_it_has_and_unlabelled_data_is_drawn_plainly():
    data = ganzoo.Dataset("skewed", torch.randn(30, 2), labels=torch.tensor([0] * 3 + [1] * 27))
    assert torch.bincount(take_subset(data, 20).labels).tolist() == [3, 17]
    assert torch.bincount(take_subset(data, 6).labels).tolist() == [3, 3]
    numbers = ganzoo.Dataset("plain", torch.arange(30.0).view(30, 1))
    plain = take_subset(numbers, 10, seed=4)
    assert len(plain) == 10 and plain.preprocessing["subset"]["balanced"] == "no (unlabelled)"
    assert torch.equal(plain.data, take_subset(numbers, 10, seed=4).data)
    ring = load_dataset("ring8", subset=80)  # labelled by mode: eight modes, ten points each
    assert torch.bincount(ring.labels).tolist() == [10] * 8


def test_the_subset_is_what_the_run_trains_on():
    result = fit(config(steps=1, subset=40, subset_seed=2))
    assert len(result.dataset) == 40
    assert torch.equal(result.dataset.data, load_dataset("digits", subset=40, subset_seed=2).data)
    given = fit(config(steps=1, subset=20), dataset=testing.tiny_dataset((1, 8, 8), 10, n=64))
    assert len(given.dataset) == 20  # a dataset handed to fit is cut too


@pytest.mark.parametrize(("args", "message"), [
    (["--subset", "0"], "subset must be a positive number of training items"),
    (["--subset", "5000"], "--subset 5000 is larger than dataset 'digits' (1797 items); pass --subset 1797 or less"),
    (["--subset-seed", "2"], "subset_seed is 2 but no subset is asked for"),
    (["--subset-seed", "-1", "--subset", "10"], "subset_seed must be a whole number >= 0"),
])
def test_bad_subsets_are_refused(cli_run, args, message):
    out = cli_run("train", "dcgan", "--steps", "1", "--no-publish", *args, code=1).output
    assert message in out


def test_eval_of_a_model_trained_on_a_subset_uses_the_whole_split(cli_run, monkeypatch):
    from ganzoo.evaluation import classifier

    monkeypatch.setitem(classifier.CLASSIFIER_RECIPE, "epochs", 1)  # a quick classifier: only its data matters here
    monkeypatch.setitem(classifier.CLASSIFIER_RECIPE, "min_steps", 5)
    cli_run("train", "dcgan", "--steps", "2", "--batch-size", "16", "-o", "base_channels=8", "--subset", "100",
            "--name", "few")
    cli_run("eval", "few", "--samples", "300")
    protocol = ganzoo.Registry().read_manifest("few").metrics["classifier"]["protocol"]
    assert protocol["samples"] == 300  # not min(300, the 100 images it trained on)
    assert "300 random training images of digits" in protocol["reference"]
    assert classifier.dataset_key(load_dataset("digits")) in protocol["features"]  # trained on all of digits


# -- ganzoo list ---------------------------------------------------------------------------------------------


def test_list_shows_the_augmentations(cli_run):
    table = cli_run("list").output
    assert "# Augmentations" in table and "diffaugment\taugment\t" in table
    shown = json.loads(cli_run("list", "--json").output)
    assert {a["name"] for a in shown["augmentations"]} == {"ada", "diffaugment"}


# -- the benchmark's leak measures -------------------------------------------------------------------------


def benchmark():
    """benchmarks/quality/augment.py as a module (registered, as its dataclasses need)."""
    name = "augment_benchmark"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "quality" / "augment.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_leak_measures_see_a_leaked_translation_and_rotation():
    bench = benchmark()
    g = torch.Generator().manual_seed(0)
    clean = torch.zeros(200, 1, 28, 28, dtype=torch.uint8)  # upright bars on black, like trousers
    clean[:, :, 4:24, 10:13] = torch.randint(150, 255, (200, 1, 1, 3), generator=g, dtype=torch.uint8)
    clean[:, :, 4:24, 16:19] = 200
    shifted = torch.full_like(clean, 128)  # DiffAugment's zero padding is mid-grey in [-1, 1]
    shifted[:, :, 3:, 3:] = clean[:, :, :-3, :-3]
    turned = clean.rot90(1, (2, 3))
    base = bench.leak_statistics(clean)
    assert base["border"] == 0 and base["orientation"] > 0.5 and base["vertical_share"] == 1
    assert bench.leak_statistics(shifted)["border"] > 0.05
    assert torch.allclose(bench.edge_orientation(turned), -bench.edge_orientation(clean))
    half = bench.leak_statistics(torch.cat([clean[:100], turned[100:]]))
    assert half["vertical_share"] == 0.5 and abs(half["orientation"]) < 0.1
    assert bench.leak_gaps(half, base)["vertical_share"] == 0.5


def test_the_benchmark_names_its_cells_and_plans_the_full_grid():
    bench = benchmark()
    grid = bench.cells(bench.IMAGES, bench.AUGMENTS, bench.SEEDS)
    assert len(grid) == 3 * 3 * 2 and len({c.tag for c in grid}) == len(grid)
    assert bench.Cell(1000, "diffaugment:policy=translation,cutout", 1).tag == \
        "n1000-diffaugment-policytranslation+cutout-s1"


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_at_a_tiny_setting(tmp_path):
    """Its smoke phase: three cells trained for 10 steps, resumed to 20, sampled, measured and tabled."""
    import subprocess

    if not ganzoo.get_catalog().dataset("fashion-mnist").is_available():
        pytest.skip("Fashion-MNIST is not on this machine (apt install dataset-fashion-mnist)")
    work = tmp_path / "work"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality" / "augment.py"), "smoke", "--work", str(work),
                    "--skip-fid", "--device", "cpu"], check=True, cwd=tmp_path, capture_output=True, timeout=1800)
    for augment in ("none", "diffaugment", "ada"):
        record = json.loads((work / f"n200-{augment}-s0-train.json").read_text())
        assert record["steps"] == 20 and "--resume" in record["command"]  # continued from its checkpoint
        assert np_load_shape(work / f"n200-{augment}-s0-samples.npy") == (200, 1, 28, 28)
    table = (work / "report.md").read_text()
    assert all(f"| 200 | {a} |" in table for a in ("none", "diffaugment", "ada"))
    assert "real against real (the floor)" in table


def np_load_shape(path: Path) -> tuple[int, ...]:
    import numpy as np

    return tuple(np.load(path, allow_pickle=False).shape)
