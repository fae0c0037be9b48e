"""The ``ganzoo`` command line. It only parses and prints; the work is done by the library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_base import CONTEXT, Failure, GanzooGroup, registry_option
from .cli_models import models_cmd
from .errors import ConfigError

# The shared pieces live in cli_base so that command groups in other modules (cli_models) use them too.
_Failure = Failure
_registry_option = registry_option


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
_TRAIN_FIELDS = ("dataset", "loss", "steps", "batch_size", "d_steps", "lr_g", "lr_d", "lr_decay", "betas", "ema",
                 "seed", "device", "precision", "image_size", "data_dir", "log_every", "deterministic",
                 "checkpoint_every", "channels_last", "reuse_fake", "fused_adam", "compile")


def _load_config_file(ctx: click.Context, path: Path | None) -> None:
    """--config: the file's options become this command's defaults, so options typed here still win."""
    if path is None:
        return
    from .trainopts import read_train_file

    params = {p.name: p for p in ctx.command.params if p.name not in ("config_file", "from_ref", "resume")}
    options = read_train_file(path, known=(set(params) - {"model_options"}) | {"model"})
    ctx.meta["ganzoo.config_model"] = options.pop("model", {})
    defaults = {}
    for key, value in options.items():
        try:  # checked and converted as the same option typed on the command line would be
            defaults[key] = params[key].type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise ConfigError(f"config file {path}: {key} = {value!r} is invalid: {exc.message}") from None
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


@cli.command("train", context_settings=CONTEXT)
@click.argument("architecture", required=False)
@click.option("--dataset", default="digits", show_default=True, help="Registered dataset name (see `ganzoo list`).")
@click.option("--loss", default=None,
              help="Registered loss, NAME or NAME:KEY=VALUE,... e.g. non-saturating-r1:gamma=3 "
                   "[default: the architecture's default].")
@click.option("--steps", type=int, default=5000, show_default=True, help="Generator steps.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Samples per batch.")
@click.option("--d-steps", type=int, default=1, show_default=True,
              help="k: discriminator steps per generator step.")
@click.option("--lr-g", type=float, default=2e-4, show_default=True, help="Generator learning rate (Adam).")
@click.option("--lr-d", type=float, default=2e-4, show_default=True, help="Discriminator learning rate (Adam).")
@click.option("--lr-decay", type=float, default=0.0, show_default=True, metavar="FRACTION",
              help="Both learning rates fall linearly towards 0 over this last share of the steps; 0: constant.")
@click.option("--betas", type=(float, float), default=(0.5, 0.999), show_default=True, help="Adam betas.")
@click.option("--ema", type=float, default=0.999, show_default=True,
              help="Decay of the generator's moving average (timm); 0 disables it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds weights, noise and data order.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="bf16 runs the networks under autocast (faster on recent hardware).")
@click.option("--channels-last", is_flag=True, help="Keep images and conv weights in NHWC layout (faster convs).")
@click.option("--reuse-fake", is_flag=True,
              help="G's step reuses D's generated batch: one G forward fewer (pytorch/examples' DCGAN).")
@click.option("--fused-adam", is_flag=True, help="Adam's fused kernel: one pass over all weights.")
@click.option("--compile", is_flag=True, help="torch.compile G and D (slow first steps; pays off on GPUs).")
@click.option("--fast", is_flag=True,
              help="The fast path: --precision bf16 --channels-last --reuse-fake --fused-adam.")
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
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train in N local processes (torch.distributed via torchrun; batch size is per process).")
@click.option("--eval-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Evaluate every N steps (as `ganzoo eval`); results go into the manifest. 0: never.")
@click.option("--sample-every", type=click.IntRange(min=0), default=500, show_default=True,
              help="Steps between sample grids in the run folder (samples/step-N.png). 0: only at the end.")
@click.option("--logger", type=click.Choice(["files", "tensorboard"]), default="files", show_default=True,
              help="files: config.json, metrics.jsonl and grids in the run folder; tensorboard: TensorBoard "
                   "events there too (pip install 'ganzoo[tensorboard]').")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
              expose_value=False, callback=lambda ctx, param, value: _load_config_file(ctx, value),
              help="Read options from a TOML file (keys as these options; a [model] table for -o); "
                   "options on the command line win.")
@click.option("--from", "from_ref", default=None, metavar="REF",
              help="Retrain with the options recorded with the stored model REF; options given here win.")
@click.pass_context
def train_cmd(ctx: click.Context, architecture: str | None, model_options: tuple[str, ...], run_dir: Path | None,
              resume: Path | None, registry: Path | None, name: str | None, out: Path | None, no_publish: bool,
              eval_every: int, fast: bool, nproc: int, **options: Any) -> None:
    """Train ARCHITECTURE on a dataset, save a sample grid and publish the model to the registry.

    \b
    ganzoo train dcgan                         DCGAN on the bundled 8x8 digits
    ganzoo train gan --dataset ring8           vanilla GAN on 8 Gaussians
    ganzoo train cdcgan --d-steps 2 --loss hinge
    ganzoo train dcgan --checkpoint-every 500  checkpoint into runs/dcgan-digits-<time>/
    ganzoo train --resume runs/dcgan-digits-20250101-120000 --steps 8000
    ganzoo train --config run.toml --seed 1    options from a TOML file, the seed from here
    ganzoo train --from dcgan-digits --steps 8000   retrain with a stored model's options
    """
    _train(ctx, architecture, model_options, run_dir, resume, registry, name, out, no_publish, eval_every, fast,
           nproc, options)


def _without_option(argv: list[str], option: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def _train(ctx: click.Context, architecture: str | None, model_options: tuple[str, ...], run_dir: Path | None,
           resume: Path | None, registry: Path | None, name: str | None, out: Path | None, no_publish: bool,
           eval_every: int, fast: bool, nproc: int, options: dict[str, Any]) -> None:
    import json

    from click.core import ParameterSource

    from .checkpoint import read_run_logging, resume_config
    from .trainer import FAST_PATH, TrainConfig, fit

    from_ref, sample_every, logger = options.pop("from_ref"), options.pop("sample_every"), options.pop("logger")
    model_layers = [ctx.meta.get("ganzoo.config_model", {})]  # lowest first; -o on the command line tops them
    if (from_ref is not None or "ganzoo.config_model" in ctx.meta) and resume is not None:
        raise click.UsageError("--config and --from start a new run; with --resume the run's own options apply")
    if from_ref is not None:  # the recorded options fill in what neither the command line nor --config set
        from .trainopts import recorded_options

        recorded = recorded_options(from_ref, registry)
        if ctx.get_parameter_source("architecture") == ParameterSource.DEFAULT:
            architecture = recorded.get("architecture")
        options.update({k: tuple(v) if k == "betas" else v for k, v in recorded.items()
                        if k in _TRAIN_FIELDS and ctx.get_parameter_source(k) == ParameterSource.DEFAULT})
        model_layers.insert(0, recorded.get("model") or {})
    if any(model_layers):
        merged = {k: v for layer in model_layers for k, v in layer.items()} | _parse_options(model_options)
        model_options = tuple(f"{k}={json.dumps(v)}" for k, v in merged.items())
    if fast:  # a preset: options typed out beside it win
        options.update({k: v for k, v in FAST_PATH.items()
                        if ctx.get_parameter_source(k) != ParameterSource.COMMANDLINE})
    if resume is not None:
        # the saved run's options, with only those typed on this command line laid over them
        given = {k: options[k] for k in _TRAIN_FIELDS
                 if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE or (fast and k in FAST_PATH)}
        if architecture is not None:
            given["architecture"] = architecture
        if model_options:
            given["model"] = _parse_options(model_options)
        config = resume_config(resume, given)
        run_dir = run_dir or resume
        # the run folder is kept as before (grid cadence, logger, evaluation) unless typed anew
        saved = read_run_logging(resume)

        def kept(option: str, value: Any, valid: Any) -> Any:
            typed = ctx.get_parameter_source(option) == ParameterSource.COMMANDLINE
            return value if typed or not valid(saved.get(option)) else saved[option]

        sample_every = kept("sample_every", sample_every, lambda v: isinstance(v, int))
        eval_every = kept("eval_every", eval_every, lambda v: isinstance(v, int))
        logger = kept("logger", logger, lambda v: v in ("files", "tensorboard"))
    else:
        if architecture is None:
            raise click.UsageError("missing argument ARCHITECTURE (or --resume RUN_DIR)")
        config = TrainConfig(architecture=architecture, model=_parse_options(model_options),
                             **{k: options[k] for k in _TRAIN_FIELDS})
    if nproc > 1 and "WORLD_SIZE" not in os.environ:  # options checked: start N copies under torchrun
        from .distributed import launch

        if not no_publish:  # a bad name or an unwritable registry is refused before any process starts
            _publishing_registry(registry, name, config)
        launch(nproc, _without_option(ctx.meta.get("ganzoo.argv") or [], "--nproc"))
        return
    from .distributed import init_from_env, shutdown

    world = init_from_env(config.device)
    try:
        if world.is_main:
            _train_and_publish(config, run_dir, resume, registry, name, out, no_publish, eval_every, sample_every,
                               logger)
        else:  # the other ranks train their share and write nothing
            fit(config, resume_from=resume)
    finally:
        shutdown()


def _publishing_registry(registry: Path | None, name: str | None, config: Any) -> Any:
    """The registry the model will be published to, having refused a bad name or an unwritable
    registry before any training, not after."""
    from .api import default_model_name
    from .registry import Registry

    reg = Registry(registry)
    reg.check_name(name or default_model_name(config))
    reg.check_writable()
    return reg


def _train_and_publish(config: Any, run_dir: Path | None, resume: Path | None, registry: Path | None,
                       name: str | None, out: Path | None, no_publish: bool, eval_every: int, sample_every: int,
                       logger: str | None) -> None:
    from .api import default_model_name, generate, publish
    from .checkpoint import default_run_dir
    from .console import ProgressCallback, console
    from .trainer import fit
    from .rendering import grid_columns, reference_points, save_samples

    model_name = name or default_model_name(config)
    reg = None if no_publish else _publishing_registry(registry, name, config)
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
    from .runlog import RunLogger

    callbacks.append(RunLogger(run_dir, sample_every=sample_every, evaluator=evaluator,
                               tensorboard=logger == "tensorboard"))
    try:
        result = fit(config, callbacks=callbacks, run_dir=run_dir, resume_from=resume)
    finally:
        progress.close()
    console.print(f"Trained {config.architecture} on {result.dataset.name} for {result.steps} steps "
                  f"in {result.seconds:.1f} s.")
    console.print(f"Run folder: {run_dir} (metrics, grids{', checkpoint' if config.checkpoint_every else ''}; "
                  f"see it with: ganzoo report {run_dir})")
    record = None
    if reg is not None:
        extra = {"evaluations": evaluator.records, "evaluation_protocol": evaluator.protocol} if evaluator else None
        record = publish(result, name=model_name, registry=reg, extra=extra)
        console.print(f"Published [bold]{record.ref}[/] to {record.path}")
    if out is None:
        out = Path("samples") / (f"{record.name}-v{record.version}.png" if record else f"{model_name}.png")
    grid = generate(result.best_generator, 64, seed=config.seed)
    path = save_samples(grid, out, nrow=grid_columns(result.spec.num_classes), reference=reference_points(result.dataset))
    console.print(f"Sample grid: {path}")


# -- sample ------------------------------------------------------------------------------------


@cli.command("sample")
@click.argument("ref")
@click.option("-n", "--n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file [default: samples.png, or samples.npy with --format npy].")
@click.option("--format", "fmt", type=click.Choice(["png", "npy"]), default=None,
              help="png: a grid image; npy: the raw samples, float32 in [-1, 1], NCHW [default: from --out].")
@click.option("--label", type=int, default=None, help="Class to generate (conditional models).")
@click.option("--seed", type=int, default=0, show_default=True, help="Latent seed.")
@click.option("--interpolate", is_flag=True,
              help="Latent walks instead: each row walks between two random latents (conditional: a row per class).")
@click.option("--rows", type=click.IntRange(min=1), default=8, show_default=True,
              help="Walks in the grid with --interpolate (unconditional models).")
@click.option("--steps", type=click.IntRange(min=2), default=8, show_default=True,
              help="Points along each walk with --interpolate, endpoints included.")
@click.option("--method", type=click.Choice(["slerp", "lerp"]), default="slerp", show_default=True,
              help="Spherical or straight-line interpolation with --interpolate.")
@click.option("--no-ema", is_flag=True, help="Use the raw generator instead of its moving average.")
@_registry_option
def sample_cmd(ref: str, n: int, out: Path | None, fmt: str | None, label: int | None, seed: int, interpolate: bool,
               rows: int, steps: int, method: str, no_ema: bool, registry: Path | None) -> None:
    """Generate samples from a stored model: NAME, NAME:VERSION, NAME@ALIAS or a .safetensors file.

    \b
    ganzoo sample dcgan-digits --seed 3 --out grid.png
    ganzoo sample dcgan-digits -n 1000 --out samples.npy       raw float32 array
    ganzoo sample dcgan-digits --interpolate --rows 4 --steps 10
    """
    from .api import generate, load
    from .rendering import grid_columns
    from .console import console
    from .sampling import interpolate as walk
    from .sampling import sample_format, save_samples_file

    if out is None:
        out = Path(f"samples.{fmt or 'png'}")
    fmt = sample_format(out, fmt)  # a conflicting suffix is refused before any work
    g = load(ref, registry=registry, ema=not no_ema)
    if interpolate:
        if label is not None:
            raise ConfigError("--interpolate draws every class of a conditional model (a row each); leave --label out")
        samples = walk(g, rows, steps, method=method, seed=seed)
        nrow, what = steps, f"{len(samples) // steps} latent walks of {steps} steps"
    else:
        samples = generate(g, n, labels=label, seed=seed)
        nrow, what = (8 if label is not None else grid_columns(g.num_classes)), f"{n} samples"
    path = save_samples_file(samples, out, fmt=fmt, nrow=nrow)
    console.print(f"Wrote {what} from {ref} to {path}")


# -- eval --------------------------------------------------------------------------------------


@cli.command("eval")
@click.argument("ref")
@click.option("--samples", type=int, default=None,
              help="Generated and real samples [default: 2500 for 2-D mixtures, 2000 for images].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the samples drawn.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset files.")
@click.option("--no-save", is_flag=True, help="Do not write the results into the model's manifest.")
@click.option("--inception", is_flag=True, help="Inception FID/KID instead (needs: pip install 'ganzoo[fid]').")
@click.option("--reference", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Real images to compare with: the training set, or the test split (mnist, fashion-mnist, cifar10).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_registry_option
def eval_cmd(ref: str, samples: int | None, seed: int, data_dir: str | None, no_save: bool, inception: bool,
             reference: str, as_json: bool, registry: Path | None) -> None:
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
                             save=not no_save, inception=inception, split=reference)
    if as_json:
        print_json({"ref": ref, "metrics": name, **results})
        return
    protocol = results.get("protocol", {})
    print_table(f"{ref}: {name} metrics", ["metric", "value"],
                [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in results.items() if k != "protocol"])
    print_table("Protocol", ["field", "value"], [[k, v] for k, v in protocol.items()])


# -- models (ganzoo/cli_models.py) and report ----------------------------------------------------

cli.add_command(models_cmd)


@cli.command("report")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file [default: RUN/report.html].")
def report_cmd(run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML page about the training run in RUN: curves, grids, metrics, config."""
    from .console import console
    from .report import write_report

    console.print(f"Report: {write_report(run_dir, out)}")
