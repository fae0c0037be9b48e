"""Evaluating a stored model on the dataset it was trained on, and recording the results with it."""

from __future__ import annotations

import os
from typing import Any

from ..data.loading import load_dataset
from ..errors import IntegrityError
from ..registry import Registry, is_path_ref, load_generator
from ..weights import dataset_from_metadata, read_metadata
from .protocols import evaluate, evaluate_inception

__all__ = ["evaluate_stored"]


def evaluate_stored(ref: str | os.PathLike[str], *, registry: Any = None, samples: int | None = None, seed: int = 0,
                    data_dir: str | None = None, save: bool = True, inception: bool = False,
                    split: str = "train", device: str | Any = "cpu") -> tuple[str, dict[str, Any]]:
    """Evaluate a stored model on the dataset it was trained on; returns ``(metric set, results)``.

    ``split="test"`` compares against the dataset's test split (where it has one) instead of
    its training images; the metric set is then named ``<set>-test``. The samples are drawn
    on ``device`` (the Inception network runs there too). Registry models get the
    results written into their manifest (``metrics.<set>``) unless ``save`` is False; a bare
    ``.safetensors`` file is evaluated and nothing is written.
    """
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    g = load_generator(ref, registry=reg, device=device)
    if is_path_ref(ref):
        info: Any = dataset_from_metadata(read_metadata(ref), ref)
    else:
        info = (g.ganzoo_manifest or {}).get("dataset")
    dataset_name = info.get("name") if isinstance(info, dict) else None
    if not isinstance(dataset_name, str) or not dataset_name:
        raise IntegrityError(f"{ref}: the model does not record the dataset it was trained on (a 'dataset' "
                             f"table with a 'name'); evaluate a model trained by ganzoo")
    preprocessing = info.get("preprocessing")
    resize = preprocessing.get("resize") if isinstance(preprocessing, dict) else None
    try:
        size = int(resize["to"][0]) if resize else None
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise IntegrityError(f"{ref}: its dataset record has an unreadable resize {resize!r}") from exc
    reference = None
    if split != "train":  # checked before the (slow) training data is loaded
        reference = load_dataset(dataset_name, image_size=size, data_dir=data_dir, split=split)
    dataset = load_dataset(dataset_name, image_size=size, data_dir=data_dir)  # whole, also after a --subset
    if inception:
        name, results = "inception", evaluate_inception(g, dataset, samples=samples or 2000, seed=seed,
                                                        reference=reference)
    else:
        name, results = evaluate(g, dataset, samples=samples, seed=seed, reference=reference)
    if reference is not None:
        name = f"{name}-{split}"
    if save and not is_path_ref(ref):
        reg.record_metrics(str(ref), name, results)
    return name, results
