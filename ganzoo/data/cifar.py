"""CIFAR-10 from the official binary archive: no pickle is ever loaded.

``cifar-10-binary.tar.gz`` (Krizhevsky 2009) holds ``cifar-10-batches-bin/`` with
``data_batch_1..5.bin`` (training) and ``test_batch.bin``: records of one label byte
followed by 3,072 pixel bytes, the 1,024 red values of a 32x32 image row-major, then
the green, then the blue ones. A file is read whole and parsed as one ``(N, 3073)``
view, so 50,000 records take one copy, not a Python loop. ``batches.meta.txt`` names
the classes, one a line.

Files live in ``<data_dir>/cifar10/``: the archive, and the folder extracted from it
(safely: :func:`~ganzoo.data.archive.safe_extract`). Once extracted, the archive is no
longer read and may be deleted.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import DataError
from .archive import safe_extract
from .core import DataOptions, Dataset, DatasetSpec
from .download import RemoteFile, ensure_files, verify

__all__ = ["ARCHIVE", "CLASSES", "EXTRACTED", "cifar10_dir", "load_cifar10", "read_batches"]

NAME = "cifar10"
ARCHIVE = RemoteFile(
    name="cifar-10-binary.tar.gz",
    urls=("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
    md5="c32a1d4ab5d03f1284b67883e8d87530",  # as published on https://www.cs.toronto.edu/~kriz/cifar.html
)
EXTRACTED = "cifar-10-batches-bin"  # the archive's one top-level folder
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
META_FILE = "batches.meta.txt"
SIZE = 32
RECORD = 1 + 3 * SIZE * SIZE  # label byte + R, G, B planes
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar10_dir(options: DataOptions) -> Path:
    """``<data_dir>/cifar10``: where the archive and the extracted folder go."""
    return options.data_dir / NAME


def read_batches(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images uint8 (N, 3, 32, 32), labels int64 (N,))`` from CIFAR-10 binary batch files."""
    sizes = []
    for path in paths:
        size = path.stat().st_size
        if size == 0 or size % RECORD:
            raise DataError(f"{path} is not a CIFAR-10 binary batch: {size} bytes is not a positive multiple of "
                            f"the {RECORD}-byte record. Delete {path.parent} and run again to re-extract it")
        sizes.append(size)
    buffer = bytearray(sum(sizes))  # every file read straight into one buffer
    view = memoryview(buffer)
    offset = 0
    for path, size in zip(paths, sizes, strict=True):
        with open(path, "rb") as f:
            got = f.readinto(view[offset : offset + size])
        if got != size:
            raise DataError(f"{path} changed while it was read ({got} of {size} bytes)")
        offset += size
    records = torch.frombuffer(buffer, dtype=torch.uint8).view(-1, RECORD)
    labels = records[:, 0].long()
    if len(bad := (labels > 9).nonzero()):
        first = int(bad[0])
        ends = torch.tensor(sizes).cumsum(0) // RECORD
        path = paths[int((ends <= first).sum())]
        raise DataError(f"{path}: label {int(labels[first])} is outside 0..9; the file is corrupt. Delete "
                        f"{path.parent} and run again to re-extract it")
    images = records[:, 1:].reshape(-1, 3, SIZE, SIZE).contiguous()  # one copy; drops the label column
    return images, labels


def read_class_names(path: Path) -> list[str]:
    """The class names in ``batches.meta.txt`` (the built-in list when the file is absent)."""
    if not path.is_file():
        return list(CLASSES)
    names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    names = [n for n in names if n]
    if len(names) != len(CLASSES):
        raise DataError(f"{path} names {len(names)} classes, expected {len(CLASSES)}")
    return names


def _extracted(root: Path, files: tuple[str, ...] = TRAIN_FILES) -> bool:
    return all((root / EXTRACTED / f).is_file() for f in files)


def prepare(options: DataOptions) -> Path:
    """The extracted ``cifar-10-batches-bin`` folder, extracting (and first downloading) the archive if needed."""
    root = cifar10_dir(options)
    if _extracted(root):
        return root / EXTRACTED
    archive = root / ARCHIVE.name
    if not archive.is_file():
        also = f"; the extracted {EXTRACTED} folder also works, at {root / EXTRACTED}"
        ensure_files(NAME, [ARCHIVE], root, download_missing=options.download, also=also)
    else:
        verify(archive, ARCHIVE)  # a fresh download was verified before it got its final name
    safe_extract(archive, root, root=EXTRACTED)
    if not _extracted(root, TRAIN_FILES + TEST_FILES):
        missing = [f for f in TRAIN_FILES + TEST_FILES if not (root / EXTRACTED / f).is_file()]
        raise DataError(f"{archive} lacks {', '.join(f'{EXTRACTED}/{f}' for f in missing)}; it is not the "
                        f"official archive. Delete it and run again")
    return root / EXTRACTED


def load_cifar10(options: DataOptions, split: str | None = None) -> Dataset:
    """CIFAR-10's 50,000 training images (or the 10,000 test ones: ``options.split``), 3x32x32, native size."""
    split = split or options.split
    if split not in ("train", "test"):
        raise DataError(f"CIFAR-10 split must be 'train' or 'test', got {split!r}")
    folder = prepare(options)
    images, labels = read_batches([folder / f for f in (TRAIN_FILES if split == "train" else TEST_FILES)])
    return Dataset(name=NAME, data=images, labels=labels, num_classes=len(CLASSES),
                   class_names=read_class_names(folder / META_FILE))


CIFAR10_SPEC = DatasetSpec(
    name=NAME, load=load_cifar10, shape=(3, SIZE, SIZE), size=50_000, num_classes=10,
    description="CIFAR-10: 10 classes of 32x32 colour photos (Krizhevsky 2009; binary version, 162 MB download)",
    available=lambda options: _extracted(cifar10_dir(options)) or (cifar10_dir(options) / ARCHIVE.name).is_file(),
    source=ARCHIVE.urls[0], splits=("train", "test"),
)
