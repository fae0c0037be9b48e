"""Loading a registered dataset by name: native size, resized once when asked, train or test split, and
a fixed, class-balanced subset of it (``--subset``)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..catalog import Catalog, get_catalog
from ..errors import ConfigError
from .core import DataOptions, Dataset, resize_images

__all__ = ["load_dataset", "take_subset"]


def load_dataset(name: str, *, image_size: int | None = None, data_dir: str | None = None,
                 catalog: Catalog | None = None, split: str = "train", subset: int | None = None,
                 subset_seed: int = 0) -> Dataset:
    """Load a registered dataset at its native size, resized once if ``image_size`` is given.

    ``split="test"`` loads the held-out split of datasets that have one (``DatasetSpec.splits``).
    ``subset`` keeps only that many items (:func:`take_subset`, drawn with ``subset_seed``).
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
    if subset is not None:
        dataset = take_subset(dataset, subset, seed=subset_seed)
    return dataset


def take_subset(dataset: Dataset, size: int, *, seed: int = 0) -> Dataset:
    """A fixed subset of ``size`` items, the same for the same ``seed`` (``--subset``, ``--subset-seed``).

    Class-balanced where the dataset has labels: every class gets ``size // classes`` items or
    one more (the classes that get one more are drawn), and a class with too few items gives
    all it has, the others making up the difference. Which items of a class is drawn too.
    Recorded in ``preprocessing["subset"]``, so the run's config and the manifest say what the
    model was trained on; the dataset keeps its name and its number of classes.
    """
    total = len(dataset)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"subset must be a positive number of training items, got {size!r}")
    if size > total:
        raise ConfigError(f"--subset {size} is larger than dataset {dataset.name!r} ({total} items); pass "
                          f"--subset {total} or less, or leave --subset out to train on all of it")
    g = torch.Generator().manual_seed(seed)
    if dataset.labels is None:
        chosen = torch.randperm(total, generator=g)[:size]
    else:
        # Rank every item within its class in a random order, visit the classes in a random order, and
        # take items round by round: the first of each class, then the second, ... until ``size`` are taken.
        labels = dataset.labels
        classes = int(labels.max()) + 1
        order = torch.randperm(total, generator=g)
        class_turn = torch.randperm(classes, generator=g)[labels[order]]
        by_class = torch.argsort(labels[order], stable=True)  # positions in ``order``, grouped by class
        rank = torch.empty(total, dtype=torch.long)
        starts = torch.bincount(labels, minlength=classes).cumsum(0) - torch.bincount(labels, minlength=classes)
        rank[by_class] = torch.arange(total) - starts[labels[order][by_class]]
        key = rank * classes + class_turn
        chosen = order[torch.argsort(key)[:size]]
    chosen = chosen.sort().values
    record = {"size": size, "seed": seed, "of": total,
              "balanced": "per class" if dataset.labels is not None else "no (unlabelled)"}
    return Dataset(name=dataset.name, data=dataset.data[chosen],
                   labels=dataset.labels[chosen] if dataset.labels is not None else None,
                   num_classes=dataset.num_classes, class_names=dataset.class_names,
                   preprocessing={**dataset.preprocessing, "subset": record})
