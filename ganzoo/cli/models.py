"""``ganzoo models``: list, show, verify, reindex, alias, rm, export, import. It only parses and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .base import Failure, GanzooGroup, registry_option
from .complete import complete_model_refs

__all__ = ["models_cmd"]


EXPORT_FORMATS = ("ganzoo", "onnx", "torchscript")  # ganzoo.registry.transfer.FORMATS, without importing torch
SORT_HELP = ("Order by a stored score, best first (distances lowest first), e.g. classifier.fd, "
             "mixture.high_quality, or a bare metric such as fd when only one metric set has it.")


@click.group("models", cls=GanzooGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--sort", "sort", default=None, metavar="SCORE", help=SORT_HELP)
@registry_option
@click.pass_context
def models_cmd(ctx: click.Context, as_json: bool, sort: str | None, registry: Path | None) -> None:
    """List the models in the registry (subcommands: init, show, verify, reindex, alias, rm, export, import)."""
    ctx.ensure_object(dict)
    ctx.obj["registry"] = registry
    if ctx.invoked_subcommand is None:
        _list_models(registry, as_json, sort)


def _list_models(registry: Path | None, as_json: bool, sort: str | None = None) -> None:
    from ..errors import GanzooError
    from ..registry import Registry
    from ..registry.scores import headline_scores, resolve_score, sort_by_score
    from .output import print_json, print_table

    reg = Registry(registry)
    rows = []
    for r in reg.list():
        try:
            scores = headline_scores(reg.read_manifest(r).metrics)
        except GanzooError:  # a damaged manifest: listed without scores (`ganzoo models verify` says why)
            scores = {}
        rows.append((r, scores))
    columns = sorted({name for _, scores in rows for name in scores})
    if sort is not None:
        rows = sort_by_score(rows, resolve_score(sort, columns))
    if as_json:
        print_json([{"name": r.name, "version": r.version, "ref": r.ref, "architecture": r.architecture,
                     "dataset": r.dataset, "steps": r.steps, "created": r.created, "aliases": list(r.aliases),
                     "path": str(r.path), "scores": scores} for r, scores in rows])
        return
    from .output import say

    say(f"Registry: {reg.root} ({reg.reason})", err=True, style="dim")
    if not rows:
        say(f"No models in {reg.root}. Train one with: ganzoo train dcgan")
        return
    print_table(f"Models in {reg.root}",
                ["name", "version", "aliases", "architecture", "dataset", "steps", "created", *columns],
                [[r.name, r.version, ",".join(r.aliases), r.architecture, r.dataset, r.steps, r.created,
                  *(f"{scores[c]:.4g}" if c in scores else "" for c in columns)] for r, scores in rows])


def _reg(ctx: click.Context, registry: Path | None) -> Any:
    from ..registry import Registry

    return Registry(registry or (ctx.obj or {}).get("registry"))


@models_cmd.command("init")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def models_init(ctx: click.Context, folder: Path | None) -> None:
    """Make DIR (default: ./registry) an empty project registry, found from the folders below its parent."""
    from ..locations import PROJECT_FOLDER, init_registry
    from .output import say

    root, created = init_registry(folder or (ctx.obj or {}).get("registry") or PROJECT_FOLDER)
    if root.name == PROJECT_FOLDER:
        using = (f"commands run in {root.parent} or a folder below it use it "
                 "(unless --registry or $GANZOO_REGISTRY names another)")
    else:
        using = (f"only a folder named {PROJECT_FOLDER} is found from the folders below it, so name this one "
                 f"with --registry {root} or GANZOO_REGISTRY={root}")
    say(f"{'Created an empty registry in' if created else 'Already a registry:'} {root}; {using}")


@models_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--sort", "sort", default=None, metavar="SCORE", help=SORT_HELP)
@registry_option
@click.pass_context
def models_list(ctx: click.Context, as_json: bool, sort: str | None, registry: Path | None) -> None:
    """List the models in the registry, with the scores of their stored evaluations."""
    _list_models(registry or (ctx.obj or {}).get("registry"), as_json, sort)


@models_cmd.command("show")
@click.argument("ref", shell_complete=complete_model_refs)
@registry_option
@click.pass_context
def models_show(ctx: click.Context, ref: str, registry: Path | None) -> None:
    """Print a stored model's manifest as JSON."""
    from .output import print_json

    print_json(_reg(ctx, registry).manifest(ref))


@models_cmd.command("verify")
@registry_option
@click.pass_context
def models_verify(ctx: click.Context, registry: Path | None) -> None:
    """Check every stored file against its recorded size and sha256."""
    from .output import say

    reg = _reg(ctx, registry)
    problems = reg.verify()
    for p in problems:
        say(p, err=True)
    if problems:
        raise Failure(f"{len(problems)} problem(s) in {reg.root}")
    say(f"All {len(reg.list())} model version(s) in {reg.root} verified.")


