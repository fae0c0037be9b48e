"""Plugin loading: the installed plugins' registrations gathered into a :class:`Catalog`.

The catalog itself (lookups, building models) is :mod:`ganzoo.registrations`; its names are
also importable from here. Plugins are found through the ``ganzoo`` entry-point group, built-ins included: the
families in ``plugins/`` and the core's losses and datasets go through exactly the
path a third-party package uses. A plugin that fails to import or register, or that
implements a hook ganzoo does not have (a misspelt name), is recorded and skipped
(``ganzoo plugins`` shows it), unless ``GANZOO_STRICT_PLUGINS=1``.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import os
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from . import hookspecs
from .augment import Augmentation
from .data.core import DatasetSpec
from .errors import ConfigError, PluginError, PluginWarning
from .locations import NAME_KINDS, catalog_key, write_catalog_names
from .losses import Loss
from .models import Architecture, check_name, check_train_defaults
from .registrations import (
    DEFAULT_LATENT_DIM,
    Catalog,
    PluginFailure,
    PluginInfo,
    Registered,
    parse_augment_spec,
    parse_loss_spec,
)

__all__ = ["DEFAULT_LATENT_DIM", "Catalog", "PluginFailure", "PluginInfo", "Registered", "get_catalog", "load_catalog",
           "parse_augment_spec", "parse_loss_spec", "reset_catalog"]

ENTRY_POINT_GROUP = "ganzoo"
CORE_PLUGIN = "core"
BUILTIN_DISTRIBUTION = "ganzoo"  # its entry points are the built-ins: they register before any other plugin
SLOW_IMPORT_S = 1.0  # a plugin whose import takes longer is named by ``ganzoo plugins``
HOOKS = ("register_losses", "register_datasets", "register_architectures", "register_augmentations")


def _env_list(var: str) -> set[str]:
    return {s.strip() for s in os.environ.get(var, "").split(",") if s.strip()}


def load_catalog(
    *,
    plugins: Iterable[tuple[str, object]] | None = None,
    entry_points: bool = True,
    strict: bool | None = None,
    disabled: Iterable[str] | None = None,
) -> Catalog:
    """Discover plugins and collect their registrations into a fresh :class:`Catalog`.

    ``plugins`` adds ``(name, module_or_object)`` pairs after the entry points (tests
    use it for throwaway plugins). ``strict`` (default: ``$GANZOO_STRICT_PLUGINS``)
    turns any plugin failure into a :class:`PluginError`. ``disabled`` (default:
    ``$GANZOO_DISABLE_PLUGINS``, comma-separated) skips plugins by name.

    The built-ins (the entry points of the ``ganzoo`` distribution, ``core`` first) load and
    register before any other plugin, so a third-party plugin that registers a built-in name is
    the one refused. Whatever a plugin raises at import or in a hook, ``SystemExit`` included,
    is recorded as its failure; only ``KeyboardInterrupt`` goes through. Each import is timed
    (``PluginInfo.import_seconds``).
    """
    if strict is None:
        strict = os.environ.get("GANZOO_STRICT_PLUGINS", "") not in ("", "0", "false", "no")
    skip = set(disabled) if disabled is not None else _env_list("GANZOO_DISABLE_PLUGINS")
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    catalog = Catalog()
    info: dict[str, PluginInfo] = {}

    candidates: list[tuple[str, Callable[[], object], str | None, str | None]] = []
    if entry_points:
        eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_load_order)
        seen: dict[str, str | None] = {}
        for ep in eps:
            found = ep.dist
            dist, version = (found.name, found.version) if found else (None, None)
            if ep.name in seen:
                if seen[ep.name] != dist and not (ep.name in skip or (dist and dist in skip)):
                    catalog.failures.append(PluginFailure(ep.name, "import", _taken_message(ep.name, dist,
                                                                                            seen[ep.name]),
                                                          dist, version))
                continue  # else the same distribution, visible twice on sys.path
            seen[ep.name] = dist
            candidates.append((ep.name, ep.load, dist, version))
    for name, obj in plugins or ():
        candidates.append((name, _constant(obj), None, None))

    for name, load, dist, version in candidates:
        if name in skip or (dist and dist in skip):
            continue
        started = time.perf_counter()
        try:
            obj = load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # any import failure is the plugin's, not ours; sys.exit() included
            catalog.failures.append(PluginFailure(name, "import", _one_line(exc), dist, version))
            continue
        seconds = round(time.perf_counter() - started, 3)
        try:
            pm.register(obj, name=name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # e.g. a hookimpl with a wrong signature
            catalog.failures.append(PluginFailure(name, "register", _one_line(exc), dist, version))
            continue
        unknown = _unknown_hooks(pm, obj)
        if unknown:  # what pm.check_pending() checks, for this plugin alone: the others keep loading
            pm.unregister(obj)
            catalog.failures.append(PluginFailure(name, "hooks", _unknown_hooks_message(name, unknown), dist,
                                                  version))
            continue
        module = getattr(obj, "__name__", type(obj).__name__)
        info[name] = PluginInfo(name, module, dist, version,
                                sorted(h.name for h in pm.get_hookcallers(obj) or ()), seconds)

    order = list(info)
    tables = {"register_architectures": catalog.architectures, "register_losses": catalog.losses,
              "register_datasets": catalog.datasets, "register_augmentations": catalog.augmentations}
    failed: set[str] = set()
    for hook in HOOKS:
        impls = {impl.plugin_name: impl for impl in getattr(pm.hook, hook).get_hookimpls()}
        for plugin_name in order:
            if plugin_name not in impls or plugin_name in failed:
                continue
            staged: dict[str, Registered] = {}
            register = _registrar(hook, plugin_name, tables[hook], staged)
            try:
                # Called plugin by plugin, not through pm.hook (which calls every plugin with one
                # argument, newest first, and stops at the first exception): each plugin gets its own
                # ``register``, so every registration and failure is attributed to the plugin that made
                # it, a plugin that raises loses only its own registrations, the others are still
                # called, and plugins run in discovery order (core first; the first of a duplicate wins).
                impls[plugin_name].function(register=register)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a failing plugin is isolated, its registrations dropped
                p = info[plugin_name]
                catalog.failures.append(PluginFailure(plugin_name, hook, _one_line(exc), p.distribution, p.version))
                failed.add(plugin_name)
                continue
            tables[hook].update(staged)

    for name, reg in list(catalog.architectures.items()):
        loss = reg.value.default_loss
        if loss not in catalog.losses:
            del catalog.architectures[name]
            p = info[reg.plugin]
            catalog.failures.append(PluginFailure(
                reg.plugin, "register_architectures",
                f"architecture {name!r}: default loss {loss!r} is not registered "
                f"(available: {', '.join(sorted(catalog.losses))})", p.distribution, p.version))
    catalog.plugins = [p for p in info.values() if p.name not in failed]
    if strict and catalog.failures:
        lines = "; ".join(f"{f.name} ({f.stage}): {f.error}" for f in catalog.failures)
        raise PluginError(f"plugin failures with GANZOO_STRICT_PLUGINS set: {lines}")
    if entry_points and plugins is None and disabled is None:  # the installed plugins: what completion offers
        write_catalog_names({kind: {name: reg.description for name, reg in getattr(catalog, kind, {}).items()}
                             for kind in NAME_KINDS}, catalog_key(eps))
    return catalog


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The names of ``plugin``'s hook implementations that match no hook specification."""
    return sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or ()
        if not caller.has_spec()
        and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )


