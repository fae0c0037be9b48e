"""Evaluating generators: the 2-D mixture protocol and classifier-feature metrics for images.

Image metrics use a small classifier that ganzoo trains once per dataset (fixed seed) and
caches in the registry under ``classifiers/``; its penultimate layer is the feature space
for the Fréchet distance, KID and precision/recall, and its predictions give the class
histogram and, for conditional models, label accuracy. Every result carries its protocol.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import DataOptions, Dataset, grid25_centers, ring8_centers
from .data.builtin import GRID_STD, RING_STD
from .errors import ConfigError, IntegrityError
from .metrics import (
    class_histogram_kl,
    frechet_distance,
    kernel_inception_distance,
    mixture_score,
    precision_recall,
)
from .models import Generator
from .progress import progress
from .trainer import Callback, recalibrate_for_sampling

__all__ = ["EvalCallback", "FeatureClassifier", "evaluate", "evaluate_images", "evaluate_inception", "evaluate_mixture",
           "load_or_train_classifier"]

MIXTURES = {"ring8": (ring8_centers, RING_STD), "grid25": (grid25_centers, GRID_STD)}
MIXTURE_SAMPLES = 2500  # VEEGAN / PacGAN
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


def _dataset_key(dataset: Dataset) -> str:
    ident = {"name": dataset.name, "shape": list(dataset.shape), "classes": dataset.num_classes,
             "size": len(dataset), "preprocessing": dataset.preprocessing, "recipe": CLASSIFIER_RECIPE}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_or_train_classifier(dataset: Dataset, root: Path) -> tuple[FeatureClassifier, dict[str, Any]]:
    """The dataset's feature classifier: loaded from ``root/classifiers`` or trained and stored there."""
    from .weights import read_weights

    if not dataset.is_image or dataset.labels is None:
        raise ConfigError(f"dataset {dataset.name!r} needs labelled images for classifier metrics")
    key = _dataset_key(dataset)
    path = root / "classifiers" / f"{dataset.name}-{key}.safetensors"
    model = FeatureClassifier(dataset.shape[0], dataset.num_classes)
    if path.exists():
        meta, tensors = read_weights(path)
        try:
            model.load_state_dict(tensors)
        except RuntimeError as exc:
            raise IntegrityError(f"{path}: not a feature classifier for {dataset.name!r}: {exc}") from exc
        return model.eval(), json.loads(meta["ganzoo.classifier"])  # trained once, reused by every eval

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
    _store_cache(path, model.state_dict(), {"ganzoo.classifier": json.dumps(info)})
    return model, info


