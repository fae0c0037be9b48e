"""Every registered architecture against the model contract; DCGAN's paper rules and derived depth."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
from ganzoo_dcgan import dcgan_layout, supported_sizes
from torch import nn

import ganzoo

_CATALOG = ganzoo.load_catalog()
ARCHITECTURES = sorted(_CATALOG.architectures)
CONDITIONAL = [name for name in ARCHITECTURES if _CATALOG.architecture(name).conditional]
CONV = [name for name in ("dcgan", "cdcgan", "cdcgan-proj") if name in ARCHITECTURES]
SHAPES = [(2,), (1, 8, 8), (3, 32, 32)]
NUM_CLASSES = 10

# The built-in architectures and the shapes they must refuse; every other built-in pair must build.
# Architectures registered later are held to "build, or refuse with ShapeMismatchError".
BUILTIN = {"gan", "dcgan", "cgan", "cdcgan", "cdcgan-proj", "pacgan"}
REFUSED = {("dcgan", (2,)), ("cdcgan", (2,)), ("cdcgan-proj", (2,))}
FITTING = [(name, shape) for name in ARCHITECTURES for shape in SHAPES if (name, shape) not in REFUSED]

POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)


def classes(name: str) -> int:
    return NUM_CLASSES if _CATALOG.architecture(name).conditional else 0


def build(name: str, shape: tuple[int, ...], **overrides) -> tuple[ganzoo.Generator, ganzoo.Discriminator]:
    """Build ``name`` for ``shape``; a refusal fails for built-ins and skips for later plugins."""
    try:
        return ganzoo.create(name, data_shape=shape, num_classes=classes(name), **overrides)
    except ganzoo.ShapeMismatchError:
        if name in BUILTIN:
            raise
        pytest.skip(f"{name} refuses data of shape {shape}")


def labels_for(name: str, n: int) -> torch.Tensor | None:
    return torch.arange(n) % NUM_CLASSES if classes(name) else None


def leaves(module: nn.Module) -> list[nn.Module]:
    """Modules without children, in registration order (execution order for our Sequentials)."""
    return [m for m in module.modules() if not list(m.children())]


# -- the contract, for every architecture -------------------------------------------------------


def test_builtin_architectures_are_registered():
    assert set(ARCHITECTURES) >= BUILTIN
    assert set(CONDITIONAL) >= {"cgan", "cdcgan", "cdcgan-proj"}
    assert not {"gan", "dcgan"} & set(CONDITIONAL)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_architecture_fits_some_shape(name):
    built = 0
    for shape in SHAPES:
        try:
            ganzoo.create(name, data_shape=shape, num_classes=classes(name))
            built += 1
        except ganzoo.ShapeMismatchError:
            pass
    assert built >= 1, f"{name} refuses every one of {SHAPES}"


@pytest.mark.parametrize(("name", "shape"), FITTING)
def test_shape_contract(name, shape):
    torch.manual_seed(0)
    g, d = build(name, shape)
    g.eval()
    d.eval()
    n = math.lcm(4, d.batch_multiple)  # a packed D scores whole packs only
    labels = labels_for(name, n)
    with torch.no_grad():
        x = g(g.sample_latent(n), labels)
        logits = d(x, labels)
    assert x.shape == (n, *shape)
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1, "images must lie in [-1, 1]"
    assert logits.shape == (n,)
    assert torch.isfinite(logits).all()
    assert not isinstance(leaves(d)[-1], nn.Sigmoid), "D returns raw logits; the loss applies the sigmoid"


@pytest.mark.parametrize(("name", "shape"), FITTING)
def test_gradients_reach_every_parameter(name, shape):
    torch.manual_seed(0)
    g, d = build(name, shape)
    g.train()
    d.train()
    n = math.lcm(10, d.batch_multiple)  # covers all 10 classes, so every class embedding gets a gradient
    labels = labels_for(name, n)
    d(g(g.sample_latent(n), labels), labels).mean().backward()
    for prefix, net in (("G", g), ("D", d)):
        for pname, p in net.named_parameters():
            assert p.grad is not None, f"{prefix}.{pname} got no gradient"
            assert p.grad.abs().sum() > 0, f"{prefix}.{pname} got an all-zero gradient (dead layer?)"


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_construction_is_seeded_by_the_global_rng(name):
    def params() -> list[torch.Tensor]:
        torch.manual_seed(123)
        g, d = build(name, (1, 8, 8))
        return [p.detach().clone() for p in itertools.chain(g.parameters(), d.parameters())]

    first, second = params(), params()
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


# -- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shape"), sorted(REFUSED))
def test_builtin_refuses_data_it_cannot_handle(name, shape):
    with pytest.raises(ganzoo.ShapeMismatchError) as err:
        ganzoo.create(name, data_shape=shape, num_classes=classes(name))
    message = str(err.value)
    assert "images (C,H,W)" in message and "2-d vectors" in message
    alternative = "'cgan'" if name in CONDITIONAL else "'gan'"
    assert alternative in message


@pytest.mark.parametrize("name", CONDITIONAL)
def test_conditional_needs_labelled_data(name):
    with pytest.raises(ganzoo.ShapeMismatchError, match="num_classes"):
        ganzoo.create(name, data_shape=(1, 8, 8), num_classes=0)
    arch = _CATALOG.architecture(name)
    with pytest.raises(ganzoo.ShapeMismatchError):  # direct construction is checked too
        arch.generator(data_shape=(1, 8, 8), latent_dim=8, num_classes=0)
    with pytest.raises(ganzoo.ShapeMismatchError):
        arch.discriminator(data_shape=(1, 8, 8), num_classes=0)


@pytest.mark.parametrize("name", CONDITIONAL)
def test_conditional_refuses_missing_labels(name):
    g, d = build(name, (1, 8, 8))
    g.eval()
    z = g.sample_latent(2)
    with pytest.raises(ganzoo.ConfigError, match="needs labels"):
        g(z)
    with pytest.raises(ganzoo.ConfigError, match="needs labels"):
        d(torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize(
    ("name", "options"),
    [("gan", {"hidden": 0}), ("gan", {"depth": 0}), ("cgan", {"depth": -1}),
     ("pacgan", {"pack": 0}), ("pacgan", {"hidden": 0}),
     ("dcgan", {"base_channels": 0}), ("dcgan", {"extra_layers": -1}), ("cdcgan", {"base_channels": 2.5})],
)
def test_bad_hyperparameters_are_refused(name, options):
    with pytest.raises(ganzoo.ConfigError, match=next(iter(options))):
        ganzoo.create(name, data_shape=(1, 8, 8), num_classes=classes(name), **options)


# -- conditioning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shape"), [(n, s) for n, s in FITTING if n in CONDITIONAL])
def test_labels_change_the_outputs(name, shape):
    torch.manual_seed(0)
    g, d = build(name, shape)
    g.eval()
    d.eval()
    labels = torch.arange(NUM_CLASSES)
    z = g.sample_latent(1).expand(NUM_CLASSES, -1)  # the same z for every class
    with torch.no_grad():
        x = g(z, labels).flatten(1)
        gaps = torch.cdist(x, x) + torch.eye(NUM_CLASSES)  # ignore the diagonal
        assert gaps.min() > 1e-6, "two labels gave the same sample for the same z"
        same_x = g(z[:1], labels[:1]).expand(NUM_CLASSES, *shape)
        logits = d(same_x, labels)
    assert logits.unique().numel() == NUM_CLASSES, "D ignores the label"


def test_conditional_conv_inputs_carry_the_label():
    latent = 16
    g, d = ganzoo.create("cdcgan", data_shape=(3, 16, 16), num_classes=NUM_CLASSES, latent_dim=latent)
    first_g = next(m for m in g.modules() if isinstance(m, nn.ConvTranspose2d))
    first_d = next(m for m in d.modules() if isinstance(m, nn.Conv2d))
    assert first_g.in_channels == latent + NUM_CLASSES  # [z, one_hot(y)]
    assert first_d.in_channels == 3 + NUM_CLASSES  # image + one constant plane per class


# -- DCGAN: derived depth, paper rules, refusals ----------------------------------------------------


@pytest.mark.parametrize(
    ("size", "layout"),
    [(8, (4, 1)), (10, (5, 1)), (12, (6, 1)), (16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4)),
     (128, (4, 5))],
)
def test_dcgan_layout(size, layout):
    assert dcgan_layout(size) == layout


def test_dcgan_layout_accepts_exactly_the_supported_sizes():
    supported = set(supported_sizes(256))
    assert {8, 16, 28, 32, 64, 128, 256} <= supported
    for size in range(0, 257):
        if size in supported:
            s0, k = dcgan_layout(size)
            assert 4 <= s0 <= 7 and k >= 1 and s0 * 2**k == size
        else:
            with pytest.raises(ganzoo.ShapeMismatchError):
                dcgan_layout(size)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [8, 16, 28, 32, 64, 128])
def test_dcgan_depth_grows_with_image_size(size, channels):
    s0, k = dcgan_layout(size)
    g, d = ganzoo.create("dcgan", data_shape=(channels, size, size), latent_dim=16, base_channels=4,
                         extra_layers=0)
    g.eval()
    d.eval()
    with torch.no_grad():
        x = g(g.sample_latent(2))
        assert x.shape == (2, channels, size, size)
        assert d(x).shape == (2,)
    up = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    down = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(up) == k + 1  # the projection to s0 x s0, then k doublings
    assert (up[0].kernel_size, up[0].stride) == ((s0, s0), (1, 1))
    assert all((m.kernel_size, m.stride, m.padding) == ((4, 4), (2, 2), (1, 1)) for m in up[1:])
    assert len(down) == k + 1  # k halvings, then the s0 x s0 read-out
    assert all((m.kernel_size, m.stride, m.padding) == ((4, 4), (2, 2), (1, 1)) for m in down[:-1])
    assert (down[-1].kernel_size, down[-1].out_channels) == ((s0, s0), 1)
    # Widths double at each halving of the resolution, from base_channels at size/2.
    assert [m.out_channels for m in down[:-1]] == [4 * 2**i for i in range(k)]
    assert [m.out_channels for m in up[:-1]] == [4 * 2 ** (k - 1 - i) for i in range(k)]


def extra_blocks(g: nn.Module, d: nn.Module) -> tuple[list[nn.Module], list[nn.Module]]:
    """The extra stride-1 3x3 blocks of G and D (G's first stride-1 layer is the projection)."""
    extra_g: list[nn.Module] = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d) and m.stride == (1, 1)]
    extra_d: list[nn.Module] = [m for m in d.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    return extra_g[1:], extra_d


def test_dcgan_extra_layers_keep_the_resolution():
    g, d = ganzoo.create("dcgan", data_shape=(1, 16, 16), base_channels=4, extra_layers=3)
    extra_g, extra_d = extra_blocks(g, d)
    assert len(extra_g) == len(extra_d) == 3
    assert all((m.kernel_size, m.stride, m.padding) == ((3, 3), (1, 1), (1, 1)) for m in extra_g + extra_d)
    with torch.no_grad():
        assert d(g(g.sample_latent(2))).shape == (2,)


@pytest.mark.parametrize("name", CONV)
@pytest.mark.parametrize(("size", "auto"), [(8, 2), (10, 2), (14, 2), (16, 0), (28, 0), (32, 0)])
def test_dcgan_auto_extra_layers_only_for_shallow_sizes(name, size, auto):
    g, d = ganzoo.create(name, data_shape=(1, size, size), num_classes=classes(name), base_channels=4)
    extra_g, extra_d = extra_blocks(g, d)
    assert len(extra_g) == len(extra_d) == auto == g.extra_layers == d.extra_layers


@pytest.mark.parametrize("name", CONV)
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])  # with and without the auto extra blocks
def test_dcgan_follows_the_paper_rules(name, shape):
    g, d = build(name, shape)
    for net in (g, d):
        assert not any(isinstance(m, nn.Linear) for m in net.modules()), "no fully-connected layers"
        assert not any(isinstance(m, POOLING) for m in net.modules()), "no pooling"
    g_layers, d_layers = leaves(g), leaves(d)
    # G: transposed convolutions only, each but the last followed by BatchNorm + ReLU; tanh output.
    assert not any(isinstance(m, nn.Conv2d) for m in g_layers)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    convs = [i for i, m in enumerate(g_layers) if isinstance(m, nn.ConvTranspose2d)]
    for i in convs[:-1]:
        assert isinstance(g_layers[i + 1], nn.BatchNorm2d) and type(g_layers[i + 2]) is nn.ReLU
    # D: strided convolutions, LeakyReLU(0.2), BatchNorm on every layer but the first and the read-out.
    convs = [i for i, m in enumerate(d_layers) if isinstance(m, nn.Conv2d)]
    assert isinstance(d_layers[convs[0] + 1], nn.LeakyReLU), "no BatchNorm on D's first layer"
    for i in convs[1:-1]:
        assert isinstance(d_layers[i + 1], nn.BatchNorm2d) and isinstance(d_layers[i + 2], nn.LeakyReLU)
    readout = d_layers[convs[-1]]
    assert readout.out_channels == 1 and readout.stride == (1, 1), "a read-out conv to one logit"
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.LeakyReLU)) for m in d_layers[convs[-1] + 1:])
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert not any(type(m) is nn.ReLU for m in d_layers)


