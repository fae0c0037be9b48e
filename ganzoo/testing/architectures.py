"""The architecture checks: shapes, conditioning, a training step, the registry round trip, determinism."""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..catalog import Catalog
from ..models import Discriminator, Generator, ModelSpec
from .support import (
    BATCH,
    GradientProbe,
    batch_for,
    differing_tensors,
    ensure,
    failure,
    last_leaf,
    own_rng,
    raises_as_failure,
    snapshot,
    subject_for,
    train_one_step,
)

__all__ = ["check_architecture", "check_conditioning", "check_determinism", "check_round_trip", "check_shape_contract",
           "check_training_step"]


@own_rng
def check_shape_contract(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                         options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """G(z, labels) -> ``(N, *data_shape)`` (images in [-1, 1]); D(x, labels) -> raw logits ``(N,)``.

    Checked in eval and train mode; then one backward pass of D(G(z)) must reach every
    parameter of both networks with a finite gradient.
    """
    s = subject_for(name, data_shape, num_classes, options, catalog)
    g, d = s.build()
    ensure(isinstance(g, Generator) and isinstance(d, Discriminator), s,
           "the networks must subclass ganzoo.Generator and ganzoo.Discriminator")
    ensure(g.data_shape == s.data_shape and d.data_shape == s.data_shape, s,
           f"G.data_shape={g.data_shape} and D.data_shape={d.data_shape} must both be the data's shape "
           "(pass data_shape on to super().__init__)")
    ensure(g.num_classes == s.num_classes and d.num_classes == s.num_classes, s,
           f"G.num_classes={g.num_classes} and D.num_classes={d.num_classes} must both be {s.num_classes}")
    n = max(BATCH, s.num_classes)  # every class appears, so every class embedding gets a gradient below
    n = batch_for(d, n)
    labels = s.labels(n)
    for mode in ("eval", "train"):
        g.train(mode == "train")
        d.train(mode == "train")
        with torch.no_grad():
            with raises_as_failure(s, f"G.sample_latent({n})"):
                z = g.sample_latent(n)
            ensure(isinstance(z, torch.Tensor) and z.dim() >= 1 and z.shape[0] == n, s,
                   f"G.sample_latent({n}) must return a tensor with {n} rows, got "
                   f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
            with raises_as_failure(s, f"G(z, labels) in {mode} mode"):
                x = g(z, labels)
            expected = (n, *s.data_shape)
            ensure(isinstance(x, torch.Tensor) and tuple(x.shape) == expected, s,
                   f"G(z, labels) in {mode} mode returned shape "
                   f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}, expected {expected}")
            ensure(x.is_floating_point() and bool(torch.isfinite(x).all()), s,
                   f"G's samples in {mode} mode must be finite floating-point values")
            if len(s.data_shape) == 3:
                ensure(x.min() >= -1 and x.max() <= 1, s,
                       f"G's images must lie in [-1, 1] like the normalized data (end with tanh), got values in "
                       f"[{float(x.min()):.3f}, {float(x.max()):.3f}] in {mode} mode")
            with raises_as_failure(s, f"D(x, labels) in {mode} mode"):
                logits = d(x, labels)
            ensure(isinstance(logits, torch.Tensor) and tuple(logits.shape) == (n,), s,
                   f"D(x, labels) in {mode} mode returned shape "
                   f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}, "
                   f"expected ({n},): one raw logit per sample (flatten a trailing (N, 1))")
            ensure(logits.is_floating_point() and bool(torch.isfinite(logits).all()), s,
                   f"D's logits in {mode} mode must be finite floating-point values")
    ensure(not isinstance(last_leaf(d), nn.Sigmoid), s,
           "D ends in a Sigmoid: it must return raw logits (the losses apply the sigmoid themselves)")

    g.train()
    d.train()
    with raises_as_failure(s, "backward through D(G(z))"):
        d(g(g.sample_latent(n), labels), labels).mean().backward()
    for role, net in (("G", g), ("D", d)):
        for pname, p in net.named_parameters():
            ensure(p.grad is not None, s,
                   f"{role}.{pname} got no gradient from D(G(z)): is it used in forward()? (parameters that do not "
                   "take part make the optimizer state and the checkpoint misleading)")
            assert p.grad is not None
            ensure(bool(torch.isfinite(p.grad).all()), s, f"{role}.{pname} got a non-finite gradient")


@own_rng
def check_conditioning(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                       options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """A conditional architecture refuses missing labels, and its G and D both use them.

    For an unconditional architecture: G and D work with ``labels=None``.
    """
    s = subject_for(name, data_shape, num_classes, options, catalog)
    g, d = s.build()
    g.eval()
    d.eval()
    if not s.conditional:
        with torch.no_grad(), raises_as_failure(s, "D(G(z), None) for an unconditional model"):
            d(g(g.sample_latent(batch_for(d, 2)), None), None)
        return
    k = s.num_classes
    with torch.no_grad():
        z = g.sample_latent(2)
        x = g(z, s.labels(2))
        for role, call in (("G(z, None)", lambda: g(z, None)), ("D(x, None)", lambda: d(x, None))):
            try:
                call()
            except Exception:
                pass
            else:
                raise failure(s, f"{role} returned a result: a conditional model must refuse missing labels "
                               "(raise ganzoo.ConfigError saying that labels are needed)")
        labels = torch.arange(k)
        z1 = g.sample_latent(1)
        z1 = z1.expand(k, *z1.shape[1:])  # the same z for every class
        with raises_as_failure(s, "G(z, labels) with one z and every label"):
            samples = g(z1, labels).flatten(1)
        gaps = torch.cdist(samples, samples) + torch.eye(k) * 1e9  # ignore the diagonal
        i, j = divmod(int(gaps.argmin()), k)
        ensure(float(gaps.min()) > 0, s,
               f"G ignores the label: with the same z, labels {i} and {j} gave the same sample")
        same = samples[:1].view(1, *s.data_shape).expand(k, *s.data_shape)
        with raises_as_failure(s, "D(x, labels) with one x and every label"):
            logits = d(same, labels)
        gaps = (logits[:, None] - logits[None, :]).abs() + torch.eye(k) * 1e9
        i, j = divmod(int(gaps.argmin()), k)
        ensure(float(gaps.min()) > 0, s,
               f"D ignores the label: for the same sample, labels {i} and {j} gave the same logit")


@own_rng
def check_training_step(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                        options: Mapping[str, Any] | None = None, catalog: Catalog | None = None,
                        loss: str | None = None) -> None:
    """One step of the real trainer (:func:`ganzoo.fit`) on a tiny dataset trains both networks.

    Every trainable parameter must get a gradient, and every one whose gradient is not all
    zero must move; metrics must be finite. ``loss`` defaults to the architecture's
    ``default_loss``.
    """
    s = subject_for(name, data_shape, num_classes, options, catalog)
    snap = GradientProbe()
    result = train_one_step(s, [snap], loss=loss)
    for role, before, net in (("G", snap.g, result.generator), ("D", snap.d, result.discriminator)):
        ensure(bool(before), s, f"{role} has no parameters to train")
        after = dict(net.named_parameters())
        moved = {k for k, v in before.items() if not torch.equal(v, after[k].detach())}
        ensure(bool(moved), s, f"one training step changed none of {role}'s parameters")
        unused = [k for k in before if f"{role}.{k}" not in snap.reached and after[k].requires_grad]
        ensure(not unused, s, f"{role}'s {', '.join(unused)} got no gradient in a training step: are they used "
                              "by forward() in training mode?")
        # A parameter may get an exactly-zero gradient from some losses (the hinge loss on a last
        # bias while every logit is inside the margin); one that got a signal must have moved.
        stuck = [k for k in before if k not in moved and f"{role}.{k}" in snap.signal]
        ensure(not stuck, s, f"one training step left {role}'s {', '.join(stuck)} unchanged although they got "
                             "a gradient: are they left out of parameters()?")
    ensure(bool(result.history) and result.history[-1]["step"] == 1, s, "the trainer recorded no metrics")
    bad = {k: v for k, v in result.history[-1].items() if not math.isfinite(v)}
    ensure(not bad, s, f"one training step gave non-finite metrics {bad}")


@own_rng
def check_round_trip(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                     options: Mapping[str, Any] | None = None, catalog: Catalog | None = None,
                     workdir: str | Path | None = None) -> None:
    """Publish a trained model to a throwaway registry and load it back: the same samples and logits.

    The generator is loaded by reference (``ganzoo.load``'s path) and from the bare
    ``generator.safetensors`` file; the discriminator is rebuilt from its file's header.
    ``workdir`` (default: a temporary folder, removed afterwards) holds the registry.
    """
    from ..registry import Registry, load_generator
    from ..training.publish import publish
    from ..weights import read_weights, spec_from_metadata

    s = subject_for(name, data_shape, num_classes, options, catalog)
    result = train_one_step(s)
    g, d = result.generator.eval(), result.discriminator.eval()
    n = batch_for(d, max(4, s.num_classes))
    labels = s.labels(n)
    with torch.no_grad():
        z = g.sample_latent(n, generator=torch.Generator().manual_seed(1))
        x, logits = g(z, labels), d(g(z, labels), labels)

    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        registry = Registry(root / "registry")
        with raises_as_failure(s, "publishing to a registry"):
            record = publish(result, name="kit-model", registry=registry)
        loaded: dict[str, Generator] = {}
        with raises_as_failure(s, f"loading {record.ref} from the registry"):
            loaded[record.ref] = load_generator(record.ref, registry=registry, catalog=s.catalog)
        g_file = record.path / "generator.safetensors"
        with raises_as_failure(s, f"loading the bare file {g_file.name}"):
            loaded[g_file.name] = load_generator(g_file, catalog=s.catalog)
        d_file = record.path / "discriminator.safetensors"
        with raises_as_failure(s, f"rebuilding D from {d_file.name}"):
            meta, state = read_weights(d_file)
            spec = spec_from_metadata(meta, d_file)
            _, d2 = s.catalog.build(spec)
            d2.load_state_dict(state, strict=True)
        d2.eval()

    for where, g2 in loaded.items():
        ensure(type(g2) is type(g), s, f"{where} loaded as {type(g2).__name__}, not {type(g).__name__}")
        ensure(isinstance(g2.ganzoo_spec, ModelSpec) and g2.ganzoo_spec.to_dict() == result.spec.to_dict(), s,
               f"{where} came back with another spec: {g2.ganzoo_spec} instead of {result.spec}")
        with torch.no_grad(), raises_as_failure(s, f"sampling from {where}"):
            x2 = g2(z, labels)
        ensure(torch.allclose(x, x2, rtol=1e-5, atol=1e-6), s,
               f"{where} gives other samples than the model that was saved (max difference "
               f"{float((x - x2).abs().max()):.3g}): is some state missing from state_dict(), or is a constructor "
               "argument not recorded?")
    with torch.no_grad(), raises_as_failure(s, f"scoring with D rebuilt from {d_file.name}"):
        logits2 = d2(x, labels)
    ensure(torch.allclose(logits, logits2, rtol=1e-5, atol=1e-6), s,
           f"D rebuilt from {d_file.name} gives other logits (max difference "
           f"{float((logits - logits2).abs().max()):.3g})")


@own_rng
def check_determinism(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                      options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """Same seed, same everything: initial weights, latents, eval outputs and the weights after a step."""
    s = subject_for(name, data_shape, num_classes, options, catalog)
    (g1, d1), (g2, d2) = s.build(seed=7), s.build(seed=7)
    for role, a, b in (("G", g1, g2), ("D", d1, d2)):
        diff = differing_tensors(snapshot(a), snapshot(b))
        ensure(not diff, s, f"two builds under torch.manual_seed(7) gave {role} different {', '.join(diff[:5])}: "
                            "draw initial weights from torch's global generator")
    latents = []
    for seed in (3, 3, 4):
        with raises_as_failure(s, "G.sample_latent(n, generator=...)"):
            latents.append(g1.sample_latent(BATCH, generator=torch.Generator().manual_seed(seed)))
    ensure(torch.equal(latents[0], latents[1]), s,
           "G.sample_latent(n, generator=g) differs for two generators seeded alike: draw from `generator`")
    ensure(not torch.equal(latents[0], latents[2]), s,
           "G.sample_latent(n, generator=g) is the same for different seeds: draw from `generator`")
    g1.eval()
    d1.eval()
    labels = s.labels(BATCH)
    with torch.no_grad():
        x_a, x_b = g1(latents[0], labels), g1(latents[0], labels)
        ensure(torch.equal(x_a, x_b), s, "G in eval mode gives two different outputs for the same input")
        ensure(torch.equal(d1(x_a, labels), d1(x_a, labels)), s,
               "D in eval mode gives two different logits for the same input")
    first, second = train_one_step(s), train_one_step(s)
    for role, a, b in (("G", first.generator, second.generator), ("D", first.discriminator, second.discriminator)):
        diff = differing_tensors(snapshot(a), snapshot(b))
        ensure(not diff, s, f"two training runs with the same seed gave {role} different "
                            f"{', '.join(diff[:5])} after one step")


def check_architecture(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                       options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """Every architecture check, in order: shapes, conditioning, a training step, round trip, determinism.

    ``data_shape`` defaults to the first of :data:`DEFAULT_SHAPES` the architecture builds
    for; ``num_classes`` to 10 for conditional architectures; ``options`` are model
    overrides (e.g. ``{"base_channels": 8}`` keeps convolutional models fast); ``catalog``
    defaults to the installed plugins' (pass ``ganzoo.load_catalog(plugins=[...])`` to
    check a plugin that is not installed).
    """
    s = subject_for(name, data_shape, num_classes, options, catalog)
    kw: dict[str, Any] = dict(data_shape=s.data_shape, num_classes=s.num_classes, options=s.options,
                              catalog=s.catalog)
    check_shape_contract(name, **kw)
    check_conditioning(name, **kw)
    check_training_step(name, **kw)
    check_round_trip(name, **kw)
    check_determinism(name, **kw)
