"""What every check of the kit shares: the architecture under test, failures that name it, tiny data."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import torch
from torch import nn

from ..augment import Augmentation
from ..catalog import Catalog, get_catalog, parse_augment_spec, parse_loss_spec
from ..data import Dataset
from ..errors import ShapeMismatchError
from ..losses import Loss
from ..models import Discriminator, Generator
from ..training.config import TrainConfig
from ..training.loop import fit
from ..training.state import Callback, TrainResult, TrainState

__all__ = ["DEFAULT_SHAPES", "fitting_shapes", "tiny_dataset"]


# Tried in this order when no data_shape is given: the first one an architecture builds for is used.
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = ((1, 8, 8), (3, 16, 16), (2,))
NUM_CLASSES = 10  # classes given to conditional architectures unless told otherwise
BATCH = 8  # the batch size of every check: small enough to be fast, large enough for BatchNorm
SEED = 0
P = ParamSpec("P")


@dataclass(frozen=True)
class Subject:
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
        with raises_as_failure(self, "building the model"):
            return self.catalog.create(self.name, self.data_shape, self.num_classes, **self.options)

    def labels(self, n: int) -> torch.Tensor | None:
        return torch.arange(n) % self.num_classes if self.num_classes else None

    def config(self, **changes: Any) -> TrainConfig:
        base: dict[str, Any] = dict(architecture=self.name, dataset=dataset_name(self.data_shape), steps=1,
                                    batch_size=BATCH, ema=0.0, log_every=1, device="cpu", seed=SEED,
                                    model=dict(self.options))
        base.update(changes)
        return TrainConfig(**base)


def failure(subject: object, what: str) -> AssertionError:
    return AssertionError(f"{subject}: {what}")


def ensure(condition: bool, subject: object, what: str) -> None:
    if not condition:
        raise failure(subject, what)


@contextlib.contextmanager
def raises_as_failure(subject: object, doing: str) -> Iterator[None]:
    """An exception from the plugin's code becomes an AssertionError that says where it happened."""
    try:
        yield
    except AssertionError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())
        raise failure(subject, f"{doing} raised {type(exc).__name__}: {detail}") from exc


def own_rng(check: Callable[P, None]) -> Callable[P, None]:
    """Run a check on forked random states, so the caller's global RNG is left as it was."""

    @functools.wraps(check)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        with torch.random.fork_rng(devices=[]):
            check(*args, **kwargs)

    return wrapper


def dataset_name(shape: Sequence[int]) -> str:
    return "kit-" + "x".join(str(s) for s in shape)


def subject_for(name: str, data_shape: Sequence[int] | None, num_classes: int | None,
             options: Mapping[str, Any] | None, catalog: Catalog | None) -> Subject:
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
    return Subject(name, plugin, catalog, tuple(int(s) for s in data_shape), num_classes, opts, arch.conditional)


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def differing_tensors(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> list[str]:
    """Names whose tensors differ (or exist on one side only)."""
    return sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or not torch.equal(a[k], b[k]))


def batch_for(d: nn.Module, n: int) -> int:
    """The smallest batch of at least ``n`` samples that D's ``batch_multiple`` divides (packed Ds)."""
    multiple = int(getattr(d, "batch_multiple", 1))
    return -(-n // multiple) * multiple


def last_leaf(module: nn.Module) -> nn.Module | None:
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
                with raises_as_failure(where, "building the model"):
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
    return Dataset(name=dataset_name(shape), data=data, labels=labels, num_classes=num_classes)


class GradientProbe(Callback):
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


def train_one_step(subject: Subject, callbacks: Sequence[Callback] = (), **changes: Any) -> TrainResult:
    dataset = tiny_dataset(subject.data_shape, subject.num_classes)
    with raises_as_failure(subject, "one training step (ganzoo.fit, steps=1)"):
        return fit(subject.config(**changes), callbacks=callbacks, catalog=subject.catalog, dataset=dataset)


def registered_class(catalog: Catalog, kind: str, name: str) -> tuple[str, Callable[[], Any]]:
    """A registered loss or augmentation ``name`` (``NAME[:KEY=VALUE,...]``): the words that name it in
    failures, and a builder of fresh instances, each checked to subclass the kind's public interface."""
    interface: type[Loss] | type[Augmentation]
    build: Callable[[str], Loss | Augmentation]
    if kind == "loss":
        (base, options), table, build, interface = parse_loss_spec(name), catalog.losses, catalog.loss, Loss
    else:
        (base, options), table, build = parse_augment_spec(name), catalog.augmentations, catalog.augmentation
        interface = Augmentation
    if base not in table:
        build(name)  # raises UnknownNameError with suggestions
    found = table[base]
    where = f"{kind} {name!r} (plugin {found.plugin!r}, class {found.value.__name__})"
    doing = f"constructing the {kind} " + ("with its options" if options else "with no arguments")

    def fresh() -> Any:
        with raises_as_failure(where, doing):
            made = build(name)
        ensure(isinstance(made, interface), where, f"must subclass ganzoo.{interface.__name__}")
        return made

    return where, fresh