def _unknown_hooks_message(plugin: str, unknown: list[str]) -> str:
    """One line naming each unknown hook of ``plugin``, a known hook it may have meant, and every known hook."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"plugin {plugin!r} implements {', '.join(parts)}, which "
            f"{'is not a ganzoo hook' if len(unknown) == 1 else 'are not ganzoo hooks'}; "
            f"known hooks: {', '.join(sorted(HOOKS))}. Give {'it' if len(unknown) == 1 else 'each'} "
            "the name of a known hook")


def _registrar(hook: str, plugin: str, table: dict[str, Registered],
               staged: dict[str, Registered]) -> Callable[..., None]:
    """The ``register`` callback handed to one plugin's hook: validates, refuses duplicates."""

    def check_new(kind: str, name: str) -> None:
        other = table.get(name) or staged.get(name)
        if other is not None:
            raise PluginError(f"duplicate {kind} name {name!r}: registered by plugin {other.plugin!r} "
                              f"and again by plugin {plugin!r}")

    if hook == "register_architectures":
        def register_architecture(arch: Architecture) -> None:
            if not isinstance(arch, Architecture):
                raise ConfigError(f"register() takes a ganzoo.Architecture, got {type(arch).__name__}")
            check_new("architecture", arch.name)
            check_train_defaults(arch.name, arch.train_defaults)  # again: the dict may have changed since
            staged[arch.name] = Registered(arch.name, plugin, arch, arch.description)
        return register_architecture

    if hook == "register_datasets":
        def register_dataset(spec: DatasetSpec) -> None:
            if not isinstance(spec, DatasetSpec):
                raise ConfigError(f"register() takes a ganzoo.DatasetSpec, got {type(spec).__name__}")
            check_new("dataset", spec.name)
            staged[spec.name] = Registered(spec.name, plugin, spec, spec.description)
        return register_dataset

    if hook == "register_augmentations":
        def register_augmentation(name: str, augmentation_cls: type[Augmentation], description: str = "") -> None:
            check_name("augmentation", name)
            _check_implementation("augmentation", name, augmentation_cls, Augmentation)
            check_new("augmentation", name)
            staged[name] = Registered(name, plugin, augmentation_cls, description)
        return register_augmentation

    def register_loss(name: str, loss_cls: type[Loss], description: str = "") -> None:
        check_name("loss", name)
        _check_implementation("loss", name, loss_cls, Loss)
        check_new("loss", name)
        staged[name] = Registered(name, plugin, loss_cls, description)
    return register_loss


