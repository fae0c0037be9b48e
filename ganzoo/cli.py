"""The ``ganzoo`` command line. It only parses and prints; the work is done by the library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import ConfigError, GanzooError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class GanzooGroup(click.Group):
    """Turns library and file-system errors into one clean line (exit 1) and Ctrl-C into exit 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanzooError as exc:
            if os.environ.get("GANZOO_DEBUG") or (ctx.obj or {}).get("debug"):
                raise
            raise _Failure(str(exc)) from None
        except OSError as exc:  # disk full, permissions, ... where no library call gave it a better message
            if os.environ.get("GANZOO_DEBUG") or (ctx.obj or {}).get("debug"):
                raise
            where = f": {exc.filename}" if exc.filename else ""
            raise _Failure(f"{exc.strerror or exc}{where}") from None
        except KeyboardInterrupt as exc:
            from .trainer import TrainingInterrupted

            if isinstance(exc, TrainingInterrupted) and exc.run_dir is not None:
                click.echo(f"Interrupted after step {exc.step}; the run is saved in {exc.run_dir}.\n"
                           f"Resume it with: ganzoo train --resume {exc.run_dir}", err=True)
            else:
                click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(130) from None


class _Failure(click.ClickException):
    exit_code = 1


def _registry_option(f: Any) -> Any:
    return click.option("--registry", "registry", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="Model registry root [default: $GANZOO_REGISTRY or ./registry].")(f)


