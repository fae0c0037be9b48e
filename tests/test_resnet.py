"""The ResNet family (``resnet``, ``resnet-cond``): SNGAN's layout for each image size, spectral
normalization kept as state, the architecture's own training defaults, exact resume, and the
CIFAR-10 setting as documented."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import pytest
import safetensors.torch
import torch
from ganzoo_resnet import (
    BASE_CHANNELS,
    ConditionalBatchNorm2d,
    DiscriminatorBlock,
    GeneratorBlock,
    OptimizedBlock,
    width_at,
)
from PIL import Image
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.data import cifar
from ganzoo.data.mnist import FASHION_SYSTEM_DIR
from ganzoo.registry import Registry
from ganzoo.training.checkpoint import Checkpointer, load_checkpoint
from ganzoo.training.loop import fit
from ganzoo.training.runfolder import CHECKPOINT, read_run_config

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"base_channels": 8}
FAMILY = ("resnet", "resnet-cond")
SNGAN = {"d_steps": 5, "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.9)}


def classes(name: str) -> int:
    return 10 if name == "resnet-cond" else 0


def labels_for(name: str, n: int) -> torch.Tensor | None:
    return torch.arange(n) % 10 if classes(name) else None


def normalized(module: nn.Module) -> list[str]:
    """Names of the submodules whose weight is spectrally normalized."""
    return [n for n, m in module.named_modules() if parametrize.is_parametrized(m, "weight")]


# -- the networks: SNGAN's layout, derived from the image size --------------------------------------


def test_size_32_is_sngans_cifar10_network():
    g, d = ganzoo.create("resnet", data_shape=(3, 32, 32))
    assert g.latent_dim == 128 and g.project.out_features == 4 * 4 * 256
    assert [(b.conv1.in_channels, b.conv1.out_channels) for b in g.blocks] == [(256, 256)] * 3
    assert all(b.shortcut.kernel_size == (1, 1) for b in g.blocks)
    assert isinstance(g.norm, nn.BatchNorm2d) and (g.to_image.in_channels, g.to_image.out_channels) == (256, 3)
    first, *rest = d.blocks
    assert isinstance(first, OptimizedBlock) and (first.conv1.in_channels, first.conv1.out_channels) == (3, 128)
    assert [(b.conv1.in_channels, b.conv1.out_channels, b.halves) for b in rest] == \
        [(128, 128, True), (128, 128, False), (128, 128, False)]
    assert rest[1].shortcut is None and rest[2].shortcut is None  # same size, same width: the identity
    assert d.readout.in_features == 128
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules()), "no BatchNorm in D"
    with torch.no_grad():
        assert d.blocks(torch.zeros(2, 3, 32, 32)).shape == (2, 128, 8, 8)


@pytest.mark.parametrize(("size", "s0", "k"), [(8, 4, 1), (16, 4, 2), (28, 7, 2), (32, 4, 3), (64, 4, 4), (128, 4, 5)])
def test_depth_and_widths_follow_the_image_size(size, s0, k):
    base = 16
    torch.manual_seed(0)
    g, d = ganzoo.create("resnet-cond", data_shape=(1, size, size), num_classes=10, base_channels=base)
    assert len(g.blocks) == k and g.s0 == s0
    assert [b.conv2.out_channels for b in g.blocks] == [width_at(base, j) for j in range(1, k + 1)]
    halving = [getattr(b, "halves", True) for b in d.blocks]  # the optimized block always halves
    assert halving == [True] * max(1, k - 1) + [False, False]
    assert d.d_channels == base // 2
    labels = torch.arange(2)
    with torch.no_grad():
        x = g.eval()(g.sample_latent(2), labels)
        features = d.eval().blocks(x)
        logits = d(x, labels)
    assert x.shape == (2, 1, size, size) and logits.shape == (2,)
    final = 2 * s0 if k >= 2 else s0
    assert features.shape[2:] == (final, final)
    assert features.shape[1] == width_at(base // 2, 1 if k >= 2 else 0)


def test_widths_halve_above_level_3():
    assert [width_at(256, j) for j in range(6)] == [256, 256, 256, 256, 128, 64]
    g, d = ganzoo.create("resnet", data_shape=(3, 128, 128), base_channels=32, d_channels=16)
    assert [b.conv2.out_channels for b in g.blocks] == [32, 32, 32, 16, 8]
    assert [b.conv2.out_channels for b in d.blocks] == [8, 16, 16, 16, 16, 16]


@pytest.mark.parametrize("name", FAMILY)
@pytest.mark.parametrize(("shape", "says"), [
    ((1, 5, 5), "cannot build for image size 5"),
    ((1, 30, 30), "Use --image-size 32"),
    ((1, 8, 16), "needs square images"),
])
def test_impossible_sizes_are_refused_naming_one_that_works(name, shape, says):
    with pytest.raises(ganzoo.ShapeMismatchError, match=re.escape(says)) as err:
        ganzoo.create(name, data_shape=shape, num_classes=classes(name))
    assert str(err.value).startswith(name)


@pytest.mark.parametrize(("name", "alternative"), [("resnet", "'gan'"), ("resnet-cond", "'cgan'")])
def test_vectors_are_refused_with_an_alternative(name, alternative):
    with pytest.raises(ganzoo.ShapeMismatchError, match=alternative):
        ganzoo.create(name, data_shape=(2,), num_classes=classes(name))


@pytest.mark.parametrize(("options", "says"), [
    ({"base_channels": 0}, "base_channels must be a positive integer"),
    ({"d_channels": 0}, "d_channels must be a positive integer"),
    ({"d_channels": "wide"}, "d_channels must be a positive integer"),
    ({"d_channels": True}, "d_channels must be a positive integer"),
    ({"base_channels": 2.5}, "base_channels of 'resnet' must be a whole number"),
])
def test_bad_widths_are_refused(options, says):
    with pytest.raises(ganzoo.ConfigError, match=says):
        ganzoo.create("resnet", data_shape=(1, 8, 8), **options)


def test_d_channels_sets_ds_width_apart():
    g, d = ganzoo.create("resnet", data_shape=(1, 8, 8), base_channels=32, d_channels=12)
    assert g.blocks[0].conv2.out_channels == 32 and d.readout.in_features == 12
    _, d_half = ganzoo.create("resnet", data_shape=(1, 8, 8), base_channels=32)
    assert d_half.readout.in_features == 16


def test_ds_first_block_convolves_before_any_activation():
    torch.manual_seed(0)
    block = OptimizedBlock(1, 4).eval()
    x = -torch.rand(2, 1, 8, 8)  # an all-negative image: a leading ReLU would make it all zeros
    with torch.no_grad():
        assert not torch.allclose(block(x), block(torch.zeros_like(x)))
        later = DiscriminatorBlock(4, 4, halves=False).eval()
        h = -torch.rand(2, 4, 4, 4)
        # a later block's branch starts with a ReLU: only its identity shortcut sees the negative values
        assert torch.allclose(later(h) - h, later(torch.zeros_like(h)))


def test_g_blocks_upsample_and_shortcut():
    block = GeneratorBlock(4, 6).eval()
    with torch.no_grad():
        out = block(torch.randn(2, 4, 5, 5))
    assert out.shape == (2, 6, 10, 10)


# -- spectral normalization: every weight of D, none in G, its vectors saved --------------------


@pytest.mark.parametrize("name", FAMILY)
def test_spectral_norm_on_every_weight_of_d_and_none_in_g(name):
    torch.manual_seed(0)
    g, d = ganzoo.create(name, data_shape=(1, 8, 8), num_classes=classes(name), **SMALL)
    weighted = [n for n, m in d.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert weighted and normalized(d) == weighted
    assert normalized(g) == []
    if name == "resnet-cond":
        assert "embed" in normalized(d)
    d.eval()
    sigmas = {layer: float(torch.linalg.matrix_norm(d.get_submodule(layer).weight.detach().flatten(1), ord=2))
              for layer in weighted}
    assert sigmas == pytest.approx(dict.fromkeys(weighted, 1.0), abs=0.05), "each weight as used has norm 1"

    with torch.no_grad():  # move D's weights, as an optimizer step would
        for p in d.parameters():
            p.add_(0.05 * torch.randn_like(p))
    u_before = {k: v.clone() for k, v in d.state_dict().items() if k.endswith("._u")}
    x, labels = torch.randn(8, 1, 8, 8), labels_for(name, 8)
    with torch.no_grad():
        d(x, labels)
    assert all(torch.equal(d.state_dict()[k], v) for k, v in u_before.items()), "eval mode runs no power iteration"
    d.train()
    with torch.no_grad():
        for _ in range(10):  # one power iteration per training forward pass
            d(x, labels)
    # (the read-out's u has one entry, always 1)
    assert all(not torch.equal(d.state_dict()[k], v) for k, v in u_before.items() if v.numel() > 1), \
        "training advances u"
    d.eval()
    with torch.no_grad():
        for layer in weighted:
            sigma = float(torch.linalg.matrix_norm(d.get_submodule(layer).weight.flatten(1), ord=2))
            assert sigma == pytest.approx(1.0, abs=0.05), f"{layer}: largest singular value {sigma}"


def test_the_power_iteration_vectors_are_stored_with_the_weights(cli_run, tmp_path):
    cli_run("train", "resnet", "--steps", "2", "--batch-size", "8", "-o", "base_channels=8", "--name", "sn")
    record = Registry().resolve("sn")
    stored = safetensors.torch.load_file(record.path / "discriminator.safetensors")
    vectors = sorted(k for k in stored if k.endswith(("._u", "._v")))
    assert len(vectors) == 2 * len(normalized(ganzoo.create("resnet", data_shape=(1, 8, 8), base_channels=8)[1]))
    run = next((tmp_path / "runs").iterdir())
    trained = load_checkpoint(run)["discriminator"]
    assert all(torch.equal(stored[k], trained[k]) for k in vectors)


# -- conditioning ----------------------------------------------------------------------------------


def test_the_projection_term_is_an_inner_product_with_the_class_vector():
    torch.manual_seed(0)
    _, d = ganzoo.create("resnet-cond", data_shape=(1, 8, 8), num_classes=10, **SMALL)
    d.eval()
    x = torch.randn(1, 1, 8, 8).expand(10, -1, -1, -1)
    with torch.no_grad():
        logits = d(x, torch.arange(10))
        h = torch.relu(d.blocks(x[:1])).sum(dim=(2, 3))[0]
        expected = d.embed.weight @ h  # <embed(y), h> for every class y
    assert torch.allclose(logits - logits[0], expected - expected[0], atol=1e-5)


def test_conditional_batchnorm_uses_one_gain_and_bias_per_class():
    norm = ConditionalBatchNorm2d(3, num_classes=4).eval()
    with torch.no_grad():
        norm.gain.weight.copy_(torch.arange(12.0).view(4, 3))
        norm.bias.weight.fill_(0.5)
        out = norm(torch.ones(2, 3, 2, 2), torch.tensor([1, 3]))
    # eval mode with fresh statistics (mean 0, variance 1): ~1 * gain + bias
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([3.0, 4.0, 5.0]) + 0.5, atol=1e-3)
    assert torch.allclose(out[1, :, 0, 0], torch.tensor([9.0, 10.0, 11.0]) + 0.5, atol=1e-3)
    g, _ = ganzoo.create("resnet-cond", data_shape=(1, 8, 8), num_classes=10, **SMALL)
    assert all(isinstance(b.norm1, ConditionalBatchNorm2d) for b in g.blocks)
    assert isinstance(g.norm, nn.BatchNorm2d)  # the last one stays plain


def _class_folder(root: Path) -> None:
    for label in ("cats", "dogs"):
        for i in range(8):
            (root / label).mkdir(parents=True, exist_ok=True)
            Image.new("L", (8, 8), 30 * i + (100 if label == "dogs" else 0)).save(root / label / f"{i}.png")


@pytest.mark.parametrize("dataset", ["digits", "stacked-digits", "folder", "fashion-mnist"])
def test_resnet_cond_trains_on_labelled_datasets(cli_run, tmp_path, dataset):
    extra = []
    if dataset == "folder":
        _class_folder(tmp_path / "pets")
        extra = ["--data-dir", str(tmp_path / "pets")]
    if dataset == "fashion-mnist" and not (FASHION_SYSTEM_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not installed here (apt install dataset-fashion-mnist)")
    cli_run("train", "resnet-cond", "--dataset", dataset, "--steps", "1", "--batch-size", "8", "--ema", "0",
            "-o", "base_channels=8", "--run-dir", "run", *extra)
    config = read_run_config(tmp_path / "run")
    assert (config.dataset, config.d_steps, config.steps) == (dataset, 5, 1)
    assert load_checkpoint(tmp_path / "run")["step"] == 1


# -- training defaults declared by the architecture -----------------------------------------------


def test_resnet_trains_with_sngans_settings_unless_told_otherwise():
    config = ganzoo.resolve_run("resnet").config
    assert {k: getattr(config, k) for k in SNGAN} == SNGAN
    # Given explicitly, even a value equal to TrainConfig's own default wins.
    typed = ganzoo.resolve_run("resnet", options={"d_steps": 1, "betas": (0.5, 0.999)}).config
    assert (typed.d_steps, typed.betas, typed.lr_g) == (1, (0.5, 0.999), 2e-4)
    from_file = ganzoo.resolve_run("resnet", config_file={"lr_d": 1e-4, "d_steps": 2}).config
    assert (from_file.d_steps, from_file.lr_d, from_file.betas) == (2, 1e-4, (0.0, 0.9))


def test_other_families_keep_trainconfigs_defaults():
    for name in ("gan", "dcgan", "cdcgan", "pacgan"):
        assert ganzoo.get_catalog().train_defaults(name) == {}
        assert ganzoo.resolve_run(name).config == ganzoo.TrainConfig(architecture=name)


def test_a_stored_models_options_win_over_the_architectures(cli_run):
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "2", "--batch-size", "16", "--betas", "0.3", "0.8")
    config = ganzoo.resolve_run("resnet", from_ref="gan-ring8").config
    assert (config.architecture, config.d_steps, config.betas) == ("resnet", 1, (0.3, 0.8))


class CountDiscriminatorCalls(ganzoo.Callback):
    def __init__(self) -> None:
        self.calls = 0

    def on_train_start(self, state: ganzoo.TrainState) -> None:
        state.discriminator.register_forward_pre_hook(lambda module, args: setattr(self, "calls", self.calls + 1))


@pytest.mark.parametrize(("given", "d_steps"), [({}, 5), ({"d_steps": 1}, 1)])
def test_the_python_api_applies_them_to_the_options_not_given(given, d_steps):
    counter = CountDiscriminatorCalls()
    result = ganzoo.train("resnet", "digits", steps=1, batch_size=8, ema=0.0, model=SMALL, callbacks=[counter],
                          progress=False, **given)
    assert result.config.d_steps == d_steps and result.config.betas == (0.0, 0.9)
    assert counter.calls == 2 * d_steps + 1  # k steps on a real and a generated batch, then G's step


def test_fit_trains_the_config_it_is_given():
    config = ganzoo.TrainConfig(architecture="resnet", steps=1, batch_size=8, ema=0.0, model=SMALL)
    counter = CountDiscriminatorCalls()
    fit(config, callbacks=[counter])
    assert counter.calls == 3  # TrainConfig's own d_steps = 1: fit adds nothing


def test_the_command_line_records_the_values_used(cli_run):
    cli_run("train", "resnet", "--steps", "1", "--batch-size", "8", "-o", "base_channels=8", "--name", "k5")
    training = Registry().manifest("k5")["training"]
    assert (training["d_steps"], training["betas"], training["lr_g"], training["lr_d"]) == (5, [0.0, 0.9], 2e-4, 2e-4)
    cli_run("train", "resnet", "--steps", "1", "--batch-size", "8", "-o", "base_channels=8", "--name", "k1",
            "--d-steps", "1")
    assert Registry().manifest("k1")["training"]["d_steps"] == 1


def test_ganzoo_list_shows_them(cli_run):
    listed = json.loads(cli_run("list", "--json").output)["architectures"]
    own = {a["name"]: a["train_defaults"] for a in listed}
    assert own["resnet"] == own["resnet-cond"] == {**SNGAN, "betas": [0.0, 0.9]}
    assert own["dcgan"] == {}


@pytest.mark.parametrize(("train_defaults", "says"), [
    ({"d_step": 5}, "has no option 'd_step' (did you mean 'd_steps'?)"),
    ({"steps": 100}, "has no option 'steps'"),
    ({"d_steps": 0}, "train_defaults d_steps must be a positive integer, got 0"),
    ({"d_steps": 2.5}, "train_defaults d_steps must be a positive integer, got 2.5"),
    ({"lr_g": -1}, "train_defaults lr_g must be a positive number"),
    ({"betas": (0.5, 1.0)}, "train_defaults betas must be two numbers in [0, 1)"),
    ({"betas": 0.5}, "train_defaults betas must be two numbers in [0, 1)"),
    ({"ema": 1}, "train_defaults ema must be in [0, 1)"),
    ([("d_steps", 5)], "train_defaults must be a dict"),
])
def test_bad_train_defaults_are_refused_when_the_architecture_is_made(train_defaults, says):
    from ganzoo_gan import MLPDiscriminator, MLPGenerator

    with pytest.raises(ganzoo.ConfigError, match=re.escape(says)):
        ganzoo.Architecture("toy", MLPGenerator, MLPDiscriminator, train_defaults=train_defaults)


THIRD_PARTY = """
import ganzoo
from ganzoo_gan import MLPDiscriminator, MLPGenerator