def _constant(obj: object) -> Callable[[], object]:
    return lambda: obj


def _load_order(ep: importlib.metadata.EntryPoint) -> tuple[int, str]:
    """Built-ins first (``core`` before the others), then every other plugin; by name within each."""
    builtin = ep.dist is not None and _canonical(ep.dist.name) == BUILTIN_DISTRIBUTION
    return (0 if builtin and ep.name == CORE_PLUGIN else 1 if builtin else 2), ep.name


def _canonical(dist: str) -> str:
    return dist.lower().replace("_", "-").replace(".", "-")


def _taken_message(name: str, dist: str | None, holder: str | None) -> str:
    return (f"the plugin name {name!r} of distribution {dist or '(unknown)'} is already the name of a plugin of "
            f"distribution {holder or '(unknown)'}, so it was not loaded; give its entry point another name "
            "in its [project.entry-points.ganzoo] table")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({exc.code!r}); a plugin must raise an exception instead"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_CATALOG: Catalog | None = None


def _check_implementation(kind: str, name: str, cls: Any, base: type[Any]) -> None:
    """A registered class must be a concrete subclass of the public interface ``base``."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{kind} {name!r}: expected a subclass of ganzoo.{base.__name__}, got {cls!r}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise ConfigError(f"{kind} {name!r}: {cls.__name__} does not implement {missing}")


def get_catalog() -> Catalog:
    """The process-wide catalog, loaded on first use. Plugins that failed are announced once, as a
    :class:`~ganzoo.errors.PluginWarning` (one line naming them and ``ganzoo plugins``)."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = load_catalog()
        if _CATALOG.failures:
            names = ", ".join(f"{f.name} ({f.stage}: {f.error})" for f in _CATALOG.failures)
            many = len({f.name for f in _CATALOG.failures}) > 1
            warnings.warn(PluginWarning(f"plugin{'s' if many else ''} left out: {names}; details: ganzoo plugins"),
                          stacklevel=2)
    return _CATALOG


def reset_catalog() -> None:
    """Forget the process-wide catalog (the next ``get_catalog`` reloads plugins)."""
    global _CATALOG
    _CATALOG = None