def _store_cache(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write a cached safetensors file atomically (a unique temporary name, then a rename)."""
    from .fileio import write_atomic
    from .weights import encode_weights

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, encode_weights(tensors, metadata, what=str(path)))


@torch.no_grad()
def _features(model: FeatureClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    feats, preds = [], []
    for chunk in images.split(512):
        f, logits = model(chunk)
        feats.append(f)
        preds.append(logits.argmax(1))
    return torch.cat(feats), torch.cat(preds)


def _split_name(dataset: Dataset) -> str:
    return "test" if dataset.preprocessing.get("split") == "test" else "training"


def evaluate_images(generator: Generator, dataset: Dataset, root: Path, *, samples: int = 2000,
                    seed: int = 0, reference: Dataset | None = None) -> dict[str, Any]:
    """Classifier-feature metrics of ``generator`` against ``samples`` real images.

    The classifier is trained on ``dataset`` (the training data); the real images come from
    ``reference`` (e.g. the test split) when given, else from ``dataset``.
    """
    classifier, info = load_or_train_classifier(dataset, root)
    g = torch.Generator().manual_seed(seed)
    ref = reference if reference is not None else dataset
    n = min(samples, len(ref))
    real_idx = torch.randperm(len(ref), generator=g)[:n]
    real_f, real_pred = _features(classifier, ref.to_float(ref.data[real_idx]))
    labels = None
    if generator.num_classes:
        assert dataset.labels is not None
        labels = dataset.labels[torch.randint(len(dataset), (n,), generator=g)]
    from .sampling import generate

    fake = generate(generator, n, labels=labels, seed=seed).cpu()
    fake_f, fake_pred = _features(classifier, fake)
    kid, kid_std = kernel_inception_distance(real_f, fake_f, subset_size=min(1000, n))
    precision, recall = precision_recall(real_f, fake_f)
    result: dict[str, Any] = {
        "fd": frechet_distance(real_f, fake_f), "kid": kid, "kid_std": kid_std,
        "precision": precision, "recall": recall,
        "class_kl": class_histogram_kl(fake_pred, ref.labels if ref.labels is not None else real_pred,
                                       dataset.num_classes),
    }
    if labels is not None:
        result["label_accuracy"] = float((fake_pred == labels).float().mean())
    result["protocol"] = {
        "kind": "classifier-features", "samples": n,
        "reference": f"{n} random {_split_name(ref)} images of {ref.name}, seed {seed}",
        "features": f"ganzoo FeatureClassifier {info['features']}-d, recipe v{info['recipe']['version']}, "
                    f"{info['key']}",
        "classifier_accuracy": info["accuracy"], "classifier_held_out": info["held_out"],
        "resize": dataset.preprocessing.get("resize", "none"), "kid": "poly kernel, 50 subsets",
        "precision_recall": "k=3 nearest neighbours",
    }
    return result


@torch.no_grad()
def evaluate_mixture(generator: Generator, dataset_name: str, *, samples: int = MIXTURE_SAMPLES,
                     seed: int = 0) -> dict[str, Any]:
    """The VEEGAN/PacGAN 2-D protocol: modes covered, high-quality share, reverse KL."""
    centers_fn, std = MIXTURES[dataset_name]
    from .sampling import generate

    x = generate(generator, samples, seed=seed)
    score = mixture_score(x, centers_fn(), std)
    result: dict[str, Any] = score.to_dict()
    result["protocol"] = {"kind": "2d-mixture", "samples": samples, "high_quality": "within 3 std of a centre",
                          "covered": f">= {score.min_count} high-quality samples", "std": std, "seed": seed}
    return result


STACKED_SAMPLES = 26_000  # as for Stacked MNIST (Srivastava et al. 2017; Lin et al. 2018)


def score_stacked(images: torch.Tensor, root: Path) -> dict[str, Any]:
    """Modes of ``stacked-digits`` covered by ``images`` (N, 3, 8, 8), and KL of their histogram to uniform.

    Each channel is classified by the ``digits`` feature classifier; the three digits make
    the mode (1,000 of them). A mode is covered by at least one image.
    """
    from .data.builtin import load_digits

    if images.dim() != 4 or tuple(images.shape[1:]) != (3, 8, 8):
        raise ConfigError(f"stacked-digits metrics need (N, 3, 8, 8) images, got {tuple(images.shape)}")
    digits = load_digits(DataOptions())
    classifier, info = load_or_train_classifier(digits, root)
    x = images if images.is_floating_point() else digits.to_float(images)
    _, pred = _features(classifier, x.reshape(-1, 1, 8, 8))
    modes = (pred.view(-1, 3) * torch.tensor([100, 10, 1])).sum(1)
    counts = torch.bincount(modes, minlength=1000).double()
    p = counts / counts.sum()
    kl = float((p[p > 0] * (p[p > 0] * 1000).log()).sum())
    return {"modes": int((counts > 0).sum()), "kl_to_uniform": kl,
            "protocol": {"kind": "stacked-modes", "samples": len(images), "modes": 1000, "covered": ">= 1 sample",
                         "classifier": f"digits FeatureClassifier recipe v{info['recipe']['version']}, {info['key']}, "
                                       f"held-out accuracy "
                                       f"{info['accuracy']:.3f}, per channel"}}


def evaluate_stacked(generator: Generator, root: Path, *, samples: int = STACKED_SAMPLES,
                     seed: int = 0) -> dict[str, Any]:
    """:func:`score_stacked` of ``samples`` images drawn from ``generator`` (labels uniform if conditional)."""
    from .sampling import generate

    labels = None
    if generator.num_classes:
        labels = torch.randint(generator.num_classes, (samples,), generator=torch.Generator().manual_seed(seed))
    result = score_stacked(generate(generator, samples, labels=labels, seed=seed).cpu(), root)
    result["protocol"]["seed"] = seed
    return result


def evaluate(generator: Generator, dataset: Dataset, root: Path, *, samples: int | None = None,
             seed: int = 0, reference: Dataset | None = None) -> tuple[str, dict[str, Any]]:
    """Pick the protocol that fits the dataset; returns ``(metric set name, results)``."""
    if dataset.name == "stacked-digits":
        return "stacked", evaluate_stacked(generator, root, samples=samples or STACKED_SAMPLES, seed=seed)
    if dataset.name in MIXTURES and not dataset.is_image:
        return "mixture", evaluate_mixture(generator, dataset.name, samples=samples or MIXTURE_SAMPLES, seed=seed)
    if dataset.is_image and dataset.labels is not None:
        return "classifier", evaluate_images(generator, dataset, root, samples=samples or 2000, seed=seed,
                                             reference=reference)
    raise ConfigError(f"no evaluation protocol for dataset {dataset.name!r}: metrics need a 2-D mixture "
                      "(ring8, grid25) or labelled images")


def evaluate_inception(generator: Generator, dataset: Dataset, root: Path, *, samples: int = 2000,
                       seed: int = 0, reference: Dataset | None = None) -> dict[str, Any]:
    """Inception FID and KID (needs the ``fid`` extra); reference features cached under ``root/fid``.

    The real images come from ``reference`` (e.g. the test split, as Lucic et al. 2018 do)
    when given, else from ``dataset``.
    """
    from .fid import InceptionFeatures
    from .weights import read_weights

    if not dataset.is_image:
        raise ConfigError(f"Inception metrics need images; {dataset.name!r} holds vectors")
    extractor = InceptionFeatures()
    ref = reference if reference is not None else dataset
    n = min(samples, len(ref))
    key = hashlib.sha256(f"{_dataset_key(ref)}-{n}-{seed}-{extractor.sha256}".encode()).hexdigest()[:16]
    path = root / "fid" / f"{ref.name}-{key}.safetensors"
    if path.exists():
        real = read_weights(path)[1]["features"]
    else:
        idx = torch.randperm(len(ref), generator=torch.Generator().manual_seed(seed))[:n]
        real = extractor(ref.data[idx])
        _store_cache(path, {"features": real}, {"ganzoo.reference": ref.name})
    from .sampling import generate

    labels = None
    if generator.num_classes and dataset.labels is not None:
        labels = dataset.labels[torch.randint(len(dataset), (n,), generator=torch.Generator().manual_seed(seed))]
    fake = extractor(generate(generator, n, labels=labels, seed=seed).cpu())
    kid, kid_std = kernel_inception_distance(real, fake, subset_size=min(1000, n))
    return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std,
            "protocol": {"kind": "inception", "samples": n,
                         "reference": f"{n} random {_split_name(ref)} images of {ref.name}, seed {seed}",
                         **extractor.protocol()}}


class EvalCallback(Callback):
    """Evaluates the generator every ``every`` steps during training (``ganzoo train --eval-every N``).

    The averaged (EMA) generator is scored when there is one, as a copy whose BatchNorm
    statistics are recomputed for its weights (as at the end of training). Records are kept in
    ``records`` (``{"step": ..., "<set>": {...}}``) and passed to ``report`` as they come.
    Evaluation draws from its own seeded generators, so training's random streams (and
    exact resume) are unaffected.
    """

    def __init__(self, every: int, root: Path, *, samples: int | None = None,
                 report: Callable[[dict[str, Any]], None] | None = None) -> None:
        if every < 1:
            raise ConfigError(f"--eval-every must be a positive number of steps, got {every}")
        self.every, self.root, self.samples, self.report = every, Path(root), samples, report
        self.records: list[dict[str, Any]] = []
        self.protocol: dict[str, Any] = {}

    def on_step_end(self, state: Any, metrics: dict[str, torch.Tensor]) -> None:
        if state.step % self.every or (self.records and self.records[-1]["step"] == state.step):
            return  # not an evaluation step, or already evaluated (a RunLogger may have asked first)
        # score what a run stopped here would hand back: a copy with its BatchNorm statistics recomputed
        generator = copy.deepcopy(state.ema.module if state.ema is not None else state.generator)
        recalibrate_for_sampling(generator, state.dataset, state.config)
        name, results = evaluate(generator.eval(), state.dataset, self.root, samples=self.samples, seed=0)
        self.protocol = {name: results.pop("protocol", {})}
        record = {"step": state.step, name: results}
        self.records.append(record)
        if self.report is not None:
            self.report(record)