@ganzoo.hookimpl
def register_architectures(register):
    register(ganzoo.Architecture("toy-k3", MLPGenerator, MLPDiscriminator,
                                 train_defaults={"d_steps": 3, "lr_d": 4e-4}))
"""

SPOILT = """
import ganzoo
from ganzoo_gan import MLPDiscriminator, MLPGenerator


@ganzoo.hookimpl
def register_architectures(register):
    arch = ganzoo.Architecture("toy-bad", MLPGenerator, MLPDiscriminator)
    arch.train_defaults["d_steps"] = -1  # spoilt after it was made: registering checks again
    register(arch)
"""


def test_a_third_party_architecture_declares_them_too(install_distribution):
    install_distribution("ganzoo-toyk", {"thirdparty_toyk": THIRD_PARTY}, {"toyk": "thirdparty_toyk"})
    install_distribution("ganzoo-toybad", {"thirdparty_toybad": SPOILT}, {"toybad": "thirdparty_toybad"})
    catalog = ganzoo.load_catalog()
    assert catalog.train_defaults("toy-k3") == {"d_steps": 3, "lr_d": 4e-4}
    assert "toy-bad" not in catalog.architectures
    failure = next(f for f in catalog.failures if f.name == "toybad")
    assert failure.stage == "register_architectures"
    assert "train_defaults d_steps must be a positive integer, got -1" in failure.error
    with pytest.warns(ganzoo.PluginWarning, match="toybad"):  # the process-wide catalog names the failure
        config = ganzoo.resolve_run("toy-k3", options={"dataset": "ring8"}).config
    assert (config.d_steps, config.lr_d, config.lr_g) == (3, 4e-4, 2e-4)


# -- exact resume, spectral-norm vectors included --------------------------------------------------


@pytest.fixture
def one_thread(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def same(a, b, where: str = "") -> list[str]:
    """Where two checkpoint payloads differ."""
    if isinstance(a, torch.Tensor):
        return [] if isinstance(b, torch.Tensor) and torch.equal(a, b) else [where]
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [where]
        return [d for k in a for d in same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list):
        if len(a) != len(b):
            return [where]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same(x, y, f"{where}[{i}]")]
    return [] if a == b else [where]


def resume_config(name: str, steps: int) -> ganzoo.TrainConfig:
    options = {"steps": steps, "batch_size": 16, "deterministic": True, "ema": 0.9, "log_every": 1,
               "checkpoint_every": 3}
    return ganzoo.resolve_run(name, options=options, model=SMALL).config


@pytest.mark.parametrize("name", FAMILY)
def test_a_resumed_run_matches_an_uninterrupted_one_bit_for_bit(name, tmp_path, one_thread):
    config = resume_config(name, 6)
    assert config.d_steps == 5
    fit(config, callbacks=[Checkpointer(tmp_path / "straight", 3)])
    fit(dataclasses.replace(config, steps=3), callbacks=[Checkpointer(tmp_path / "resumed", 3)])
    halfway = load_checkpoint(tmp_path / "resumed")
    assert any(k.endswith("._u") for k in halfway["discriminator"])
    fit(config, callbacks=[Checkpointer(tmp_path / "resumed", 3)], resume_from=tmp_path / "resumed")
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "resumed")
    keys = ("step", "generator", "discriminator", "ema", "opt_g", "opt_d", "sampler", "rng", "fixed_z")
    assert [d for k in keys for d in same(straight[k], resumed[k], k)] == []
    losses = [[{k: v for k, v in r.items() if k != "seconds"} for r in c["history"]] for c in (straight, resumed)]
    assert losses[0] == losses[1] and len(losses[0]) == 6
    assert resumed["step"] == 6


def test_the_power_iteration_vectors_matter_to_the_resumed_run(tmp_path, one_thread):
    config = resume_config("resnet", 6)
    fit(config, callbacks=[Checkpointer(tmp_path / "straight", 3)])
    fit(dataclasses.replace(config, steps=3), callbacks=[Checkpointer(tmp_path / "spoilt", 3)])
    payload = load_checkpoint(tmp_path / "spoilt")
    for key, value in payload["discriminator"].items():
        if key.endswith("._v"):  # each power iteration starts from v (u = W v first)
            value.copy_(torch.nn.functional.normalize(torch.ones_like(value), dim=0))  # forget the iteration
    torch.save(payload, tmp_path / "spoilt" / CHECKPOINT)
    fit(config, callbacks=[Checkpointer(tmp_path / "spoilt", 3)], resume_from=tmp_path / "spoilt")
    straight, spoilt = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "spoilt")
    assert same(straight["generator"], spoilt["generator"], "generator") != []


# -- the CIFAR-10 setting, as docs/guide.md gives it -----------------------------------------------


def documented_cifar10_command() -> list[str]:
    guide = (ROOT / "docs" / "guide.md").read_text()
    line = next(ln.strip() for ln in guide.splitlines() if ln.startswith("ganzoo train resnet --dataset cifar10"))
    return shlex.split(line.split("#")[0])[1:]


def write_cifar10(data_dir: Path, per_file: int = 12) -> None:
    """CIFAR-10's binary layout: records of one label byte and 3,072 pixel bytes, in data_batch_1..5.bin."""
    folder = data_dir / "cifar10" / cifar.EXTRACTED
    folder.mkdir(parents=True)
    rng = torch.Generator().manual_seed(0)
    for k, name in enumerate([*cifar.TRAIN_FILES, *cifar.TEST_FILES]):
        labels = (torch.arange(per_file) + k) % 10
        pixels = torch.randint(0, 256, (per_file, 3 * 32 * 32), generator=rng, dtype=torch.uint8)
        (folder / name).write_bytes(torch.cat([labels[:, None].to(torch.uint8), pixels], dim=1).numpy().tobytes())