@models_cmd.command("reindex")
@registry_option
@click.pass_context
def models_reindex(ctx: click.Context, registry: Path | None) -> None:
    """Rebuild index.sqlite from the manifests in models/ (after the index was damaged or lost).

    Every version whose manifest and files verify is indexed again; aliases the old index still
    shows are kept, and every model keeps latest. Nothing under models/ is changed; what does
    not verify is listed and left out.
    """
    from .output import say

    reg = _reg(ctx, registry)
    report = reg.reindex()
    for line in report.skipped:
        say(line, err=True)
    say(f"Rebuilt the index of {reg.root} from {len(report.records)} version(s)"
        + (f"; {len(report.skipped)} left out (listed above)" if report.skipped else ""))
    if report.old_index is not None:
        say(f"The unreadable index was kept as {report.old_index}; delete it when you no longer need it")


@models_cmd.command("alias")
@click.argument("ref", shell_complete=complete_model_refs)
@click.argument("alias")
@registry_option
@click.pass_context
def models_alias(ctx: click.Context, ref: str, alias: str, registry: Path | None) -> None:
    """Point ALIAS (e.g. best) at REF."""
    from .output import say

    record = _reg(ctx, registry).set_alias(ref, alias)
    say(f"{record.name}@{alias} -> {record.ref}")


@models_cmd.command("rm")
@click.argument("ref", shell_complete=complete_model_refs)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@registry_option
@click.pass_context
def models_rm(ctx: click.Context, ref: str, yes: bool, registry: Path | None) -> None:
    """Remove a version (NAME:VERSION; NAME is its latest) or only an alias (NAME@ALIAS).

    \b
    ganzoo models rm dcgan-digits:3       remove version 3 and its files
    ganzoo models rm dcgan-digits@best    remove the alias only; version and files stay
    """
    from ..registry import parse_ref
    from .output import say

    reg = _reg(ctx, registry)
    record = reg.resolve(ref)
    alias = parse_ref(ref).alias
    if alias is not None:
        if alias == "latest":
            reg.remove_alias(ref)  # refused, with the reason, before any question
        if not yes:
            click.confirm(f"Remove the alias {ref} (it points to {record.ref}, which stays)?", abort=True)
        kept = reg.remove_alias(ref)
        say(f"Removed the alias {ref}; {kept.ref} is kept")
        return
    if not yes:
        aliases = f", aliases: {', '.join(record.aliases)}" if record.aliases else ""
        click.confirm(f"Remove {record.ref} and its files ({record.path}{aliases})?", abort=True)
    reg.remove(record.ref)
    say(f"Removed {record.ref}")


@models_cmd.command("export")
@click.argument("ref", shell_complete=complete_model_refs)
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="ganzoo", show_default=True,
              help="ganzoo: a folder ganzoo loads and imports; onnx, torchscript: the generator alone, run without "
                   "ganzoo.")
@click.option("--license", "license_id", default=None, metavar="ID",
              help="License to state in README.md, e.g. mit or cc-by-4.0 [default: the stored one, else other].")
@registry_option
@click.pass_context
def models_export(ctx: click.Context, ref: str, folder: Path, fmt: str, license_id: str | None,
                  registry: Path | None) -> None:
    """Export REF to FOLDER: a folder for ganzoo, or the generator alone as ONNX or TorchScript.

    \b
    ganzoo models export dcgan-digits out                       for ganzoo: import it, sample it
    ganzoo models export dcgan-digits out --format onnx         generator.onnx: onnxruntime only
    ganzoo models export dcgan-digits out --format torchscript  generator.pt: PyTorch only
    """
    from .output import say

    if fmt == "ganzoo":
        from ..registry.transfer import export_model

        path = export_model(ref, folder, registry=_reg(ctx, registry), license=license_id)
    else:
        from ..registry.deploy import export_generator

        path = export_generator(ref, folder, format=fmt, registry=_reg(ctx, registry), license=license_id)
    say(f"Exported {ref} to {path}" + ("" if fmt == "ganzoo" else f" ({fmt})"))


@models_cmd.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name in this registry [default: the exported model's name].")
@registry_option
@click.pass_context
def models_import(ctx: click.Context, folder: Path, name: str | None, registry: Path | None) -> None:
    """Store an exported FOLDER as a new version, after checking every file's sha256."""
    from ..registry.transfer import import_model
    from .output import say

    record = import_model(folder, name=name, registry=_reg(ctx, registry))
    say(f"Imported {folder} as {record.ref} ({record.path})")
