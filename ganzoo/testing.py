"""The conformance kit: checks that any registered architecture or loss keeps ganzoo's contracts.

Plugin authors call these from their own tests; ganzoo's test suite runs them over every
registered architecture and loss (its own and any installed plugin's)::

    from ganzoo import testing

    def test_my_architecture_conforms():
        testing.check_architecture("myarch", options={"width": 8})

    def test_my_loss_conforms():
        testing.check_loss("my-loss")

Every check raises :class:`AssertionError` whose message names the architecture or loss
(and its plugin) and says what broke; an exception raised by the plugin's own code while
a check runs is turned into such an AssertionError too, chained to the original. The
checks draw from their own random numbers: the caller's global RNG state is restored.

Architecture checks (``check_architecture`` runs them all):

- :func:`check_shape_contract`: ``G(z, labels)`` has shape ``(N, *data_shape)`` (images in
  [-1, 1]), ``D(x, labels)`` returns raw logits of shape ``(N,)``, gradients reach every
  parameter of both networks;
- :func:`check_conditioning`: a conditional model refuses missing labels, and both G's
  samples and D's logits depend on the label;
- :func:`check_training_step`: one step of :func:`ganzoo.fit` on a tiny dataset gives every
  parameter of G and D a gradient, moves those it gives a signal, and records finite metrics;
- :func:`check_round_trip`: publish to a throwaway registry, load back (by name and from the
  bare ``.safetensors`` file): the same samples and the same logits;
- :func:`check_determinism`: the same seed gives the same weights, latents, outputs and
  trained weights; another seed gives other latents.

Loss checks (:func:`check_loss`): finite scalar outputs, gradients in the right direction,
D's loss lower when it tells real from fake, G's loss lower when D is fooled, no in-place
changes to the logits, and a finite non-negative penalty (if any) that reaches D's weights.

Augmentation checks (:func:`check_augmentation`): shape and dtype kept, the gradient reaches
the input, the identity at strength 0, deterministic under a seeded generator (and the
global one left alone), the state round-trips through a checkpoint, and a training step runs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

import torch
from torch import nn

from .augment import Augmentation
from .catalog import Catalog, get_catalog, parse_augment_spec
from .data import Dataset
from .errors import ShapeMismatchError
from .losses import Loss
from .models import Discriminator, Generator, ModelSpec
from .training.config import TrainConfig
from .training.loop import fit
from .training.state import Callback, TrainResult, TrainState

__all__ = [
    "DEFAULT_SHAPES",
    "check_architecture",
    "check_augmentation",
    "check_conditioning",
    "check_determinism",
    "check_loss",
    "check_round_trip",
    "check_shape_contract",
    "check_training_step",
    "fitting_shapes",
    "tiny_dataset",
]

# Tried in this order when no data_shape is given: the first one an architecture builds for is used.
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = ((1, 8, 8), (3, 16, 16), (2,))
NUM_CLASSES = 10  # classes given to conditional architectures unless told otherwise
BATCH = 8  # the batch size of every check: small enough to be fast, large enough for BatchNorm
SEED = 0
P = ParamSpec("P")


# -- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    """An architecture under test: its name, where it came from, and the data it is built for."""

    name: str
    plugin: str
    catalog: Catalog
    data_shape: tuple[int, ...]
    num_classes: int
    options: dict[str, Any]
    conditional: bool

    def __str__(self) -> str:
        classes = f", {self.num_classes} classes" if self.num_classes else ""
        return f"architecture {self.name!r} (plugin {self.plugin!r}) on data {self.data_shape}{classes}"

    def build(self, seed: int = SEED) -> tuple[Generator, Discriminator]:
        torch.manual_seed(seed)
        with _raises_as_failure(self, "building the model"):
            return self.catalog.create(self.name, self.data_shape, self.num_classes, **self.options)

    def labels(self, n: int) -> torch.Tensor | None:
        return torch.arange(n) % self.num_classes if self.num_classes else None

    def config(self, **changes: Any) -> TrainConfig:
        base: dict[str, Any] = dict(architecture=self.name, dataset=_dataset_name(self.data_shape), steps=1,
                                    batch_size=BATCH, ema=0.0, log_every=1, device="cpu", seed=SEED,
                                    model=dict(self.options))
        base.update(changes)
        return TrainConfig(**base)


def _fail(subject: object, what: str) -> AssertionError:
    return AssertionError(f"{subject}: {what}")


def _check(condition: bool, subject: object, what: str) -> None:
    if not condition:
        raise _fail(subject, what)


@contextlib.contextmanager
def _raises_as_failure(subject: object, doing: str) -> Iterator[None]:
    """An exception from the plugin's code becomes an AssertionError that says where it happened."""
    try:
        yield
    except AssertionError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())
        raise _fail(subject, f"{doing} raised {type(exc).__name__}: {detail}") from exc