def test_dcgan_weight_init_follows_the_paper():
    torch.manual_seed(0)
    g, d = ganzoo.create("dcgan", data_shape=(3, 64, 64))
    convs = [m for net in (g, d) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    norms = [m for net in (g, d) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    weights = torch.cat([m.weight.flatten() for m in convs])
    scales = torch.cat([m.weight.flatten() for m in norms])
    assert weights.mean().abs() < 1e-3 and 0.019 < weights.std() < 0.021
    assert (scales.mean() - 1).abs() < 5e-3 and 0.015 < scales.std() < 0.025
    assert all(m.bias is None or not m.bias.any() for m in convs + norms)


@pytest.mark.parametrize("name", CONV)
@pytest.mark.parametrize("size", [7, 9, 18, 31, 36, 0])
def test_dcgan_refuses_impossible_sizes(name, size):
    with pytest.raises(ganzoo.ShapeMismatchError) as err:
        ganzoo.create(name, data_shape=(1, size, size), num_classes=classes(name))
    message = str(err.value)
    assert f"image size {size}" in message and "--image-size" in message
    suggested = int(re.search(r"--image-size (\d+)", message).group(1))
    assert dcgan_layout(suggested)  # the suggestion is itself a supported size
    assert "8, 10, 12" in message  # the supported sizes are listed


@pytest.mark.parametrize("name", CONV)
@pytest.mark.parametrize("shape", [(1, 8, 16), (3, 32, 28)])
def test_dcgan_refuses_non_square_images(name, shape):
    with pytest.raises(ganzoo.ShapeMismatchError, match=r"square.*--image-size \d+") as err:
        ganzoo.create(name, data_shape=shape, num_classes=classes(name))
    assert f"{shape[1]}x{shape[2]}" in str(err.value)


@pytest.mark.parametrize(("size", "nearest"), [(7, 8), (9, 10), (31, 32), (30, 32), (250, 256)])
def test_dcgan_suggests_the_nearest_supported_size(size, nearest):
    with pytest.raises(ganzoo.ShapeMismatchError, match=f"--image-size {nearest} "):
        dcgan_layout(size)


@pytest.mark.parametrize("arch", ["dcgan", "cdcgan", "cdcgan-proj"])
def test_a_pinned_image_size_refuses_data_of_another_size(arch):
    # The classic mismatch: the paper's 64x64 network pointed at CIFAR-10's 32x32 images.
    num_classes = 10 if arch != "dcgan" else 0
    with pytest.raises(ganzoo.ShapeMismatchError) as err:
        ganzoo.create(arch, data_shape=(3, 32, 32), num_classes=num_classes, image_size=64)
    message = str(err.value)
    assert "64x64" in message and "32x32" in message and "--image-size 64" in message
    g, _ = ganzoo.create(arch, data_shape=(3, 64, 64), num_classes=num_classes, image_size=64, base_channels=4)
    assert g.data_shape == (3, 64, 64)


def test_gan_discriminator_width_can_be_set_apart(cli_run, tmp_path):
    g, d = ganzoo.get_catalog().create("gan", data_shape=(2,), hidden=256, d_hidden=64, latent_dim=4)
    assert g.net[0].out_features == 256 and d.net[0].out_features == 64
    _, d_same = ganzoo.get_catalog().create("gan", data_shape=(2,), hidden=32)
    assert d_same.net[0].out_features == 32  # d_hidden unset: D follows hidden
    with pytest.raises(ganzoo.ConfigError, match="d_hidden must be a positive integer"):
        ganzoo.get_catalog().create("gan", data_shape=(2,), d_hidden=0)
    # a stored model records the widths, so it loads back as trained
    cli_run("train", "gan", "--dataset", "ring8", "--steps", "2", "-o", "hidden=16", "-o", "d_hidden=8",
            "--registry", str(tmp_path / "reg"), "--name", "narrow-d")
    cli_run("sample", "narrow-d", "--registry", str(tmp_path / "reg"), "--n", "8", "--out", str(tmp_path / "s.png"))
    assert (tmp_path / "s.png").exists()
