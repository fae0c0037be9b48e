"""``ganzoo list`` and ``ganzoo plugins``: what the loaded plugins registered, and the plugins themselves."""

from __future__ import annotations

from pathlib import Path

import click

from .base import CONTEXT

__all__ = ["list_cmd", "plugins_cmd"]


@click.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Dataset files, for the offline column [default: $GANZOO_DATA or the user data directory].")
def list_cmd(as_json: bool, data_dir: str | None) -> None:
    """List the registered architectures, losses, datasets and augmentations."""
    from ..catalog import get_catalog
    from ..data import DataOptions
    from .output import print_json, print_table

    cat = get_catalog()
    options = DataOptions() if data_dir is None else DataOptions(data_dir=Path(data_dir))
    archs = [{"name": n, "plugin": r.plugin, "conditional": r.value.conditional, "paper": r.value.paper,
              "default_loss": r.value.default_loss, "train_defaults": dict(r.value.train_defaults),
              "description": r.value.description}
             for n, r in sorted(cat.architectures.items())]
    losses = [{"name": n, "plugin": r.plugin, "description": r.description} for n, r in sorted(cat.losses.items())]
    datasets = [{"name": n, "plugin": r.plugin, "shape": list(r.value.shape) if r.value.shape else None,
                 "size": r.value.size, "num_classes": r.value.num_classes, "available": r.value.is_available(options),
                 "description": r.value.description} for n, r in sorted(cat.datasets.items())]
    augmentations = [{"name": n, "plugin": r.plugin, "description": r.description}
                     for n, r in sorted(cat.augmentations.items())]
    if as_json:
        print_json({"architectures": archs, "losses": losses, "datasets": datasets, "augmentations": augmentations})
        return
    print_table("Architectures", ["name", "plugin", "conditional", "default loss", "paper", "description"],
                [[a["name"], a["plugin"], "yes" if a["conditional"] else "no", a["default_loss"], a["paper"],
                  a["description"]] for a in archs])
    print_table("Losses", ["name", "plugin", "description"], [[x["name"], x["plugin"], x["description"]]
                                                              for x in losses])
    print_table("Datasets", ["name", "plugin", "shape", "size", "classes", "offline", "description"],
                [[d["name"], d["plugin"], "x".join(map(str, d["shape"] or [])) or "?", d["size"], d["num_classes"],
                  "yes" if d["available"] else "no", d["description"]] for d in datasets])
    print_table("Augmentations", ["name", "plugin", "description"],
                [[x["name"], x["plugin"], x["description"]] for x in augmentations])


@click.command("plugins", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_cmd(as_json: bool) -> None:
    """List the loaded plugins, the hooks they implement, and any that failed."""
    from dataclasses import asdict

    from ..catalog import SLOW_IMPORT_S, get_catalog
    from .output import print_json, print_table, say

    cat = get_catalog()
    for p in cat.plugins:  # every command waits for these imports: name the slow ones
        if p.import_seconds > SLOW_IMPORT_S:
            say(f"Warning: importing plugin {p.name!r} took {p.import_seconds:.1f} s, which every ganzoo command "
                f"waits for; skip it with GANZOO_DISABLE_PLUGINS={p.name}", err=True)
    if as_json:
        print_json({"plugins": [asdict(p) for p in cat.plugins], "failures": [asdict(f) for f in cat.failures]})
        return
    print_table("Plugins", ["name", "module", "distribution", "version", "import s", "hooks"],
                [[p.name, p.module, p.distribution, p.version, f"{p.import_seconds:.2f}", ", ".join(p.hooks)]
                 for p in cat.plugins])
    if cat.failures:
        print_table("Failed plugins", ["name", "distribution", "stage", "error"],
                    [[f.name, f.distribution, f.stage, f.error] for f in cat.failures])