def _own_rng(check: Callable[P, None]) -> Callable[P, None]:
    """Run a check on forked random states, so the caller's global RNG is left as it was."""

    @functools.wraps(check)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        with torch.random.fork_rng(devices=[]):
            check(*args, **kwargs)

    return wrapper


def _dataset_name(shape: Sequence[int]) -> str:
    return "kit-" + "x".join(str(s) for s in shape)


def _subject(name: str, data_shape: Sequence[int] | None, num_classes: int | None,
             options: Mapping[str, Any] | None, catalog: Catalog | None) -> _Subject:
    catalog = catalog if catalog is not None else get_catalog()
    arch = catalog.architecture(name)  # an unknown name raises UnknownNameError with suggestions
    plugin = catalog.architectures[name].plugin
    if num_classes is None:
        num_classes = NUM_CLASSES if arch.conditional else 0
    if not arch.conditional:
        num_classes = 0
    opts = dict(options or {})
    if data_shape is None:
        shapes = fitting_shapes(name, num_classes=num_classes, options=opts, catalog=catalog)
        if not shapes:
            tried = ", ".join(str(s) for s in DEFAULT_SHAPES)
            raise AssertionError(f"architecture {name!r} (plugin {plugin!r}) builds for none of the kit's data "
                                 f"shapes ({tried}); pass data_shape=... to check it on data it accepts")
        data_shape = shapes[0]
    return _Subject(name, plugin, catalog, tuple(int(s) for s in data_shape), num_classes, opts, arch.conditional)


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same_tensors(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> list[str]:
    """Names whose tensors differ (or exist on one side only)."""
    return sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or not torch.equal(a[k], b[k]))


