"""Loading a registered dataset by name: native size, resized once when asked, train or test split."""

from __future__ import annotations

from pathlib import Path

from ..catalog import Catalog, get_catalog
from ..errors import ConfigError
from .core import DataOptions, Dataset, resize_images

__all__ = ["load_dataset"]


def load_dataset(name: str, *, image_size: int | None = None, data_dir: str | None = None,
                 catalog: Catalog | None = None, split: str = "train") -> Dataset:
    """Load a registered dataset at its native size, resized once if ``image_size`` is given.

    ``split="test"`` loads the held-out split of datasets that have one (``DatasetSpec.splits``).
    """
    catalog = catalog or get_catalog()
    spec = catalog.dataset(name)
    if split not in spec.splits:
        raise ConfigError(f"dataset {name!r} has no {split!r} split; it has: {', '.join(spec.splits)}")
    options = (DataOptions(image_size=image_size, split=split) if data_dir is None
               else DataOptions(data_dir=Path(data_dir), image_size=image_size, split=split))
    dataset = spec.load(options)
    if image_size is not None:
        dataset = resize_images(dataset, image_size)
    if split != "train":
        dataset.preprocessing = {**dataset.preprocessing, "split": split}
    return dataset