@click.group(cls=GanzooGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="ganzoo")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """ganzoo: a plugin-based zoo of GANs with a local model registry.

    \b
    ganzoo list                      architectures, losses, datasets
    ganzoo train dcgan               train DCGAN on the bundled digits
    ganzoo sample dcgan-digits       draw samples from a stored model
    ganzoo models                    what the registry holds
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    cli(prog_name="ganzoo")


# -- list / plugins ----------------------------------------------------------------------------


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Dataset files, for the offline column [default: $GANZOO_DATA or the user data directory].")
def list_cmd(as_json: bool, data_dir: str | None) -> None:
    """List the registered architectures, losses and datasets."""
    from .catalog import get_catalog
    from .console import print_json, print_table
    from .data import DataOptions

    cat = get_catalog()
    options = DataOptions() if data_dir is None else DataOptions(data_dir=Path(data_dir))
    archs = [{"name": n, "plugin": r.plugin, "conditional": r.value.conditional, "paper": r.value.paper,
              "default_loss": r.value.default_loss, "description": r.value.description}
             for n, r in sorted(cat.architectures.items())]
    losses = [{"name": n, "plugin": r.plugin, "description": r.description} for n, r in sorted(cat.losses.items())]
    datasets = [{"name": n, "plugin": r.plugin, "shape": list(r.value.shape) if r.value.shape else None,
                 "size": r.value.size, "num_classes": r.value.num_classes, "available": r.value.is_available(options),
                 "description": r.value.description} for n, r in sorted(cat.datasets.items())]
    if as_json:
        print_json({"architectures": archs, "losses": losses, "datasets": datasets})
        return
    print_table("Architectures", ["name", "plugin", "conditional", "default loss", "paper", "description"],
                [[a["name"], a["plugin"], "yes" if a["conditional"] else "no", a["default_loss"], a["paper"],
                  a["description"]] for a in archs])
    print_table("Losses", ["name", "plugin", "description"], [[x["name"], x["plugin"], x["description"]]
                                                              for x in losses])
    print_table("Datasets", ["name", "plugin", "shape", "size", "classes", "offline", "description"],
                [[d["name"], d["plugin"], "x".join(map(str, d["shape"] or [])) or "?", d["size"], d["num_classes"],
                  "yes" if d["available"] else "no", d["description"]] for d in datasets])


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_cmd(as_json: bool) -> None:
    """List the loaded plugins, the hooks they implement, and any that failed."""
    from dataclasses import asdict

    from .catalog import get_catalog
    from .console import print_json, print_table

    cat = get_catalog()
    if as_json:
        print_json({"plugins": [asdict(p) for p in cat.plugins], "failures": [asdict(f) for f in cat.failures]})
        return
    print_table("Plugins", ["name", "module", "distribution", "version", "hooks"],
                [[p.name, p.module, p.distribution, p.version, ", ".join(p.hooks)] for p in cat.plugins])
    if cat.failures:
        print_table("Failed plugins", ["name", "distribution", "stage", "error"],
                    [[f.name, f.distribution, f.stage, f.error] for f in cat.failures])


# -- train -------------------------------------------------------------------------------------


def _parse_options(values: tuple[str, ...]) -> dict[str, Any]:
    """``-o key=value`` architecture options; values parsed as JSON when they can be (numbers, lists)."""
    import json

    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"model option {item!r} must look like KEY=VALUE, e.g. -o base_channels=32")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


# TrainConfig fields set from train's options of the same name (architecture and -o handled apart).
_TRAIN_FIELDS = ("dataset", "loss", "steps", "batch_size", "d_steps", "lr_g", "lr_d", "betas", "ema", "seed",
                 "device", "precision", "image_size", "data_dir", "log_every", "deterministic", "checkpoint_every")


@cli.command("train", context_settings=CONTEXT)
@click.argument("architecture", required=False)
@click.option("--dataset", default="digits", show_default=True, help="Registered dataset name (see `ganzoo list`).")
@click.option("--loss", default=None, help="Registered loss name [default: the architecture's default].")
@click.option("--steps", type=int, default=5000, show_default=True, help="Generator steps.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Samples per batch.")
@click.option("--d-steps", type=int, default=1, show_default=True,
              help="k: discriminator steps per generator step.")
@click.option("--lr-g", type=float, default=2e-4, show_default=True, help="Generator learning rate (Adam).")
@click.option("--lr-d", type=float, default=2e-4, show_default=True, help="Discriminator learning rate (Adam).")
@click.option("--betas", type=(float, float), default=(0.5, 0.999), show_default=True, help="Adam betas.")
@click.option("--ema", type=float, default=0.999, show_default=True,
              help="Decay of the generator's moving average (timm); 0 disables it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds weights, noise and data order.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="bf16 runs the networks under autocast (faster on recent hardware).")
@click.option("--image-size", type=int, default=None, help="Resize images once at load [default: native size].")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Dataset files [default: $GANZOO_DATA or the user data directory].")
@click.option("-o", "--option", "model_options", multiple=True, metavar="KEY=VALUE",
              help="Architecture hyperparameter, e.g. -o base_channels=32 (repeatable).")
@click.option("--log-every", type=int, default=50, show_default=True, help="Steps between metric records.")
@click.option("--deterministic", is_flag=True, help="Use deterministic algorithms for bit-exact reruns.")
@click.option("--checkpoint-every", type=int, default=0, show_default=True,
              help="Steps between run checkpoints (0: only when interrupted).")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where checkpoints go [default: runs/<name>-<YYYYmmdd-HHMMSS>].")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="RUN_DIR",
              help="Continue the run saved in RUN_DIR (its options apply; --steps may extend it).")
@_registry_option
@click.option("--name", default=None, help="Model name in the registry [default: <architecture>-<dataset>].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sample grid PNG [default: samples/<name>-v<version>.png].")
@click.option("--no-publish", is_flag=True, help="Do not store the model in the registry.")
@click.option("--eval-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Evaluate every N steps (as `ganzoo eval`); results go into the manifest. 0: never.")
@click.pass_context
def train_cmd(ctx: click.Context, architecture: str | None, model_options: tuple[str, ...], run_dir: Path | None,
              resume: Path | None, registry: Path | None, name: str | None, out: Path | None, no_publish: bool,
              eval_every: int, **options: Any) -> None:
    """Train ARCHITECTURE on a dataset, save a sample grid and publish the model to the registry.

    \b
    ganzoo train dcgan                         DCGAN on the bundled 8x8 digits
    ganzoo train gan --dataset ring8           vanilla GAN on 8 Gaussians
    ganzoo train cdcgan --d-steps 2 --loss hinge
    ganzoo train dcgan --checkpoint-every 500  checkpoint into runs/dcgan-digits-<time>/
    ganzoo train --resume runs/dcgan-digits-20250101-120000 --steps 8000
    """
    from click.core import ParameterSource

    from .api import default_model_name, generate, publish
    from .checkpoint import default_run_dir, resume_config
    from .console import ProgressCallback, console
    from .trainer import TrainConfig, fit
    from .visual import save_samples

    if resume is not None:
        # the saved run's options, with only those typed on this command line laid over them
        given = {k: options[k] for k in _TRAIN_FIELDS
                 if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
        if architecture is not None:
            given["architecture"] = architecture
        if model_options:
            given["model"] = _parse_options(model_options)
        config = resume_config(resume, given)
        run_dir = run_dir or resume
    else:
        if architecture is None:
            raise click.UsageError("missing argument ARCHITECTURE (or --resume RUN_DIR)")
        config = TrainConfig(architecture=architecture, model=_parse_options(model_options),
                             **{k: options[k] for k in _TRAIN_FIELDS})
    model_name = name or default_model_name(config)
    reg = None
    if not no_publish:
        from .registry import Registry

        reg = Registry(registry)
        reg.check_name(model_name)  # refuse a bad name or an unwritable registry before training, not after
        reg.check_writable()
    if run_dir is None:
        run_dir = default_run_dir(model_name)
    progress = ProgressCallback()
    callbacks: list[Any] = [progress]
    evaluator = None
    if eval_every:
        from .evaluation import EvalCallback
        from .registry import Registry

        def report(record: dict[str, Any]) -> None:
            for name, values in record.items():
                if name != "step":
                    shown = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in values.items())
                    progress.out.print(f"eval at step {record['step']} ({name}): {shown}")

        evaluator = EvalCallback(eval_every, (reg or Registry(registry)).root, report=report)
        callbacks.append(evaluator)
    try:
        result = fit(config, callbacks=callbacks, run_dir=run_dir, resume_from=resume)
    finally:
        progress.close()
    console.print(f"Trained {config.architecture} on {result.dataset.name} for {result.steps} steps "
                  f"in {result.seconds:.1f} s.")
    if config.checkpoint_every:
        console.print(f"Run checkpoint: {run_dir}")
    record = None
    if reg is not None:
        extra = {"evaluations": evaluator.records, "evaluation_protocol": evaluator.protocol} if evaluator else None
        record = publish(result, name=model_name, registry=reg, extra=extra)
        console.print(f"Published [bold]{record.ref}[/] to {record.path}")
    if out is None:
        out = Path("samples") / (f"{record.name}-v{record.version}.png" if record else f"{model_name}.png")
    from .api import _nrow, _reference

    grid = generate(result.best_generator, 64, seed=config.seed)
    path = save_samples(grid, out, nrow=_nrow(result.spec.num_classes), reference=_reference(result))
    console.print(f"Sample grid: {path}")


# -- sample ------------------------------------------------------------------------------------


@cli.command("sample")
@click.argument("ref")
@click.option("-n", "--n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("samples.png"),
              show_default=True, help="Output PNG.")
@click.option("--label", type=int, default=None, help="Class to generate (conditional models).")
@click.option("--seed", type=int, default=0, show_default=True, help="Latent seed.")
@click.option("--no-ema", is_flag=True, help="Use the raw generator instead of its moving average.")
@_registry_option
def sample_cmd(ref: str, n: int, out: Path, label: int | None, seed: int, no_ema: bool,
               registry: Path | None) -> None:
    """Generate samples from a stored model: NAME, NAME:VERSION, NAME@ALIAS or a .safetensors file."""
    from .api import _nrow, generate, load
    from .console import console
    from .visual import save_samples

    g = load(ref, registry=registry, ema=not no_ema)
    samples = generate(g, n, labels=label, seed=seed)
    nrow = 8 if label is not None else _nrow(g.num_classes)
    path = save_samples(samples, out, nrow=nrow)
    console.print(f"Wrote {n} samples from {ref} to {path}")


# -- eval --------------------------------------------------------------------------------------


@cli.command("eval")
@click.argument("ref")
@click.option("--samples", type=int, default=None,
              help="Generated and real samples [default: 2500 for 2-D mixtures, 2000 for images].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the samples drawn.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset files.")
@click.option("--no-save", is_flag=True, help="Do not write the results into the model's manifest.")
@click.option("--inception", is_flag=True, help="Inception FID/KID instead (needs: pip install 'ganzoo[fid]').")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_registry_option
def eval_cmd(ref: str, samples: int | None, seed: int, data_dir: str | None, no_save: bool, inception: bool,
             as_json: bool, registry: Path | None) -> None:
    """Evaluate a stored model on its dataset and record the numbers with it.

    2-D mixtures (ring8, grid25): modes covered, share of high-quality samples, reverse KL
    (VEEGAN/PacGAN protocol). Labelled images: Frechet distance, KID, precision/recall in the
    feature space of a classifier ganzoo trains once per dataset, class-histogram KL, and
    label accuracy for conditional models.
    """
    from .api import evaluate
    from .console import print_json, print_table

    if samples is not None and samples < 2:
        raise ConfigError(f"--samples must be at least 2, got {samples}")
    name, results = evaluate(ref, registry=registry, samples=samples, seed=seed, data_dir=data_dir,
                             save=not no_save, inception=inception)
    if as_json:
        print_json({"ref": ref, "metrics": name, **results})
        return
    protocol = results.get("protocol", {})
    print_table(f"{ref}: {name} metrics", ["metric", "value"],
                [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in results.items() if k != "protocol"])
    print_table("Protocol", ["field", "value"], [[k, v] for k, v in protocol.items()])


# -- models ------------------------------------------------------------------------------------


@cli.group("models", cls=GanzooGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_registry_option
@click.pass_context
def models_cmd(ctx: click.Context, as_json: bool, registry: Path | None) -> None:
    """List the models in the registry (subcommands: show, verify, alias, rm)."""
    ctx.ensure_object(dict)
    ctx.obj["registry"] = registry
    if ctx.invoked_subcommand is None:
        _list_models(registry, as_json)


def _list_models(registry: Path | None, as_json: bool) -> None:
    from .console import print_json, print_table
    from .registry import Registry

    reg = Registry(registry)
    records = reg.list()
    if as_json:
        print_json([{"name": r.name, "version": r.version, "ref": r.ref, "architecture": r.architecture,
                     "dataset": r.dataset, "steps": r.steps, "created": r.created, "aliases": list(r.aliases),
                     "path": str(r.path)} for r in records])
        return
    if not records:
        from .console import console

        console.print(f"No models in {reg.root}. Train one with: ganzoo train dcgan")
        return
    print_table(f"Models in {reg.root}", ["name", "version", "aliases", "architecture", "dataset", "steps", "created"],
                [[r.name, r.version, ",".join(r.aliases), r.architecture, r.dataset, r.steps, r.created]
                 for r in records])


def _reg(ctx: click.Context, registry: Path | None) -> Any:
    from .registry import Registry

    return Registry(registry or (ctx.obj or {}).get("registry"))


@models_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_registry_option
@click.pass_context
def models_list(ctx: click.Context, as_json: bool, registry: Path | None) -> None:
    """List the models in the registry."""
    _list_models(registry or (ctx.obj or {}).get("registry"), as_json)


@models_cmd.command("show")
@click.argument("ref")
@_registry_option
@click.pass_context
def models_show(ctx: click.Context, ref: str, registry: Path | None) -> None:
    """Print a stored model's manifest as JSON."""
    from .console import print_json

    print_json(_reg(ctx, registry).manifest(ref))