def _batch_for(d: nn.Module, n: int) -> int:
    """The smallest batch of at least ``n`` samples that D's ``batch_multiple`` divides (packed Ds)."""
    multiple = int(getattr(d, "batch_multiple", 1))
    return -(-n // multiple) * multiple


def _last_leaf(module: nn.Module) -> nn.Module | None:
    leaves = [m for m in module.modules() if not list(m.children())]
    return leaves[-1] if leaves else None


def fitting_shapes(name: str, *, shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES, num_classes: int | None = None,
                   options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> list[tuple[int, ...]]:
    """The data shapes among ``shapes`` that architecture ``name`` builds for.

    A refusal must be a :class:`ganzoo.ShapeMismatchError` (that is how an architecture says
    "not this data"); any other error fails, naming the architecture and the shape.
    """
    catalog = catalog if catalog is not None else get_catalog()
    arch = catalog.architecture(name)
    plugin = catalog.architectures[name].plugin
    classes = (NUM_CLASSES if num_classes is None else num_classes) if arch.conditional else 0
    fits = []
    with torch.random.fork_rng(devices=[]):
        for shape in shapes:
            where = f"architecture {name!r} (plugin {plugin!r}) on data {tuple(shape)}"
            try:
                with _raises_as_failure(where, "building the model"):
                    catalog.create(name, tuple(shape), classes, **dict(options or {}))
            except AssertionError as exc:
                if isinstance(exc.__cause__, ShapeMismatchError):
                    continue
                raise
            fits.append(tuple(int(s) for s in shape))
    return fits


def tiny_dataset(data_shape: Sequence[int], num_classes: int = 0, *, n: int = 4 * BATCH, seed: int = SEED) -> Dataset:
    """A small random in-memory dataset: uint8 images for ``(C, H, W)``, float vectors for ``(D,)``."""
    shape = tuple(int(s) for s in data_shape)
    rng = torch.Generator().manual_seed(seed)
    if len(shape) == 3:
        data = torch.randint(0, 256, (n, *shape), generator=rng, dtype=torch.uint8)
    elif len(shape) == 1:
        data = torch.randn(n, *shape, generator=rng)
    else:
        raise ShapeMismatchError(f"the kit's datasets are (C, H, W) images or (D,) vectors, got shape {shape}")
    labels = torch.arange(n) % num_classes if num_classes else None
    return Dataset(name=_dataset_name(shape), data=data, labels=labels, num_classes=num_classes)


class _Snapshot(Callback):
    """Records both networks' parameters as training starts, and which ones got a non-zero gradient."""

    def __init__(self) -> None:
        self.g: dict[str, torch.Tensor] = {}
        self.d: dict[str, torch.Tensor] = {}
        self.reached: set[str] = set()  # "G.<name>" / "D.<name>" of parameters that got a gradient
        self.signal: set[str] = set()  # ... and of those whose gradient was not all zero
        self.handles: list[Any] = []

    def on_train_start(self, state: TrainState) -> None:
        for role, net, store in (("G", state.generator, self.g), ("D", state.discriminator, self.d)):
            for name, p in net.named_parameters():
                store[name] = p.detach().clone()
                if p.requires_grad:
                    self.handles.append(p.register_post_accumulate_grad_hook(self._hook(f"{role}.{name}")))

    def _hook(self, key: str) -> Callable[[torch.Tensor], None]:
        def record(p: torch.Tensor) -> None:
            if p.grad is not None:
                self.reached.add(key)
                if bool(p.grad.detach().abs().sum() > 0):
                    self.signal.add(key)
        return record

    def on_train_end(self, state: TrainState) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()


def _train(subject: _Subject, callbacks: Sequence[Callback] = (), **changes: Any) -> TrainResult:
    dataset = tiny_dataset(subject.data_shape, subject.num_classes)
    with _raises_as_failure(subject, "one training step (ganzoo.fit, steps=1)"):
        return fit(subject.config(**changes), callbacks=callbacks, catalog=subject.catalog, dataset=dataset)


# -- architectures ------------------------------------------------------------------------------


@_own_rng
def check_shape_contract(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                         options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """G(z, labels) -> ``(N, *data_shape)`` (images in [-1, 1]); D(x, labels) -> raw logits ``(N,)``.

    Checked in eval and train mode; then one backward pass of D(G(z)) must reach every
    parameter of both networks with a finite gradient.
    """
    s = _subject(name, data_shape, num_classes, options, catalog)
    g, d = s.build()
    _check(isinstance(g, Generator) and isinstance(d, Discriminator), s,
           "the networks must subclass ganzoo.Generator and ganzoo.Discriminator")
    _check(g.data_shape == s.data_shape and d.data_shape == s.data_shape, s,
           f"G.data_shape={g.data_shape} and D.data_shape={d.data_shape} must both be the data's shape "
           "(pass data_shape on to super().__init__)")
    _check(g.num_classes == s.num_classes and d.num_classes == s.num_classes, s,
           f"G.num_classes={g.num_classes} and D.num_classes={d.num_classes} must both be {s.num_classes}")
    n = max(BATCH, s.num_classes)  # every class appears, so every class embedding gets a gradient below
    n = _batch_for(d, n)
    labels = s.labels(n)
    for mode in ("eval", "train"):
        g.train(mode == "train")
        d.train(mode == "train")
        with torch.no_grad():
            with _raises_as_failure(s, f"G.sample_latent({n})"):
                z = g.sample_latent(n)
            _check(isinstance(z, torch.Tensor) and z.dim() >= 1 and z.shape[0] == n, s,
                   f"G.sample_latent({n}) must return a tensor with {n} rows, got "
                   f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
            with _raises_as_failure(s, f"G(z, labels) in {mode} mode"):
                x = g(z, labels)
            expected = (n, *s.data_shape)
            _check(isinstance(x, torch.Tensor) and tuple(x.shape) == expected, s,
                   f"G(z, labels) in {mode} mode returned shape "
                   f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}, expected {expected}")
            _check(x.is_floating_point() and bool(torch.isfinite(x).all()), s,
                   f"G's samples in {mode} mode must be finite floating-point values")
            if len(s.data_shape) == 3:
                _check(x.min() >= -1 and x.max() <= 1, s,
                       f"G's images must lie in [-1, 1] like the normalized data (end with tanh), got values in "
                       f"[{float(x.min()):.3f}, {float(x.max()):.3f}] in {mode} mode")
            with _raises_as_failure(s, f"D(x, labels) in {mode} mode"):
                logits = d(x, labels)
            _check(isinstance(logits, torch.Tensor) and tuple(logits.shape) == (n,), s,
                   f"D(x, labels) in {mode} mode returned shape "
                   f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}, "
                   f"expected ({n},): one raw logit per sample (flatten a trailing (N, 1))")
            _check(logits.is_floating_point() and bool(torch.isfinite(logits).all()), s,
                   f"D's logits in {mode} mode must be finite floating-point values")
    _check(not isinstance(_last_leaf(d), nn.Sigmoid), s,
           "D ends in a Sigmoid: it must return raw logits (the losses apply the sigmoid themselves)")

    g.train()
    d.train()
    with _raises_as_failure(s, "backward through D(G(z))"):
        d(g(g.sample_latent(n), labels), labels).mean().backward()
    for role, net in (("G", g), ("D", d)):
        for pname, p in net.named_parameters():
            _check(p.grad is not None, s,
                   f"{role}.{pname} got no gradient from D(G(z)): is it used in forward()? (parameters that do not "
                   "take part make the optimizer state and the checkpoint misleading)")
            assert p.grad is not None
            _check(bool(torch.isfinite(p.grad).all()), s, f"{role}.{pname} got a non-finite gradient")


@_own_rng
def check_conditioning(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                       options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """A conditional architecture refuses missing labels, and its G and D both use them.

    For an unconditional architecture: G and D work with ``labels=None``.
    """
    s = _subject(name, data_shape, num_classes, options, catalog)
    g, d = s.build()
    g.eval()
    d.eval()
    if not s.conditional:
        with torch.no_grad(), _raises_as_failure(s, "D(G(z), None) for an unconditional model"):
            d(g(g.sample_latent(_batch_for(d, 2)), None), None)
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
                raise _fail(s, f"{role} returned a result: a conditional model must refuse missing labels "
                               "(raise ganzoo.ConfigError saying that labels are needed)")
        labels = torch.arange(k)
        z1 = g.sample_latent(1)
        z1 = z1.expand(k, *z1.shape[1:])  # the same z for every class
        with _raises_as_failure(s, "G(z, labels) with one z and every label"):
            samples = g(z1, labels).flatten(1)
        gaps = torch.cdist(samples, samples) + torch.eye(k) * 1e9  # ignore the diagonal
        i, j = divmod(int(gaps.argmin()), k)
        _check(float(gaps.min()) > 0, s,
               f"G ignores the label: with the same z, labels {i} and {j} gave the same sample")
        same = samples[:1].view(1, *s.data_shape).expand(k, *s.data_shape)
        with _raises_as_failure(s, "D(x, labels) with one x and every label"):
            logits = d(same, labels)
        gaps = (logits[:, None] - logits[None, :]).abs() + torch.eye(k) * 1e9
        i, j = divmod(int(gaps.argmin()), k)
        _check(float(gaps.min()) > 0, s,
               f"D ignores the label: for the same sample, labels {i} and {j} gave the same logit")


@_own_rng
def check_training_step(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                        options: Mapping[str, Any] | None = None, catalog: Catalog | None = None,
                        loss: str | None = None) -> None:
    """One step of the real trainer (:func:`ganzoo.fit`) on a tiny dataset trains both networks.

    Every trainable parameter must get a gradient, and every one whose gradient is not all
    zero must move; metrics must be finite. ``loss`` defaults to the architecture's
    ``default_loss``.
    """
    s = _subject(name, data_shape, num_classes, options, catalog)
    snap = _Snapshot()
    result = _train(s, [snap], loss=loss)
    for role, before, net in (("G", snap.g, result.generator), ("D", snap.d, result.discriminator)):
        _check(bool(before), s, f"{role} has no parameters to train")
        after = dict(net.named_parameters())
        moved = {k for k, v in before.items() if not torch.equal(v, after[k].detach())}
        _check(bool(moved), s, f"one training step changed none of {role}'s parameters")
        unused = [k for k in before if f"{role}.{k}" not in snap.reached and after[k].requires_grad]
        _check(not unused, s, f"{role}'s {', '.join(unused)} got no gradient in a training step: are they used "
                              "by forward() in training mode?")
        # A parameter may get an exactly-zero gradient from some losses (the hinge loss on a last
        # bias while every logit is inside the margin); one that got a signal must have moved.
        stuck = [k for k in before if k not in moved and f"{role}.{k}" in snap.signal]
        _check(not stuck, s, f"one training step left {role}'s {', '.join(stuck)} unchanged although they got "
                             "a gradient: are they left out of parameters()?")
    _check(bool(result.history) and result.history[-1]["step"] == 1, s, "the trainer recorded no metrics")
    bad = {k: v for k, v in result.history[-1].items() if not math.isfinite(v)}
    _check(not bad, s, f"one training step gave non-finite metrics {bad}")


@_own_rng
def check_round_trip(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                     options: Mapping[str, Any] | None = None, catalog: Catalog | None = None,
                     workdir: str | Path | None = None) -> None:
    """Publish a trained model to a throwaway registry and load it back: the same samples and logits.

    The generator is loaded by reference (``ganzoo.load``'s path) and from the bare
    ``generator.safetensors`` file; the discriminator is rebuilt from its file's header.
    ``workdir`` (default: a temporary folder, removed afterwards) holds the registry.
    """
    from .registry import Registry, load_generator
    from .training.publish import publish
    from .weights import read_weights, spec_from_metadata

    s = _subject(name, data_shape, num_classes, options, catalog)
    result = _train(s)
    g, d = result.generator.eval(), result.discriminator.eval()
    n = _batch_for(d, max(4, s.num_classes))
    labels = s.labels(n)
    with torch.no_grad():
        z = g.sample_latent(n, generator=torch.Generator().manual_seed(1))
        x, logits = g(z, labels), d(g(z, labels), labels)

    with contextlib.ExitStack() as stack:
        root = Path(workdir) if workdir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        registry = Registry(root / "registry")
        with _raises_as_failure(s, "publishing to a registry"):
            record = publish(result, name="kit-model", registry=registry)
        loaded: dict[str, Generator] = {}
        with _raises_as_failure(s, f"loading {record.ref} from the registry"):
            loaded[record.ref] = load_generator(record.ref, registry=registry, catalog=s.catalog)
        g_file = record.path / "generator.safetensors"
        with _raises_as_failure(s, f"loading the bare file {g_file.name}"):
            loaded[g_file.name] = load_generator(g_file, catalog=s.catalog)
        d_file = record.path / "discriminator.safetensors"
        with _raises_as_failure(s, f"rebuilding D from {d_file.name}"):
            meta, state = read_weights(d_file)
            spec = spec_from_metadata(meta, d_file)
            _, d2 = s.catalog.build(spec)
            d2.load_state_dict(state, strict=True)
        d2.eval()

    for where, g2 in loaded.items():
        _check(type(g2) is type(g), s, f"{where} loaded as {type(g2).__name__}, not {type(g).__name__}")
        _check(isinstance(g2.ganzoo_spec, ModelSpec) and g2.ganzoo_spec.to_dict() == result.spec.to_dict(), s,
               f"{where} came back with another spec: {g2.ganzoo_spec} instead of {result.spec}")
        with torch.no_grad(), _raises_as_failure(s, f"sampling from {where}"):
            x2 = g2(z, labels)
        _check(torch.allclose(x, x2, rtol=1e-5, atol=1e-6), s,
               f"{where} gives other samples than the model that was saved (max difference "
               f"{float((x - x2).abs().max()):.3g}): is some state missing from state_dict(), or is a constructor "
               "argument not recorded?")
    with torch.no_grad(), _raises_as_failure(s, f"scoring with D rebuilt from {d_file.name}"):
        logits2 = d2(x, labels)
    _check(torch.allclose(logits, logits2, rtol=1e-5, atol=1e-6), s,
           f"D rebuilt from {d_file.name} gives other logits (max difference "
           f"{float((logits - logits2).abs().max()):.3g})")


@_own_rng
def check_determinism(name: str, *, data_shape: Sequence[int] | None = None, num_classes: int | None = None,
                      options: Mapping[str, Any] | None = None, catalog: Catalog | None = None) -> None:
    """Same seed, same everything: initial weights, latents, eval outputs and the weights after a step."""
    s = _subject(name, data_shape, num_classes, options, catalog)
    (g1, d1), (g2, d2) = s.build(seed=7), s.build(seed=7)
    for role, a, b in (("G", g1, g2), ("D", d1, d2)):
        diff = _same_tensors(_snapshot(a), _snapshot(b))
        _check(not diff, s, f"two builds under torch.manual_seed(7) gave {role} different {', '.join(diff[:5])}: "
                            "draw initial weights from torch's global generator")
    latents = []
    for seed in (3, 3, 4):
        with _raises_as_failure(s, "G.sample_latent(n, generator=...)"):
            latents.append(g1.sample_latent(BATCH, generator=torch.Generator().manual_seed(seed)))
    _check(torch.equal(latents[0], latents[1]), s,
           "G.sample_latent(n, generator=g) differs for two generators seeded alike: draw from `generator`")
    _check(not torch.equal(latents[0], latents[2]), s,
           "G.sample_latent(n, generator=g) is the same for different seeds: draw from `generator`")
    g1.eval()
    d1.eval()
    labels = s.labels(BATCH)
    with torch.no_grad():
        x_a, x_b = g1(latents[0], labels), g1(latents[0], labels)
        _check(torch.equal(x_a, x_b), s, "G in eval mode gives two different outputs for the same input")
        _check(torch.equal(d1(x_a, labels), d1(x_a, labels)), s,
               "D in eval mode gives two different logits for the same input")
    first, second = _train(s), _train(s)
    for role, a, b in (("G", first.generator, second.generator), ("D", first.discriminator, second.discriminator)):
        diff = _same_tensors(_snapshot(a), _snapshot(b))
        _check(not diff, s, f"two training runs with the same seed gave {role} different "
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
    s = _subject(name, data_shape, num_classes, options, catalog)
    kw: dict[str, Any] = dict(data_shape=s.data_shape, num_classes=s.num_classes, options=s.options,
                              catalog=s.catalog)
    check_shape_contract(name, **kw)
    check_conditioning(name, **kw)
    check_training_step(name, **kw)
    check_round_trip(name, **kw)
    check_determinism(name, **kw)


# -- losses -------------------------------------------------------------------------------------


class _Critic(Discriminator):
    """A small critic on 2-d vectors for checking penalties."""

    def __init__(self, *, data_shape: tuple[int, ...] = (2,), num_classes: int = 0) -> None:
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.net = nn.Sequential(nn.Linear(math.prod(data_shape), 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1)).view(x.shape[0])


def _scalar(value: object, where: str, what: str) -> torch.Tensor:
    _check(isinstance(value, torch.Tensor), where, f"{what} must return a tensor, got {type(value).__name__}")
    assert isinstance(value, torch.Tensor)
    _check(value.dim() == 0, where, f"{what} must return a scalar (0-dim) tensor, got shape {tuple(value.shape)}")
    _check(value.is_floating_point() and bool(torch.isfinite(value.detach())), where,
           f"{what} must be a finite floating-point number, got {value.detach()!r}")
    return value


@_own_rng
def check_loss(name: str, *, catalog: Catalog | None = None) -> None:
    """A registered loss gives finite scalars, sensible gradients and a sane ordering.

    Each phase is called in the trainer's order: ``discriminator_loss`` (and ``penalty``)
    on a real and a generated batch, then ``generator_loss`` on a generated batch, on a
    fresh instance for every probe.
    """
    catalog = catalog if catalog is not None else get_catalog()
    if name not in catalog.losses:
        catalog.loss(name)  # raises UnknownNameError with suggestions
    registered = catalog.losses[name]
    where = f"loss {name!r} (plugin {registered.plugin!r}, class {registered.value.__name__})"

    def fresh() -> Loss:
        with _raises_as_failure(where, "constructing the loss with no arguments"):
            loss = catalog.loss(name)
        _check(isinstance(loss, Loss), where, "must subclass ganzoo.Loss")
        return loss

    def phases(real: torch.Tensor, fake_d: torch.Tensor, fake_g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss = fresh()
        with _raises_as_failure(where, "discriminator_loss(real_logits, fake_logits)"):
            d_loss = loss.discriminator_loss(real, fake_d)
        with _raises_as_failure(where, "generator_loss(fake_logits)"):
            g_loss = loss.generator_loss(fake_g)
        return (_scalar(d_loss, where, "discriminator_loss"), _scalar(g_loss, where, "generator_loss"))

    rng = torch.Generator().manual_seed(SEED)
    n = 2 * BATCH

    # 1. Finite scalars whose gradients reach the logits, pushing the right way: D's loss
    #    falls as real logits rise and fake ones fall; G's loss falls as fake logits rise.
    real = (0.1 * torch.randn(n, generator=rng)).requires_grad_(True)
    fake_d = (0.1 * torch.randn(n, generator=rng)).requires_grad_(True)
    fake_g = (0.1 * torch.randn(n, generator=rng)).requires_grad_(True)
    kept = [t.detach().clone() for t in (real, fake_d, fake_g)]
    d_loss, g_loss = phases(real, fake_d, fake_g)
    for t, original in zip((real, fake_d, fake_g), kept, strict=True):
        _check(torch.equal(t.detach(), original), where, "a loss changed the logits it was given in place")
    with _raises_as_failure(where, "backward through the discriminator loss"):
        d_loss.backward()
    with _raises_as_failure(where, "backward through the generator loss"):
        g_loss.backward()
    for what, t in (("real_logits", real), ("fake_logits", fake_d)):
        _check(t.grad is not None and bool(torch.isfinite(t.grad).all()) and bool(t.grad.abs().sum() > 0), where,
               f"discriminator_loss gives {what} no finite non-zero gradient")
    _check(fake_g.grad is not None and bool(torch.isfinite(fake_g.grad).all()) and bool(fake_g.grad.abs().sum() > 0),
           where, "generator_loss gives fake_logits no finite non-zero gradient")
    assert real.grad is not None and fake_d.grad is not None and fake_g.grad is not None
    _check(float(real.grad.sum()) < 0, where,
           "raising the real logits raises the discriminator loss near 0: D must be rewarded for scoring real "
           "samples high (D minimizes discriminator_loss)")
    _check(float(fake_d.grad.sum()) > 0, where,
           "raising the fake logits lowers the discriminator loss near 0: D must be rewarded for scoring "
           "generated samples low")
    _check(float(fake_g.grad.sum()) < 0, where,
           "raising the fake logits raises the generator loss near 0: G must be rewarded when D scores its "
           "samples high (G minimizes generator_loss)")

    # 2. Orderings at clearly separated logits. G's probes share D's view of the real batch
    #    (logits 0), which relativistic losses compare the fake logits with.
    high, low, zero = torch.full((n,), 2.0), torch.full((n,), -2.0), torch.zeros(n)
    d_right, _ = phases(high, low, low)
    d_wrong, _ = phases(low, high, low)
    _, g_fooled = phases(zero, zero, high)
    _, g_caught = phases(zero, zero, low)
    _check(float(d_right) < float(d_wrong), where,
           f"the discriminator loss is not lower when D is right (real logits +2, fake -2: {float(d_right):.4g}) "
           f"than when it is wrong (real -2, fake +2: {float(d_wrong):.4g})")
    _check(float(g_fooled) < float(g_caught), where,
           f"the generator loss is not lower when D is fooled (fake logits +2: {float(g_fooled):.4g}) than when "
           f"it is not (fake -2: {float(g_caught):.4g})")

    # 3. Stable at large logits (a confident D): still finite.
    big = torch.full((n,), 100.0)
    phases(big, -big, -big)
    phases(-big, big, big)

    # 4. The penalty, if any: a finite, non-negative scalar whose gradient reaches D's weights.
    critic = _Critic()
    x_real, x_fake = torch.randn(n, 2, generator=rng), torch.randn(n, 2, generator=rng)
    with _raises_as_failure(where, "penalty(discriminator, real, fake, labels)"):
        penalty = fresh().penalty(critic, x_real, x_fake, None)
    if penalty is not None:
        value = _scalar(penalty, where, "penalty")
        _check(float(value.detach()) >= 0, where,
               f"penalty must be non-negative (it is added to D's loss), got {float(value.detach())}")
        _check(value.requires_grad, where, "penalty is detached from the discriminator's weights")
        with _raises_as_failure(where, "backward through the penalty"):
            value.backward()
        grads = {k: p.grad for k, p in critic.named_parameters() if p.grad is not None}
        _check(any(bool(g.abs().sum() > 0) for g in grads.values()), where,
               "the penalty's gradient reaches none of the discriminator's weights")
        bad = [k for k, g in grads.items() if not bool(torch.isfinite(g).all())]
        _check(not bad, where, f"the penalty gives the discriminator's {', '.join(bad)} a non-finite gradient")


# -- augmentations ------------------------------------------------------------------------------


def _augmented(aug: Augmentation, where: str, x: torch.Tensor, seed: int | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    with _raises_as_failure(where, f"augment(x of shape {tuple(x.shape)}, {x.dtype})"):
        y = aug.augment(x, generator=generator)
    _check(isinstance(y, torch.Tensor), where, f"augment must return a tensor, got {type(y).__name__}")
    return y


@_own_rng
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
    base, _ = parse_augment_spec(name)
    if base not in catalog.augmentations:
        catalog.augmentation(name)  # raises UnknownNameError with suggestions
    registered = catalog.augmentations[base]
    where = f"augmentation {name!r} (plugin {registered.plugin!r}, class {registered.value.__name__})"

    def fresh() -> Augmentation:
        with _raises_as_failure(where, "constructing it"):
            aug = catalog.augmentation(name)
        _check(isinstance(aug, Augmentation), where, "must subclass ganzoo.Augmentation")
        return aug

    # 1. The data it accepts: refusals are ShapeMismatchErrors.
    probe = fresh()
    accepted = []
    for shape in ([tuple(data_shape)] if data_shape is not None else DEFAULT_SHAPES):
        try:
            with _raises_as_failure(where, f"check_shape({tuple(shape)})"):
                probe.check_shape(tuple(int(s) for s in shape))
        except AssertionError as exc:
            if isinstance(exc.__cause__, ShapeMismatchError) and data_shape is None:
                continue
            raise
        accepted.append(tuple(int(s) for s in shape))
    _check(bool(accepted), where, f"check_shape accepts none of the kit's data shapes "
                                  f"({', '.join(str(s) for s in DEFAULT_SHAPES)}); pass data_shape=...")
    shape = accepted[0]
    rng = torch.Generator().manual_seed(SEED)
    x = torch.rand(BATCH, *shape, generator=rng) * 2 - 1

    # 2. Shape, dtype, finite values; the gradient reaches the input; deterministic under a seeded generator.
    aug = fresh()
    with _raises_as_failure(where, "setting strength = 1.0"):
        aug.strength = 1.0
    for dtype in (torch.float32, torch.bfloat16):
        y = _augmented(aug, where, x.to(dtype), seed=1)
        _check(tuple(y.shape) == tuple(x.shape) and y.dtype == dtype, where,
               f"augment turned a {dtype} batch of shape {tuple(x.shape)} into a {y.dtype} batch of shape "
               f"{tuple(y.shape)}: keep the shape and the dtype")
        _check(bool(torch.isfinite(y.float()).all()), where, f"augment gave non-finite values for a {dtype} batch")
    leaf = x.clone().requires_grad_(True)
    y = _augmented(aug, where, leaf, seed=1)
    weights = torch.randn(y.shape, generator=rng)
    no_gradient = ("no finite, non-zero gradient reaches the input through augment: it must be differentiable, so "
                   "that G's gradient flows back through what D sees (no .detach(), no in-place writes to a copy)")
    _check(y.requires_grad, where, no_gradient)
    with _raises_as_failure(where, "backward through augment"):
        (y * weights).sum().backward()
    _check(leaf.grad is not None and bool(torch.isfinite(leaf.grad).all()) and bool(leaf.grad.abs().sum() > 0),
           where, no_gradient)
    before = torch.get_rng_state()
    first = _augmented(aug, where, x, seed=3)
    _check(torch.equal(torch.get_rng_state(), before), where,
           "augment(x, generator=g) drew from torch's global generator: draw from `g` when it is given")
    second = _augmented(aug, where, x, seed=3)
    _check(torch.equal(first, second), where, "two calls with generators seeded alike gave different batches: draw "
                                              "every random number from the `generator` argument")

    # 3. Strength 0 is the identity.
    with _raises_as_failure(where, "setting strength = 0.0"):
        aug.strength = 0.0
    _check(torch.equal(_augmented(aug, where, x, seed=1), x), where,
           "at strength 0 augment must return its input unchanged")

    # 4. Observing D, metrics, and the state through a checkpoint.
    def observe(a: Augmentation, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        for _ in range(16):  # logits mostly positive: a D that believes the real batch (an adaptive one moves)
            real, fake = torch.randn(BATCH, generator=g) + 1.0, torch.randn(BATCH, generator=g) - 1.0
            with _raises_as_failure(where, "observe(real_logits, fake_logits)"):
                a.observe(real, fake)

    def metrics(a: Augmentation) -> dict[str, torch.Tensor]:
        with _raises_as_failure(where, "metrics()"):
            found = a.metrics()
        _check(isinstance(found, dict), where, f"metrics() must return a dict, got {type(found).__name__}")
        for key, value in found.items():
            _check(isinstance(value, torch.Tensor) and value.dim() == 0 and bool(torch.isfinite(value)), where,
                   f"metrics()[{key!r}] must be a finite scalar tensor, got {value!r}")
        return found

    original = fresh()
    observe(original, 5)
    _augmented(original, where, x, seed=4)
    with _raises_as_failure(where, "state_dict() through torch.save and torch.load(weights_only=True)"):
        buffer = io.BytesIO()
        torch.save(original.state_dict(), buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=True)
    restored = fresh()
    with _raises_as_failure(where, "load_state_dict(state_dict())"):
        restored.load_state_dict(saved)

    def same_metrics(when: str) -> None:
        a, b = metrics(original), metrics(restored)
        _check(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), where,
               f"{when}, a copy loaded from state_dict() reports other metrics ({b}) than the original ({a}): "
               "is some state missing from state_dict()?")

    same_metrics("right after loading")
    _check(torch.equal(_augmented(original, where, x, seed=6), _augmented(restored, where, x, seed=6)), where,
           "a copy loaded from state_dict() augments differently from the original: is some state missing?")
    observe(original, 7)
    observe(restored, 7)
    same_metrics("after the same observations")

    # 5. One training step with it.
    if "gan" in catalog.architectures:
        config = TrainConfig(architecture="gan", dataset=_dataset_name(shape), steps=1, batch_size=BATCH, ema=0.0,
                             log_every=1, device="cpu", seed=SEED, augment=name)
        with _raises_as_failure(where, "one training step (ganzoo.fit with augment=...)"):
            result = fit(config, catalog=catalog, dataset=tiny_dataset(shape))
        bad = {k: v for k, v in result.history[-1].items() if not math.isfinite(v)}
        _check(not bad, where, f"one training step with it gave non-finite metrics {bad}")