def test_the_documented_cifar10_command_trains_on_cifar10_files(cli_run, tmp_path):
    args = documented_cifar10_command()
    assert args[:4] == ["train", "resnet", "--dataset", "cifar10"]
    write_cifar10(tmp_path / "data")
    # the documented command, made short and narrow: options given again take the last value
    cli_run(*args, "--data-dir", str(tmp_path / "data"), "--steps", "2", "--batch-size", "8", "--ema", "0",
            "-o", "base_channels=16", "--checkpoint-every", "1", "--run-dir", "run", "--no-publish")
    config = read_run_config(tmp_path / "run")
    assert (config.dataset, config.loss, config.batch_size) == ("cifar10", None, 8)
    assert {k: getattr(config, k) for k in SNGAN} == SNGAN
    assert config.lr_decay == 1.0  # the documented command's linear decay to 0 over the run
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint["step"] == 2
    assert checkpoint["generator"]["to_image.weight"].shape == (3, 16, 3, 3)  # 3x32x32 images
    # without -o, the command's networks are SNGAN's CIFAR-10 ones (test_size_32_is_sngans_cifar10_network)
    spec = ganzoo.get_catalog().resolve_spec("resnet", (3, 32, 32))
    assert (spec.latent_dim, spec.generator_kwargs["base_channels"], spec.discriminator_kwargs["d_channels"]) == \
        (128, BASE_CHANNELS, None)
    _, d = ganzoo.get_catalog().build(spec, meta=True)
    assert d.d_channels == 128
