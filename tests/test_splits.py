"""Test splits: loaded where a dataset has one, used as the reference of `ganzoo eval --reference test`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_datasets import idx_bytes, write_gz

import ganzoo
from ganzoo.cli import cli
from ganzoo.data import DataOptions, mnist
from ganzoo.data.download import RemoteFile
from ganzoo.data.loading import load_dataset
from ganzoo.evaluation import classifier as evaluation


def write_mnist(folder: Path, monkeypatch: pytest.MonkeyPatch, n_train: int = 40, n_test: int = 20) -> None:
    """MNIST-format files for both splits (test images brighter), and the file table trusting them."""
    rng = np.random.default_rng(0)
    for names, n, low in ((mnist.TRAIN, n_train, 0), (mnist.TEST, n_test, 200)):
        write_gz(folder / names[0], idx_bytes(rng.integers(low, low + 56, (n, 28, 28), dtype=np.uint8)))
        write_gz(folder / names[1], idx_bytes((np.arange(n) % 10).astype(np.uint8)))
        for name in names:
            old = mnist.MNIST_FILES[name]
            md5 = hashlib.md5((folder / name).read_bytes()).hexdigest()
            monkeypatch.setitem(mnist.MNIST_FILES, name, mnist.IdxFile(RemoteFile(name, old.remote.urls, md5=md5)))


def test_the_test_split_loads_where_a_dataset_has_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "mnist", monkeypatch)
    train = load_dataset("mnist", data_dir=str(tmp_path))
    test = load_dataset("mnist", data_dir=str(tmp_path), split="test")
    assert (len(train), len(test)) == (40, 20)
    assert int(test.data.min()) >= 200 > int(train.data.max())
    assert test.preprocessing.get("split") == "test" and "split" not in train.preprocessing


def test_a_dataset_without_a_test_split_says_so() -> None:
    with pytest.raises(ganzoo.ConfigError, match="dataset 'digits' has no 'test' split; it has: train"):
        load_dataset("digits", split="test")
    with pytest.raises(ganzoo.ConfigError, match="split must be 'train' or 'test'"):
        DataOptions(split="validation")


def test_specs_list_their_splits() -> None:
    catalog = ganzoo.get_catalog()
    assert {n: catalog.dataset(n).splits for n in ("mnist", "fashion-mnist", "cifar10", "digits")} == {
        "mnist": ("train", "test"), "fashion-mnist": ("train", "test"), "cifar10": ("train", "test"),
        "digits": ("train",)}


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_official_test_split() -> None:
    test = load_dataset("fashion-mnist", split="test")
    assert tuple(test.data.shape) == (10_000, 1, 28, 28)
    assert torch.bincount(test.labels).tolist() == [1000] * 10


def test_eval_against_the_test_split_is_stored_beside_the_training_one(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "data" / "mnist", monkeypatch)
    monkeypatch.setitem(evaluation.CLASSIFIER_RECIPE, "min_steps", 20)  # a rough classifier is enough here
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data"), "--registry", str(tmp_path / "registry")]
    result = runner.invoke(cli, ["train", "dcgan", "--dataset", "mnist", "--steps", "2", "--batch-size", "8",
                                 "-o", "base_channels=8", *data])
    assert result.exit_code == 0, result.output
    for reference in ("train", "test"):
        result = runner.invoke(cli, ["eval", "dcgan-mnist", "--samples", "16", "--reference", reference, "--json",
                                     *data])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        split = "test" if reference == "test" else "training"
        assert out["protocol"]["reference"] == f"16 random {split} images of mnist, seed 0"
    manifest = json.loads((tmp_path / "registry" / "models" / "dcgan-mnist" / "1" / "manifest.json").read_text())
    assert {"classifier", "classifier-test"} <= set(manifest["metrics"])
    # the test images are brighter, so the two references give different distances
    assert manifest["metrics"]["classifier"]["fd"] != manifest["metrics"]["classifier-test"]["fd"]
    result = runner.invoke(cli, ["eval", "dcgan-mnist", "--reference", "validation", *data])
    assert result.exit_code == 2 and "validation" in result.output