@models_cmd.command("verify")
@_registry_option
@click.pass_context
def models_verify(ctx: click.Context, registry: Path | None) -> None:
    """Check every stored file against its recorded size and sha256."""
    from .console import console

    reg = _reg(ctx, registry)
    problems = reg.verify()
    for p in problems:
        click.echo(p, err=True)
    if problems:
        raise _Failure(f"{len(problems)} problem(s) in {reg.root}")
    console.print(f"All {len(reg.list())} model version(s) in {reg.root} verified.")


@models_cmd.command("alias")
@click.argument("ref")
@click.argument("alias")
@_registry_option
@click.pass_context
def models_alias(ctx: click.Context, ref: str, alias: str, registry: Path | None) -> None:
    """Point ALIAS (e.g. best) at REF."""
    from .console import console

    record = _reg(ctx, registry).set_alias(ref, alias)
    console.print(f"{record.name}@{alias} -> {record.ref}")


@models_cmd.command("rm")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_registry_option
@click.pass_context
def models_rm(ctx: click.Context, ref: str, yes: bool, registry: Path | None) -> None:
    """Remove one stored model version."""
    from .console import console

    reg = _reg(ctx, registry)
    record = reg.resolve(ref)
    if not yes:
        click.confirm(f"Remove {record.ref} ({record.path})?", abort=True)
    reg.remove(record.ref)
    console.print(f"Removed {record.ref}")
