"""The augmentation check: shape, gradient, identity at strength 0, determinism, state, a training step."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import torch

from ..augment import Augmentation
from ..catalog import Catalog, get_catalog
from ..errors import ShapeMismatchError
from ..training.config import TrainConfig
from ..training.loop import fit
from .support import (
    BATCH,
    DEFAULT_SHAPES,
    SEED,
    dataset_name,
    ensure,
    own_rng,
    raises_as_failure,
    registered_class,
    tiny_dataset,
)

__all__ = ["check_augmentation"]


def _augmented(aug: Augmentation, where: str, x: torch.Tensor, seed: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    with raises_as_failure(where, f"augment(x of shape {tuple(x.shape)}, {x.dtype})"):
        y = aug.augment(x, generator=generator)
    ensure(isinstance(y, torch.Tensor), where, f"augment must return a tensor, got {type(y).__name__}")
    return y


@own_rng
def check_augmentation(name: str, *, data_shape: Sequence[int] | None = None, catalog: Catalog | None = None) -> None:
    """A registered augmentation keeps the contract of what D sees.

    ``name`` may carry options (``"diffaugment:policy=cutout"``). On a batch of ``data_shape``
    (default: the first of :data:`DEFAULT_SHAPES` its ``check_shape`` accepts; a refusal must be
    a :class:`ganzoo.ShapeMismatchError`), at strength 1: the output keeps the input's shape
    and dtype (float32 and bfloat16) and is finite; the gradient of a weighted sum of it reaches
    the input; the same seeded generator gives the same output twice, and torch's global
    generator is left alone. At strength 0 the output is the input, exactly. ``observe`` takes
    logits and ``metrics`` are finite scalars; ``state_dict`` survives ``torch.save`` and
    ``torch.load(weights_only=True)`` (as in a checkpoint), and a fresh instance loaded with it
    matches the original in metrics, outputs and what it does with the next logits. Finally one
    training step of :func:`ganzoo.fit` with ``augment=name`` (architecture ``gan``, when the
    catalog has it) records finite metrics.
    """
    catalog = catalog if catalog is not None else get_catalog()
    where, fresh = registered_class(catalog, "augmentation", name)

    # 1. The data it accepts: refusals are ShapeMismatchErrors.
    probe = fresh()
    accepted = []
    for shape in ([tuple(data_shape)] if data_shape is not None else DEFAULT_SHAPES):
        try:
            with raises_as_failure(where, f"check_shape({tuple(shape)})"):
                probe.check_shape(tuple(int(s) for s in shape))
        except AssertionError as exc:
            if isinstance(exc.__cause__, ShapeMismatchError) and data_shape is None:
                continue
            raise
        accepted.append(tuple(int(s) for s in shape))
    ensure(bool(accepted), where, f"check_shape accepts none of the kit's data shapes "
                                  f"({', '.join(str(s) for s in DEFAULT_SHAPES)}); pass data_shape=...")
    shape = accepted[0]
    rng = torch.Generator().manual_seed(SEED)
    x = torch.rand(BATCH, *shape, generator=rng) * 2 - 1

    # 2. Shape, dtype, finite values; the gradient reaches the input; deterministic under a seeded generator.
    aug = fresh()
    with raises_as_failure(where, "setting strength = 1.0"):
        aug.strength = 1.0
    for dtype in (torch.float32, torch.bfloat16):
        y = _augmented(aug, where, x.to(dtype), seed=1)
        ensure(tuple(y.shape) == tuple(x.shape) and y.dtype == dtype, where,
               f"augment turned a {dtype} batch of shape {tuple(x.shape)} into a {y.dtype} batch of shape "
               f"{tuple(y.shape)}: keep the shape and the dtype")
        ensure(bool(torch.isfinite(y.float()).all()), where, f"augment gave non-finite values for a {dtype} batch")
    leaf = x.clone().requires_grad_(True)
    y = _augmented(aug, where, leaf, seed=1)
    weights = torch.randn(y.shape, generator=rng)
    no_gradient = ("no finite, non-zero gradient reaches the input through augment: it must be differentiable, so "
                   "that G's gradient flows back through what D sees (no .detach(), no in-place writes to a copy)")
    ensure(y.requires_grad, where, no_gradient)
    with raises_as_failure(where, "backward through augment"):
        (y * weights).sum().backward()
    ensure(leaf.grad is not None and bool(torch.isfinite(leaf.grad).all()) and bool(leaf.grad.abs().sum() > 0),
           where, no_gradient)
    before = torch.get_rng_state()
    first = _augmented(aug, where, x, seed=3)
    ensure(torch.equal(torch.get_rng_state(), before), where,
           "augment(x, generator=g) drew from torch's global generator: draw from `g` when it is given")
    second = _augmented(aug, where, x, seed=3)
    ensure(torch.equal(first, second), where, "two calls with generators seeded alike gave different batches: draw "
                                              "every random number from the `generator` argument")

    # 3. Strength 0 is the identity.
    with raises_as_failure(where, "setting strength = 0.0"):
        aug.strength = 0.0
    ensure(torch.equal(_augmented(aug, where, x, seed=1), x), where,
           "at strength 0 augment must return its input unchanged")

    # 4. Observing D, metrics, and the state through a checkpoint.
    def observe(a: Augmentation, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        for _ in range(16):  # logits mostly positive: a D that believes the real batch (an adaptive one moves)
            real, fake = torch.randn(BATCH, generator=g) + 1.0, torch.randn(BATCH, generator=g) - 1.0
            with raises_as_failure(where, "observe(real_logits, fake_logits)"):
                a.observe(real, fake)

    def metrics(a: Augmentation) -> dict[str, torch.Tensor]:
        with raises_as_failure(where, "metrics()"):
            found = a.metrics()
        ensure(isinstance(found, dict), where, f"metrics() must return a dict, got {type(found).__name__}")
        for key, value in found.items():
            ensure(isinstance(value, torch.Tensor) and value.dim() == 0 and bool(torch.isfinite(value)), where,
                   f"metrics()[{key!r}] must be a finite scalar tensor, got {value!r}")
        return found

    original = fresh()
    observe(original, 5)
    _augmented(original, where, x, seed=4)
    with raises_as_failure(where, "state_dict() through torch.save and torch.load(weights_only=True)"):
        buffer = io.BytesIO()
        torch.save(original.state_dict(), buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=True)
    restored = fresh()
    with raises_as_failure(where, "load_state_dict(state_dict())"):
        restored.load_state_dict(saved)

    def same_metrics(when: str) -> None:
        a, b = metrics(original), metrics(restored)
        ensure(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), where,
               f"{when}, a copy loaded from state_dict() reports other metrics ({b}) than the original ({a}): "
               "is some state missing from state_dict()?")

    same_metrics("right after loading")
    ensure(torch.equal(_augmented(original, where, x, seed=6), _augmented(restored, where, x, seed=6)), where,
           "a copy loaded from state_dict() augments differently from the original: is some state missing?")
    observe(original, 7)
    observe(restored, 7)
    same_metrics("after the same observations")

    # 5. One training step with it.
    if "gan" in catalog.architectures:
        config = TrainConfig(architecture="gan", dataset=dataset_name(shape), steps=1, batch_size=BATCH, ema=0.0,
                             log_every=1, device="cpu", seed=SEED, augment=name)
        with raises_as_failure(where, "one training step (ganzoo.fit with augment=...)"):
            result = fit(config, catalog=catalog, dataset=tiny_dataset(shape))
        bad = {k: v for k, v in result.history[-1].items() if not math.isfinite(v)}
        ensure(not bad, where, f"one training step with it gave non-finite metrics {bad}")
