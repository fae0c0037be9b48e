"""Evaluation protocols: the 2-D mixture protocol, classifier-feature metrics, stacked-digit modes, Inception FID.

Every result carries its protocol: sample counts, reference split and feature extractor.
Generated samples enter every protocol through :func:`_generated`, which refuses NaN and
infinite values before any feature is extracted or any metric computed. What is computed once
and reused (the feature classifiers, the Inception features of the real images) is cached in
``cache``, by default the user cache folder that every registry shares.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from ..data import DataOptions, Dataset, grid25_centers, ring8_centers
from ..data.builtin import GRID_STD, RING_STD
from ..errors import ConfigError, GanzooError, IntegrityError
from ..models import Generator
from ..sampling import generate
from .classifier import cache_file, dataset_key, features, load_or_train_classifier, store_cache, unusable_cache
from .metrics import (
    class_histogram_kl,
    frechet_distance,
    kernel_inception_distance,
    mixture_score,
    precision_recall,
)

__all__ = ["MIXTURES", "evaluate", "evaluate_images", "evaluate_inception", "evaluate_mixture", "evaluate_stacked",
           "score_stacked"]

MIXTURES = {"ring8": (ring8_centers, RING_STD), "grid25": (grid25_centers, GRID_STD)}
MIXTURE_SAMPLES = 2500  # VEEGAN / PacGAN


def _split_name(dataset: Dataset) -> str:
    return "test" if dataset.preprocessing.get("split") == "test" else "training"


def _model_name(generator: Generator) -> str:
    manifest = generator.ganzoo_manifest
    if isinstance(manifest, dict) and manifest.get("name") is not None:
        return f"model {manifest['name']}:{manifest.get('version')}"
    spec = generator.ganzoo_spec
    return f"the {spec.architecture} generator" if spec is not None else f"the {type(generator).__name__}"


def _generated(generator: Generator, n: int, *, labels: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """``n`` samples of ``generator`` on the CPU, refused unless every value is finite: where samples enter metrics."""
    x = generate(generator, n, labels=labels, seed=seed).cpu()
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise IntegrityError(f"{_model_name(generator)} draws non-finite samples ({bad} of {x.numel()} values are "
                             "NaN or infinite), so no metric can be computed: its weights hold NaN or infinite "
                             "values (a diverged or damaged model); evaluate another version or retrain it")
    return x


def evaluate_images(generator: Generator, dataset: Dataset, *, samples: int = 2000, seed: int = 0,
                    reference: Dataset | None = None, cache: Path | None = None) -> dict[str, Any]:
    """Classifier-feature metrics of ``generator`` against ``samples`` real images.

    The classifier is trained on ``dataset`` (the training data); the real images come from
    ``reference`` (e.g. the test split) when given, else from ``dataset``.
    """
    g = torch.Generator().manual_seed(seed)
    ref = reference if reference is not None else dataset
    n = min(samples, len(ref))
    real_idx = torch.randperm(len(ref), generator=g)[:n]
    labels = None
    if generator.num_classes:
        assert dataset.labels is not None
        labels = dataset.labels[torch.randint(len(dataset), (n,), generator=g)]
    fake = _generated(generator, n, labels=labels, seed=seed)  # before the classifier is trained or loaded
    classifier, info = load_or_train_classifier(dataset, cache)
    real_f, real_pred = features(classifier, ref.to_float(ref.data[real_idx]))
    fake_f, fake_pred = features(classifier, fake)
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
    x = _generated(generator, samples, seed=seed)
    score = mixture_score(x, centers_fn(), std)
    result: dict[str, Any] = score.to_dict()
    result["protocol"] = {"kind": "2d-mixture", "samples": samples, "high_quality": "within 3 std of a centre",
                          "covered": f">= {score.min_count} high-quality samples", "std": std, "seed": seed}
    return result


STACKED_SAMPLES = 26_000  # as for Stacked MNIST (Srivastava et al. 2017; Lin et al. 2018)


def score_stacked(images: torch.Tensor, *, cache: Path | None = None) -> dict[str, Any]:
    """Modes of ``stacked-digits`` covered by ``images`` (N, 3, 8, 8), and KL of their histogram to uniform.

    Each channel is classified by the ``digits`` feature classifier; the three digits make
    the mode (1,000 of them). A mode is covered by at least one image.
    """
    from ..data.builtin import load_digits

    if images.dim() != 4 or tuple(images.shape[1:]) != (3, 8, 8):
        raise ConfigError(f"stacked-digits metrics need (N, 3, 8, 8) images, got {tuple(images.shape)}")
    digits = load_digits(DataOptions())
    classifier, info = load_or_train_classifier(digits, cache)
    x = images if images.is_floating_point() else digits.to_float(images)
    _, pred = features(classifier, x.reshape(-1, 1, 8, 8))
    modes = (pred.view(-1, 3) * torch.tensor([100, 10, 1])).sum(1)
    counts = torch.bincount(modes, minlength=1000).double()
    p = counts / counts.sum()
    kl = float((p[p > 0] * (p[p > 0] * 1000).log()).sum())
    return {"modes": int((counts > 0).sum()), "kl_to_uniform": kl,
            "protocol": {"kind": "stacked-modes", "samples": len(images), "modes": 1000, "covered": ">= 1 sample",
                         "classifier": f"digits FeatureClassifier recipe v{info['recipe']['version']}, {info['key']}, "
                                       f"held-out accuracy "
                                       f"{info['accuracy']:.3f}, per channel"}}


def evaluate_stacked(generator: Generator, *, samples: int = STACKED_SAMPLES, seed: int = 0,
                     cache: Path | None = None) -> dict[str, Any]:
    """:func:`score_stacked` of ``samples`` images drawn from ``generator`` (labels uniform if conditional)."""
    labels = None
    if generator.num_classes:
        labels = torch.randint(generator.num_classes, (samples,), generator=torch.Generator().manual_seed(seed))
    result = score_stacked(_generated(generator, samples, labels=labels, seed=seed), cache=cache)
    result["protocol"]["seed"] = seed
    return result


def evaluate(generator: Generator, dataset: Dataset, *, samples: int | None = None, seed: int = 0,
             reference: Dataset | None = None, cache: Path | None = None) -> tuple[str, dict[str, Any]]:
    """Pick the protocol that fits the dataset; returns ``(metric set name, results)``."""
    if dataset.name == "stacked-digits":
        return "stacked", evaluate_stacked(generator, samples=samples or STACKED_SAMPLES, seed=seed, cache=cache)
    if dataset.name in MIXTURES and not dataset.is_image:
        return "mixture", evaluate_mixture(generator, dataset.name, samples=samples or MIXTURE_SAMPLES, seed=seed)
    if dataset.is_image and dataset.labels is not None:
        return "classifier", evaluate_images(generator, dataset, samples=samples or 2000, seed=seed,
                                             reference=reference, cache=cache)
    raise ConfigError(f"no evaluation protocol for dataset {dataset.name!r}: metrics need a 2-D mixture "
                      "(ring8, grid25) or labelled images")


def evaluate_inception(generator: Generator, dataset: Dataset, *, samples: int = 2000, seed: int = 0,
                       reference: Dataset | None = None, cache: Path | None = None) -> dict[str, Any]:
    """Inception FID and KID (needs the ``fid`` extra); reference features cached under ``<cache>/fid``.

    The real images come from ``reference`` (e.g. the test split, as Lucic et al. 2018 do)
    when given, else from ``dataset``.
    """
    from ..weights import read_weights
    from .inception import InceptionFeatures

    if not dataset.is_image:
        raise ConfigError(f"Inception metrics need images; {dataset.name!r} holds vectors")
    extractor = InceptionFeatures(next(generator.parameters()).device)
    ref = reference if reference is not None else dataset
    n = min(samples, len(ref))
    labels = None
    if generator.num_classes and dataset.labels is not None:
        labels = dataset.labels[torch.randint(len(dataset), (n,), generator=torch.Generator().manual_seed(seed))]
    generated = _generated(generator, n, labels=labels, seed=seed)  # before any reference feature is computed
    key = hashlib.sha256(f"{dataset_key(ref)}-{n}-{seed}-{extractor.sha256}".encode()).hexdigest()[:16]
    path = cache_file("fid", ref.name, key, cache)
    real = None
    if path.exists():
        try:
            meta, tensors = read_weights(path)
            real = tensors.get("features")
            if meta.get("ganzoo.key") != key or real is None or real.dim() != 2 or len(real) != n:
                raise IntegrityError(f"it does not hold the features of {n} images of {ref.name} for this key")
            if not bool(torch.isfinite(real).all()):
                raise IntegrityError("it holds NaN or infinite features")
        except (GanzooError, OSError) as exc:
            unusable_cache(path, "Inception features", " ".join(str(exc).split()))
            real = None
    if real is None:
        idx = torch.randperm(len(ref), generator=torch.Generator().manual_seed(seed))[:n]
        real = extractor(ref.data[idx])
        store_cache(path, {"features": real}, {"ganzoo.reference": ref.name, "ganzoo.key": key})
    fake = extractor(generated)
    kid, kid_std = kernel_inception_distance(real, fake, subset_size=min(1000, n))
    return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std,
            "protocol": {"kind": "inception", "samples": n,
                         "reference": f"{n} random {_split_name(ref)} images of {ref.name}, seed {seed}",
                         **extractor.protocol()}}
