"""What plugins registered: the :class:`Catalog` of architectures, losses, datasets and augmentations.

The catalog looks names up (with suggestions for a misspelt one), builds a registered loss or
augmentation from ``NAME:KEY=VALUE`` options, and resolves and builds an architecture's two
networks from its defaults, checking what each constructor accepts and that the networks keep
the shape contract. :mod:`ganzoo.catalog` fills it from the installed plugins.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from .augment import Augmentation
from .data.core import DatasetSpec
from .errors import ConfigError, PluginError, ShapeMismatchError, UnknownNameError
from .losses import Loss
from .models import Architecture, Discriminator, Generator, ModelSpec
from .values import check_like, parse_key_values

__all__ = ["DEFAULT_LATENT_DIM", "Catalog", "PluginFailure", "PluginInfo", "Registered", "parse_augment_spec",
           "parse_loss_spec"]

DEFAULT_LATENT_DIM = 100


@dataclass
class PluginInfo:
    """A plugin that loaded."""

    name: str  # entry-point name (or the name given to ``load_catalog``)
    module: str  # the module object's name
    distribution: str | None  # the installed distribution that provides it
    version: str | None  # that distribution's version
    hooks: list[str] = field(default_factory=list)  # the hooks it implements
    import_seconds: float = 0.0  # how long importing it took


@dataclass
class PluginFailure:
    """A plugin, or one of its registrations, that failed."""

    name: str  # entry-point / plugin name
    stage: str  # "import", "register", "hooks" (a hook that does not exist) or the hook that raised
    error: str  # the error, one line
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Registered:
    """Something a plugin registered, with the plugin it came from."""

    name: str
    plugin: str
    value: Any  # Architecture, DatasetSpec, or a Loss or Augmentation subclass
    description: str = ""


class Catalog:
    """Architectures, losses, datasets and augmentations registered by the loaded plugins."""

    def __init__(self) -> None:
        self.architectures: dict[str, Registered] = {}
        self.losses: dict[str, Registered] = {}
        self.datasets: dict[str, Registered] = {}
        self.augmentations: dict[str, Registered] = {}
        self.plugins: list[PluginInfo] = []
        self.failures: list[PluginFailure] = []

    # -- lookups ------------------------------------------------------------------------------
    def architecture(self, name: str) -> Architecture:
        if name not in self.architectures:
            raise UnknownNameError("architecture", name, self.architectures)
        return self.architectures[name].value

    def loss(self, name: str) -> Loss:
        """The loss ``name``, or ``NAME:KEY=VALUE[,KEY=VALUE...]`` with keyword options for its constructor.

        ``non-saturating-r1:gamma=3`` builds ``NonSaturatingR1(gamma=3)``; values are read as JSON
        where they can be (numbers, booleans), as strings otherwise.
        """
        base, options = parse_loss_spec(name)
        if base not in self.losses:
            raise UnknownNameError("loss", base, self.losses)
        loss: Loss = _construct("loss", "--loss", name, base, self.losses[base].value, options)
        return loss

    def augmentation(self, name: str) -> Augmentation:
        """The augmentation ``name``, or ``NAME:KEY=VALUE[,KEY=VALUE...]`` with keyword options for its constructor.

        As for losses; a value may hold commas (``diffaugment:policy=translation,cutout``): a part
        without ``=`` continues the value before it.
        """
        base, options = parse_augment_spec(name)
        if base not in self.augmentations:
            raise UnknownNameError("augmentation", base, self.augmentations)
        augmentation: Augmentation = _construct("augmentation", "--augment", name, base,
                                                self.augmentations[base].value, options)
        return augmentation

    def train_defaults(self, name: str) -> dict[str, Any]:
        """The training options architecture ``name`` declares (``Architecture.train_defaults``), as a new dict.

        ``ganzoo train`` and :func:`ganzoo.train` use them for the options the user does not give.
        """
        return dict(self.architecture(name).train_defaults)

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            raise UnknownNameError("dataset", name, self.datasets)
        return self.datasets[name].value

    # -- building models ----------------------------------------------------------------------
    def resolve_spec(self, name: str, data_shape: Iterable[int], num_classes: int = 0, **overrides: Any) -> ModelSpec:
        """Split defaults + overrides between the two constructors and return the full spec.

        The values' kinds are checked by :meth:`build`, which every spec goes through, whether
        resolved here or read from a file."""
        arch = self.architecture(name)
        data_shape = tuple(int(s) for s in data_shape)
        if arch.conditional and num_classes < 1:
            raise ShapeMismatchError(
                f"architecture {name!r} is conditional: it needs labelled data (num_classes >= 1), got "
                f"num_classes={num_classes}. Pick a labelled dataset or an unconditional architecture."
            )
        if not arch.conditional:
            num_classes = 0
        g_params, g_any = _keywords(arch.generator)
        d_params, d_any = _keywords(arch.discriminator)
        kwargs = {**arch.defaults, **overrides}
        g_kwargs: dict[str, Any] = {}
        d_kwargs: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in ("data_shape", "num_classes"):
                raise ConfigError(f"{key!r} comes from the dataset; it cannot be set as a model option")
            to_g, to_d = key in g_params or g_any, key in d_params or d_any
            if not (to_g or to_d):
                options = sorted((g_params.keys() | d_params.keys()) - {"data_shape", "num_classes"})
                raise ConfigError(f"architecture {name!r} has no option {key!r}. Its options: {', '.join(options)}")
            try:
                json.dumps(value)
            except TypeError as exc:
                raise ConfigError(f"option {key}={value!r} of {name!r} must be JSON-serializable") from exc
            if to_g:
                g_kwargs[key] = value
            if to_d:
                d_kwargs[key] = value
        if "latent_dim" not in g_kwargs:
            default = g_params.get("latent_dim", inspect.Parameter.empty)
            g_kwargs["latent_dim"] = DEFAULT_LATENT_DIM if default is inspect.Parameter.empty else default
        # Record the constructors' own defaults too: a stored model must rebuild identically even
        # if a later plugin version changes a default.
        _fill_defaults(g_kwargs, g_params)
        _fill_defaults(d_kwargs, d_params)
        return ModelSpec(name, data_shape, num_classes, g_kwargs, d_kwargs)

    def build(self, spec: ModelSpec, *, meta: bool = False) -> tuple[Generator, Discriminator]:
        """Construct both networks from a spec and check them against the contract.

        Each constructor keyword is first checked against the kind of the constructor's default
        (a whole number where the default is one, ...), as ``-o`` options are. ``meta=True``
        builds on PyTorch's meta device: every parameter has its shape and dtype but no memory.
        That is how a spec read from a file is checked against the file's tensors before a
        network of whatever size it names exists. The contract's forward pass is skipped there
        (on meta it costs more than for real, and the tensors' shapes are what is compared).
        """
        from .errors import GanzooError

        arch = self.architecture(spec.architecture)
        plugin = self.architectures[spec.architecture].plugin
        g_kwargs = self._checked_keywords(arch, spec.architecture, arch.generator, spec.generator_kwargs)
        d_kwargs = self._checked_keywords(arch, spec.architecture, arch.discriminator, spec.discriminator_kwargs)

        def construct() -> tuple[Generator, Discriminator]:
            return (arch.generator(data_shape=spec.data_shape, num_classes=spec.num_classes, **g_kwargs),
                    arch.discriminator(data_shape=spec.data_shape, num_classes=spec.num_classes, **d_kwargs))

        try:
            if meta:
                with torch.device("meta"):
                    g, d = construct()
            else:
                g, d = construct()
        except GanzooError:
            raise
        except (TypeError, MemoryError, RuntimeError) as exc:  # a keyword it lacks, a size no memory holds
            if isinstance(exc, RuntimeError) and not _out_of_memory(exc):
                raise  # any other error is the plugin's own, for its author (and the conformance kit) to see
            detail = " ".join(str(exc).split())
            raise ConfigError(f"architecture {spec.architecture!r} (plugin {plugin!r}) rejected its arguments: "
                              f"{detail}") from exc
        if not meta:
            _check_contract(spec, g, d, plugin)
        g.ganzoo_spec = spec
        d.ganzoo_spec = spec
        return g, d

    def _checked_keywords(self, arch: Architecture, name: str, cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A constructor's keywords from a spec, each checked against the kind of its default (as -o options are)."""
        params, _ = _keywords(cls)
        checked: dict[str, Any] = {}
        for key, value in kwargs.items():
            default = params.get(key)
            if default is None or default is inspect.Parameter.empty:  # no default in the signature
                default = arch.defaults.get(key, DEFAULT_LATENT_DIM if key == "latent_dim" else None)
            checked[key] = check_like(f"model option {key} of {name!r}", value, default)
        return checked

    def create(self, name: str, data_shape: Iterable[int], num_classes: int = 0,
               **overrides: Any) -> tuple[Generator, Discriminator]:
        """Build architecture ``name`` for data of ``data_shape``: returns ``(G, D)``."""
        return self.build(self.resolve_spec(name, data_shape, num_classes, **overrides))


def _fill_defaults(kwargs: dict[str, Any], params: dict[str, Any]) -> None:
    for key, default in params.items():
        if key in kwargs or key in ("data_shape", "num_classes") or default is inspect.Parameter.empty:
            continue
        try:
            json.dumps(default)
        except TypeError:
            continue  # not storable; the constructor's default applies on rebuild
        kwargs[key] = default


def _keywords(cls: type) -> tuple[dict[str, Any], bool]:
    """The constructor's keyword parameters (name -> default) and whether it takes **kwargs."""
    params: dict[str, Any] = {}
    any_kw = False
    for klass in cls.__mro__:
        if klass in (Generator, Discriminator):
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        sig = inspect.signature(init)
        for p in list(sig.parameters.values())[1:]:
            if p.kind is p.VAR_KEYWORD:
                any_kw = True
            elif p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                params.setdefault(p.name, p.default)
        if not any_kw:
            break  # a constructor without **kwargs hides its parents' keywords
        any_kw = False
    base = Generator if issubclass(cls, Generator) else Discriminator
    for name in inspect.signature(base.__init__).parameters:
        if name != "self":
            params.setdefault(name, inspect.Parameter.empty)
    return params, any_kw


def _check_contract(spec: ModelSpec, g: Generator, d: Discriminator, plugin: str) -> None:
    """A small forward pass in eval mode: catches wrong shapes before any training.

    Two samples, or the smallest batch of at least two that D's ``batch_multiple`` divides.
    """
    where = f"architecture {spec.architecture!r} (plugin {plugin!r})"
    if not isinstance(g, Generator) or not isinstance(d, Discriminator):
        raise PluginError(f"{where}: constructors must return ganzoo.Generator and ganzoo.Discriminator")
    modes = (g.training, d.training)
    g.eval()
    d.eval()
    try:
        with torch.no_grad():
            n = math.lcm(2, d.batch_multiple)
            z = g.sample_latent(n)
            labels = torch.zeros(n, dtype=torch.long, device=z.device) if spec.num_classes else None
            x = g(z, labels)
            expected = (n, *spec.data_shape)
            if tuple(x.shape) != expected:
                raise PluginError(f"{where}: generator output has shape {tuple(x.shape)}, expected {expected}")
            logits = d(x, labels)
            if tuple(logits.shape) != (n,):
                raise PluginError(f"{where}: discriminator output has shape {tuple(logits.shape)}, expected ({n},) "
                                  "(one logit per sample)")
    finally:
        g.train(modes[0])
        d.train(modes[1])


def _out_of_memory(exc: BaseException) -> bool:
    """Whether torch failed to allocate memory (its allocators raise RuntimeError, not MemoryError)."""
    text = str(exc)
    return "can't allocate memory" in text or "out of memory" in text.lower()


def parse_loss_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"NAME:KEY=VALUE,KEY=VALUE"`` -> ``("NAME", {KEY: VALUE, ...})``; a bare name has no options."""
    base, sep, rest = spec.partition(":")
    options = parse_key_values(rest.split(","), f"loss {spec!r}: option", "non-saturating-r1:gamma=3") if sep else {}
    return base.strip(), options


def parse_augment_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"NAME:KEY=VALUE,KEY=VALUE"`` -> ``("NAME", {KEY: VALUE, ...})``, where a part without ``=``
    continues the value before it: ``policy=translation,cutout`` is one option."""
    base, sep, rest = spec.partition(":")
    if not sep:
        return base.strip(), {}
    parts: list[str] = []
    for part in rest.split(","):
        if parts and "=" not in part:
            parts[-1] += "," + part
        else:
            parts.append(part)
    return base.strip(), parse_key_values(parts, f"augmentation {spec!r}: option", "diffaugment:policy=color")


def _construct(kind: str, flag: str, spec: str, base: str, cls: Any, options: dict[str, Any]) -> Any:
    """An instance of the registered ``cls`` built from ``options``: each checked against the kind of its
    default, an option the constructor lacks refused with the ones it takes."""
    if not options:  # a class that cannot be built bare is the plugin's bug: let it show as such
        return cls()
    accepted = _loss_keywords(cls)
    unknown = sorted(set(options) - set(accepted)) if accepted is not None else []
    if unknown:
        takes = f"it takes {', '.join(sorted(accepted))}" if accepted else "it takes no options"
        raise ConfigError(f"{kind} {base!r} has no option {', '.join(unknown)}; {takes} "
                          f"(e.g. {flag} {base}" + (f":{sorted(accepted)[0]}=VALUE)" if accepted else ")"))
    for key, value in options.items():  # the kind of each option's default; the class checks ranges
        options[key] = check_like(f"{kind} {base!r} option {key}", value, (accepted or {}).get(key))
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{kind} {spec!r}: {exc}") from None


def _loss_keywords(cls: Any) -> dict[str, Any] | None:
    """The keyword options a loss class accepts, with their defaults; None when it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default) for p in params
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
