"""One test per hook (tests/test_docs.py requires it), each running the hook's example from
docs/plugins.md as an installed plugin distribution."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo import testing

PLUGINS_DOC = Path(__file__).parent.parent / "docs" / "plugins.md"


def hook_example(hook: str) -> str:
    """The python example in the hook's section of docs/plugins.md."""
    doc = PLUGINS_DOC.read_text()
    match = re.search(rf"^### `{hook}\(.*?\)`\n(.*?)(?=^##)", doc, re.S | re.M)
    assert match, f"docs/plugins.md has no section for {hook}"
    blocks = re.findall(r"```python\n(.*?)```", match.group(1), re.S)
    assert len(blocks) == 1, f"the {hook} section of docs/plugins.md should have one python example"
    return blocks[0]


def install_example(install_distribution, hook: str) -> ganzoo.Catalog:
    module = f"thirdparty_doc_{hook}"
    install_distribution(f"ganzoo-doc-{hook}", {module: hook_example(hook)}, {f"doc-{hook}": module})
    catalog = ganzoo.load_catalog()
    assert catalog.failures == []
    info = next(p for p in catalog.plugins if p.name == f"doc-{hook}")
    assert info.hooks == [hook]
    return catalog


def test_hook_register_architectures(install_distribution):
    catalog = install_example(install_distribution, "register_architectures")
    assert catalog.architectures["dcgan-wide"].plugin == "doc-register_architectures"
    g, d = catalog.create("dcgan-wide", data_shape=(1, 16, 16))
    assert g.ganzoo_spec.generator_kwargs["base_channels"] == 128
    first = next(m for m in d.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.out_channels == 128  # the defaults reached the discriminator too
    testing.check_shape_contract("dcgan-wide", data_shape=(1, 8, 8), catalog=catalog)


class Linear(ganzoo.Discriminator):
    """D(x) = w . x: its input gradient is w everywhere."""

    def __init__(self, w):
        super().__init__(data_shape=(len(w),))
        self.w = torch.nn.Parameter(torch.tensor(w))

    def forward(self, x, labels=None):
        return x @ self.w


def test_hook_register_losses(install_distribution):
    catalog = install_example(install_distribution, "register_losses")
    assert catalog.losses["hinge-r1"].plugin == "doc-register_losses"
    testing.check_loss("hinge-r1", catalog=catalog)
    loss = catalog.loss("hinge-r1")
    penalty = loss.penalty(Linear([3.0, 4.0]), torch.randn(8, 2), torch.randn(8, 2))
    assert penalty.item() == pytest.approx(10 / 2 * 25)  # gamma / 2 * |w|^2
    assert catalog.loss("hinge-r1:gamma=3").penalty(Linear([3.0, 4.0]), torch.randn(8, 2),
                                                    torch.randn(8, 2)).item() == pytest.approx(3 / 2 * 25)
    result = ganzoo.fit(ganzoo.TrainConfig(architecture="gan", dataset="ring8", loss="hinge-r1:gamma=3", steps=2,
                                           batch_size=16, ema=0), catalog=catalog)
    assert result.steps == 2


def test_hook_register_datasets(install_distribution):
    catalog = install_example(install_distribution, "register_datasets")
    spec = catalog.dataset("spirals")
    assert catalog.datasets["spirals"].plugin == "doc-register_datasets"
    data = spec.load(ganzoo.DataOptions())
    assert (data.shape, len(data), data.num_classes) == (spec.shape, spec.size, spec.num_classes)
    assert torch.bincount(data.labels).tolist() == [2000, 2000]
    for arch in ("gan", "cgan"):  # the labels reach a conditional model
        config = ganzoo.TrainConfig(architecture=arch, dataset="spirals", steps=2, batch_size=16, ema=0)
        result = ganzoo.fit(config, catalog=catalog)
        assert result.spec.num_classes == (2 if arch == "cgan" else 0)


def test_hook_register_augmentations(install_distribution):
    catalog = install_example(install_distribution, "register_augmentations")
    assert catalog.augmentations["instance-noise"].plugin == "doc-register_augmentations"
    for shape in ((2,), (1, 8, 8)):  # vectors and images alike
        testing.check_augmentation("instance-noise:sigma=0.5", data_shape=shape, catalog=catalog)
    aug = catalog.augmentation("instance-noise:sigma=0.5")
    x = torch.zeros(4096, 2)
    assert aug.augment(x).std().item() == pytest.approx(0.5, rel=0.05)  # the option reached the constructor
    config = ganzoo.TrainConfig(architecture="gan", dataset="ring8", augment="instance-noise:sigma=0.05", steps=2,
                                batch_size=16, ema=0, log_every=1)
    plain = ganzoo.fit(ganzoo.TrainConfig(**{**config.to_dict(), "augment": None}), catalog=catalog)
    noisy = ganzoo.fit(config, catalog=catalog)
    assert noisy.history[-1]["d_loss"] != plain.history[-1]["d_loss"]  # D saw the noisy batches
