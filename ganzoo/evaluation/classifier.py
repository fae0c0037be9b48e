"""The feature classifier behind ganzoo's image metrics: trained once per dataset (fixed seed) and cached.

Its penultimate layer is the feature space of the Fréchet distance, KID and precision/recall;
its predictions give class histograms and the label accuracy of conditional samples. The cache
lives in the user cache folder (``$GANZOO_CACHE``, see :mod:`ganzoo.locations`) under
``classifiers/``, shared by every registry and keyed by the dataset (its content included) and the
recipe. A cached file that does not read back as the classifier it should be is trained again, with
a one-line warning, never used.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data import Dataset
from ..errors import ConfigError, GanzooError, IntegrityError
from ..fileio import load_json, write_atomic
from ..locations import cache_dir
from ..progress import progress
from ..weights import encode_weights, read_weights

__all__ = ["CLASSIFIER_RECIPE", "FeatureClassifier", "cache_file", "dataset_key", "features",
           "load_or_train_classifier", "store_cache", "unusable_cache"]

# Adam with a cosine decay to 0 over max(min_steps, epochs passes over the training part):
# 600 steps on the small sets (43 passes over digits), 5 passes on the large ones.
CLASSIFIER_RECIPE: dict[str, Any] = {"version": 2, "epochs": 5, "min_steps": 600, "batch_size": 128, "lr": 1e-3,
                                     "schedule": "cosine", "seed": 0, "held_out": 0.1}


class FeatureClassifier(nn.Module):
    """Three 3x3 conv blocks (the last two strided), global average pooling to 128 features, a linear head."""

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(*block(channels, width, 1), *block(width, 2 * width, 2),
                                      *block(2 * width, 4 * width, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, self.head(f)


def dataset_key(dataset: Dataset) -> str:
    """The dataset's name, shape, size, preprocessing (split and resize included), a sha256 of its samples
    and labels, and the classifier recipe, hashed: what a cached classifier or feature set depends on."""
    content = hashlib.sha256()
    for tensor in (dataset.data, dataset.labels):
        if tensor is not None:
            content.update(tensor.detach().cpu().contiguous().numpy().data)
    ident = {"name": dataset.name, "shape": list(dataset.shape), "classes": dataset.num_classes,
             "size": len(dataset), "preprocessing": dataset.preprocessing, "recipe": CLASSIFIER_RECIPE,
             "dtype": str(dataset.data.dtype), "content": content.hexdigest()}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_file(kind: str, name: str, key: str, cache: Path | None = None) -> Path:
    """``<cache>/<kind>/<name>-<key>.safetensors``; ``cache`` defaults to the user cache folder."""
    stem = re.sub(r"[^a-z0-9_-]", "_", name.lower())[:64] or "dataset"  # a Dataset's name is not checked
    return (cache if cache is not None else cache_dir()) / kind / f"{stem}-{key}.safetensors"


def unusable_cache(path: Path, what: str, reason: str) -> None:
    """Say, in one line on stderr, that a cached file is not used and is made again."""
    sys.stderr.write(f"Warning: the cached {what} {path} is unusable ({reason}); computing it again\n")
    sys.stderr.flush()


def load_or_train_classifier(dataset: Dataset, cache: Path | None = None) -> tuple[FeatureClassifier, dict[str, Any]]:
    """The dataset's feature classifier: loaded from ``<cache>/classifiers`` or trained and stored there.

    ``cache`` defaults to the user cache folder (:func:`ganzoo.locations.cache_dir`), which every
    registry shares, so a dataset's classifier is trained once per machine.
    """
    if not dataset.is_image or dataset.labels is None:
        raise ConfigError(f"dataset {dataset.name!r} needs labelled images for classifier metrics")
    key = dataset_key(dataset)
    path = cache_file("classifiers", dataset.name, key, cache)
    if path.exists():
        try:
            return _read_classifier(path, dataset, key)  # trained once, reused by every eval
        except (GanzooError, OSError, RuntimeError, ValueError, KeyError) as exc:
            unusable_cache(path, "feature classifier", " ".join(str(exc).split()) or type(exc).__name__)

    recipe = CLASSIFIER_RECIPE
    g = torch.Generator().manual_seed(recipe["seed"])
    with torch.random.fork_rng():
        torch.manual_seed(recipe["seed"])
        model = FeatureClassifier(dataset.shape[0], dataset.num_classes)
    order = torch.randperm(len(dataset), generator=g)
    n_test = max(1, int(len(dataset) * recipe["held_out"]))
    test_idx, train_idx = order[:n_test], order[n_test:]
    steps = max(recipe["min_steps"], math.ceil(recipe["epochs"] * len(train_idx) / recipe["batch_size"]))
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start = time.perf_counter()
    model.train()
    with progress(f"{dataset.name} feature classifier", steps) as advance:
        for _ in range(steps):
            idx = train_idx[torch.randint(len(train_idx), (recipe["batch_size"],), generator=g)]
            _, logits = model(dataset.to_float(dataset.data[idx]))
            loss = nn.functional.cross_entropy(logits, dataset.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            advance(1)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(dataset.to_float(dataset.data[c]))[1].argmax(1) == dataset.labels[c]).sum())
                      for c in test_idx.split(1024))
    info = {"dataset": dataset.name, "key": key, "accuracy": correct / n_test, "held_out": n_test,
            "recipe": recipe, "steps": steps, "seconds": round(time.perf_counter() - start, 1), "features": 4 * 32}
    store_cache(path, model.state_dict(), {"ganzoo.classifier": json.dumps(info)})
    return model, info


def _read_classifier(path: Path, dataset: Dataset, key: str) -> tuple[FeatureClassifier, dict[str, Any]]:
    """A cached classifier, checked: made for this dataset and recipe, every weight present and finite."""
    meta, tensors = read_weights(path)
    info = load_json(meta.get("ganzoo.classifier", ""), f"{path} (its classifier record)", IntegrityError)
    if not isinstance(info, dict) or info.get("key") != key or info.get("recipe") != CLASSIFIER_RECIPE:
        raise IntegrityError("it was made for another dataset or recipe")
    if not all(isinstance(info.get(k), (int, float)) and not isinstance(info.get(k), bool)
               for k in ("accuracy", "held_out", "features")):
        raise IntegrityError("its record lacks the accuracy, held-out size or feature size")
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point()):
        raise IntegrityError("it holds NaN or infinite weights")
    with torch.random.fork_rng(devices=[]):  # its random start is overwritten: the caller's stream stays as it was
        model = FeatureClassifier(dataset.shape[0], dataset.num_classes)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise IntegrityError(f"not a feature classifier for {dataset.name!r}: {' '.join(str(exc).split())}") from exc
    return model.eval(), info


def store_cache(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write a cached safetensors file atomically (a unique temporary name, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, encode_weights(tensors, metadata, what=str(path)))


@torch.no_grad()
def features(model: FeatureClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    feats, preds = [], []
    for chunk in images.split(512):
        f, logits = model(chunk)
        feats.append(f)
        preds.append(logits.argmax(1))
    return torch.cat(feats), torch.cat(preds)
