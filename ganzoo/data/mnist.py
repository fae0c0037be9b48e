"""MNIST and Fashion-MNIST from their official IDX gzip files, checksum verified.

Every checksum lives in :data:`MNIST_FILES` and :data:`FASHION_FILES`. A ``.gz`` file is
accepted when its md5 is the publisher's, or when the sha256 of its decompressed IDX
bytes matches ``content_sha256``: Debian's ``dataset-fashion-mnist`` package ships the
same IDX bytes recompressed (its ``.gz`` md5s differ from Zalando's), and that second
check is what lets it be used as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError
from .core import DataOptions, Dataset, DatasetSpec
from .download import RemoteFile, ensure_files, file_digest
from .idx import parse_idx, read_gz

__all__ = ["FASHION_FILES", "FASHION_SYSTEM_DIR", "MNIST_FILES", "IdxFile", "load_fashion_mnist", "load_mnist"]

# LeCun's site (the official source) often refuses downloads; PyTorch's mirror of the same files is tried first.
MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian/Ubuntu: apt install dataset-fashion-mnist

TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
SIZE = 28  # both datasets: 28x28 grey


@dataclass(frozen=True)
class IdxFile:
    """One official file and the checksums that identify it."""

    remote: RemoteFile  # name, URLs and the publisher's md5 of the .gz
    content_sha256: str | None = None  # sha256 of the decompressed IDX bytes, when known


def _table(urls: tuple[str, ...], md5s: dict[str, str], content: dict[str, str]) -> dict[str, IdxFile]:
    return {name: IdxFile(RemoteFile(name, tuple(u + name for u in urls), md5=md5), content.get(name))
            for name, md5 in md5s.items()}


# md5s as published by LeCun et al.; the decompressed sha256s are not recorded (no trusted copy to hash).
MNIST_FILES = _table(MNIST_URLS, {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}, {})

# md5s as published by Zalando (README of zalandoresearch/fashion-mnist); content sha256s computed from the
# files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 (decompressed).
FASHION_FILES = _table(FASHION_URLS, {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}, {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
})

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def read_verified(path: Path, entry: IdxFile) -> bytes:
    """The decompressed bytes of ``path``, after checking it is the official file (see the module docstring)."""
    content = read_gz(path)
    if entry.remote.md5 and file_digest(path, "md5") == entry.remote.md5:
        return content
    if entry.content_sha256 and hashlib.sha256(content).hexdigest() == entry.content_sha256:
        return content
    expected = f"md5 {entry.remote.md5}" + (f" (or decompressed sha256 {entry.content_sha256})"
                                            if entry.content_sha256 else "")
    raise DataError(f"{path} is corrupt or not the official {entry.remote.name}: expected {expected}. "
                    f"Delete it and run again to download it, or replace it with {entry.remote.urls[0]}")


def read_split(folder: Path, table: dict[str, IdxFile], split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """``(images uint8 (N, 1, 28, 28), labels int64 (N,))`` from the verified files in ``folder``."""
    image_name, label_name = TRAIN if split == "train" else TEST
    images = parse_idx(read_verified(folder / image_name, table[image_name]), 3, folder / image_name)
    labels = parse_idx(read_verified(folder / label_name, table[label_name]), 1, folder / label_name)
    if tuple(images.shape[1:]) != (SIZE, SIZE):
        raise DataError(f"{folder / image_name}: images are {images.shape[1]}x{images.shape[2]}, expected "
                        f"{SIZE}x{SIZE}")
    if len(images) != len(labels):
        raise DataError(f"{folder / image_name} holds {len(images)} images but {folder / label_name} "
                        f"{len(labels)} labels")
    if len(labels) and int(labels.max()) > 9:
        raise DataError(f"{folder / label_name}: label {int(labels.max())} is outside 0..9")
    return images.unsqueeze(1), labels.long()


def _local(name: str, options: DataOptions, system: Path | None, files: tuple[str, ...] = TRAIN) -> Path | None:
    """Where the split's files already are: the data dir first, then the system copy."""
    for folder in (options.data_dir / name, system):
        if folder is not None and all((folder / f).is_file() for f in files):
            return folder
    return None


def _load(name: str, options: DataOptions, table: dict[str, IdxFile], classes: list[str],
          system: Path | None = None) -> Dataset:
    files = TRAIN if options.split == "train" else TEST
    folder = _local(name, options, system, files)
    if folder is None:
        folder = options.data_dir / name
        also = f", or install Debian's copy in {system} (apt install dataset-{name})" if system is not None else ""
        ensure_files(name, [table[f].remote for f in files], folder, download_missing=options.download, also=also)
    images, labels = read_split(folder, table, options.split)
    return Dataset(name=name, data=images, labels=labels, num_classes=10, class_names=list(classes))


def load_mnist(options: DataOptions) -> Dataset:
    """MNIST's 60,000 training digits (or 10,000 test ones), 28x28 grey (``<data_dir>/mnist/``)."""
    return _load("mnist", options, MNIST_FILES, MNIST_CLASSES)


def load_fashion_mnist(options: DataOptions) -> Dataset:
    """Fashion-MNIST's 60,000 training images (or 10,000 test ones): ``<data_dir>/fashion-mnist/``, else
    Debian's copy, else downloaded."""
    return _load("fashion-mnist", options, FASHION_FILES, FASHION_CLASSES, FASHION_SYSTEM_DIR)


MNIST_SPEC = DatasetSpec(
    name="mnist", load=load_mnist, shape=(1, SIZE, SIZE), size=60_000, num_classes=10,
    description="Handwritten digits 0-9, 28x28 grey (LeCun et al. 1998; downloaded, 9.9 MB)",
    available=lambda options: _local("mnist", options, None) is not None,
    source=MNIST_URLS[1], splits=("train", "test"),
)

FASHION_SPEC = DatasetSpec(
    name="fashion-mnist", load=load_fashion_mnist, shape=(1, SIZE, SIZE), size=60_000, num_classes=10,
    description="Zalando's clothing images, 10 classes, 28x28 grey (Xiao et al. 2017; downloaded, 26 MB)",
    available=lambda options: _local("fashion-mnist", options, FASHION_SYSTEM_DIR) is not None,
    source=FASHION_URLS[0], splits=("train", "test"),
)
