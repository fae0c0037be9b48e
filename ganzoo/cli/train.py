"""``ganzoo train``: parse the options, let the library resolve and train, then publish and print.

Defaults come from :class:`~ganzoo.TrainConfig` and :data:`~ganzoo.training.options.KEEPING`,
so the help shows the values a run really uses. Which option source wins is decided by
:func:`ganzoo.training.options.resolve_run`; this module only tells it what was typed.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..errors import ConfigError
from ..training.config import NAN_CHECKS, PRECISIONS, TrainConfig
from ..training.options import KEEPING, TRAINING
from ..values import check_like
from .base import CONTEXT, registry_option, threads_option
from .complete import (
    complete_architectures,
    complete_augmentations,
    complete_datasets,
    complete_losses,
    complete_model_refs,
    complete_run_folders,
)

__all__ = ["train_cmd"]

DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainConfig) if f.name not in ("architecture", "model")}
TYPED = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _load_config_file(ctx: click.Context, path: Path | None) -> None:
    """--config: the file is read once here. Its training options go to the library, which checks
    them like every other source; its options for this command (where to publish, the run folder)
    become this command's defaults, so options typed here still win."""
    if path is None:
        return
    from ..training.options import COMMAND_OPTIONS, read_train_file

    file = read_train_file(path, known=(*TRAINING, *KEEPING, *COMMAND_OPTIONS, "model", "architecture", "fast"))
    params = {p.name: p for p in ctx.command.params}
    defaults = {}
    for key in COMMAND_OPTIONS:
        if key in file:
            value = file.pop(key)
            default = params[key].default
            try:
                defaults[key] = check_like(key, value, default if default is not None else "")
            except ConfigError as exc:
                raise ConfigError(f"config file {path}: {exc}") from None
    ctx.meta["ganzoo.config_file"] = (path, file)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


@click.command("train", context_settings=CONTEXT)
@click.argument("architecture", required=False, shell_complete=complete_architectures)
@click.option("--dataset", default=DEFAULTS["dataset"], show_default=True, shell_complete=complete_datasets,
              help="Registered dataset name (see `ganzoo list`).")
@click.option("--loss", default=DEFAULTS["loss"], shell_complete=complete_losses,
              help="Registered loss, NAME or NAME:KEY=VALUE,... e.g. non-saturating-r1:gamma=3 "
                   "[default: the architecture's default].")
@click.option("--augment", default=DEFAULTS["augment"], metavar="NAME[:KEY=VALUE,...]",
              shell_complete=complete_augmentations,
              help="Augment all D sees, real and generated, e.g. ada or diffaugment:policy=translation,cutout "
                   "(see `ganzoo list`) [default: none].")
@click.option("--subset", type=int, default=DEFAULTS["subset"], metavar="N",
              help="Train on a fixed, class-balanced subset of N items; `ganzoo eval` still uses them all "
                   "[default: all].")
@click.option("--subset-seed", type=int, default=DEFAULTS["subset_seed"], show_default=True,
              help="Which items --subset keeps.")
@click.option("--steps", type=int, default=DEFAULTS["steps"], show_default=True, help="Generator steps.")
@click.option("--batch-size", type=int, default=DEFAULTS["batch_size"], show_default=True, help="Samples per batch.")
@click.option("--d-steps", type=int, default=DEFAULTS["d_steps"], show_default=True,
              help="k: discriminator steps per generator step.")
@click.option("--lr-g", type=float, default=DEFAULTS["lr_g"], show_default=True,
              help="Generator learning rate (Adam).")
@click.option("--lr-d", type=float, default=DEFAULTS["lr_d"], show_default=True,
              help="Discriminator learning rate (Adam).")
@click.option("--lr-decay", type=float, default=DEFAULTS["lr_decay"], show_default=True, metavar="FRACTION",
              help="Both learning rates fall linearly towards 0 over this last share of the steps; 0: constant.")
@click.option("--betas", type=(float, float), default=DEFAULTS["betas"], show_default=True, help="Adam betas.")
@click.option("--ema", type=float, default=DEFAULTS["ema"], show_default=True,
              help="Decay of the generator's moving average (timm); 0 disables it.")
@click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True,
              help="Seeds weights, noise and data order.")
@click.option("--device", default=DEFAULTS["device"], show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULTS["precision"], show_default=True,
              help="bf16 runs the networks under autocast (faster on recent hardware).")
@click.option("--channels-last", is_flag=True, default=DEFAULTS["channels_last"],
              help="Keep images and conv weights in NHWC layout (faster convs).")
@click.option("--reuse-fake", is_flag=True, default=DEFAULTS["reuse_fake"],
              help="G's step reuses D's generated batch: one G forward fewer (pytorch/examples' DCGAN).")
@click.option("--fused-adam", is_flag=True, default=DEFAULTS["fused_adam"],
              help="Adam's fused kernel: one pass over all weights.")
@click.option("--compile", is_flag=True, default=DEFAULTS["compile"],
              help="torch.compile G and D (slow first steps; pays off on GPUs).")
@click.option("--cuda-graphs", is_flag=True, default=DEFAULTS["cuda_graphs"],
              help="Capture D's and G's updates as CUDA graphs and replay them (CUDA only; one process).")
@click.option("--nan-check", type=click.Choice(NAN_CHECKS), default=DEFAULTS["nan_check"], show_default=True,
              help="When NaN/inf updates are caught: eager (at once), deferred (on the device, at the next "
                   "logged step; fused Adam), auto (deferred on CUDA).")
@click.option("--fast", is_flag=True,
              help="The fast path: --precision bf16 --channels-last --reuse-fake --fused-adam.")
@click.option("--image-size", type=int, default=DEFAULTS["image_size"],
              help="Resize images once at load [default: native size].")
@click.option("--data-dir", type=click.Path(file_okay=False), default=DEFAULTS["data_dir"],
              help="Dataset files [default: $GANZOO_DATA or the user data directory].")
@click.option("-o", "--option", "model_options", multiple=True, metavar="KEY=VALUE",
              help="Architecture hyperparameter, e.g. -o base_channels=32 (repeatable).")
@click.option("--log-every", type=int, default=DEFAULTS["log_every"], show_default=True,
              help="Steps between metric records.")
@click.option("--deterministic", is_flag=True, default=DEFAULTS["deterministic"],
              help="Use deterministic algorithms for bit-exact reruns.")
@click.option("--checkpoint-every", type=int, default=DEFAULTS["checkpoint_every"], show_default=True,
              help="Steps between run checkpoints (0: only when interrupted).")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where checkpoints go [default: runs/<name>-<YYYYmmdd-HHMMSS>].")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="RUN_DIR",
              shell_complete=complete_run_folders,
              help="Continue the run saved in RUN_DIR (its options apply; --steps may extend it).")
@registry_option
@click.option("--name", default=None, help="Model name in the registry [default: <architecture>-<dataset>].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sample grid PNG [default: samples/<name>-v<version>.png].")
@click.option("--no-publish", is_flag=True, help="Do not store the model in the registry.")
@click.option("--publish", "force_publish", is_flag=True,
              help="With --resume: store the model even when the run trained no further (it is skipped otherwise).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train in N local processes (torch.distributed via torchrun; batch size is per process).")
@click.option("--eval-every", type=click.IntRange(min=0), default=KEEPING["eval_every"], show_default=True,
              help="Evaluate every N steps (as `ganzoo eval`); results go into the manifest. 0: never.")
@click.option("--sample-every", type=click.IntRange(min=0), default=KEEPING["sample_every"], show_default=True,
              help="Steps between sample grids in the run folder (samples/step-N.png). 0: only at the end.")
@click.option("--logger", type=click.Choice(["files", "tensorboard"]), default=KEEPING["logger"], show_default=True,
              help="files: config.json, metrics.jsonl and grids in the run folder; tensorboard: TensorBoard "
                   "events there too (pip install 'ganzoo[tensorboard]').")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
              expose_value=False, callback=lambda ctx, param, value: _load_config_file(ctx, value),
              help="Read options from a TOML file (keys as these options; a [model] table for -o); "
                   "options on the command line win.")
@click.option("--from", "from_ref", default=None, metavar="REF", shell_complete=complete_model_refs,
              help="Retrain with the options recorded with the stored model REF; options given here win.")
@click.option("--init-from", default=DEFAULTS["init_from"], metavar="REF", shell_complete=complete_model_refs,
              help="Fine-tune: start from the stored model REF's generator and discriminator weights "
                   "(its architecture and options are the base).")
@click.option("--no-checkpoint", is_flag=True,
              help="Remove the run's final checkpoint once the model is published (--resume then cannot "
                   "continue it).")
@threads_option
@click.pass_context
def train_cmd(ctx: click.Context, architecture: str | None, model_options: tuple[str, ...], run_dir: Path | None,
              resume: Path | None, registry: Path | None, name: str | None, out: Path | None, no_publish: bool,
              force_publish: bool, no_checkpoint: bool,
              fast: bool, nproc: int, from_ref: str | None, **options: Any) -> None:
    """Train ARCHITECTURE on a dataset, save a sample grid and publish the model to the registry.

    An architecture may declare its own defaults for --d-steps, --lr-g, --lr-d, --betas, --ema
    and --lr-decay (resnet: --d-steps 5 --betas 0 0.9); they apply unless given here, in
    --config or through --from.

    \b
    ganzoo train dcgan                         DCGAN on the bundled 8x8 digits
    ganzoo train gan --dataset ring8           vanilla GAN on 8 Gaussians
    ganzoo train cdcgan --d-steps 2 --loss hinge
    ganzoo train dcgan --checkpoint-every 500  checkpoint into runs/dcgan-digits-<time>/
    ganzoo train dcgan --subset 500 --augment ada   500 digits, adaptive augmentation
    ganzoo train --resume runs/dcgan-digits-20250101-120000 --steps 8000
    ganzoo train --config run.toml --seed 1    options from a TOML file, the seed from here
    ganzoo train --from dcgan-digits --steps 8000   retrain with a stored model's options
    ganzoo train --init-from dcgan-digits --dataset mnist --image-size 8   fine-tune a stored model
    """
    from ..training.options import parse_model_options, resolve_run

    config_path, file = ctx.meta.get("ganzoo.config_file", (None, None))
    if (from_ref is not None or file is not None) and resume is not None:
        raise click.UsageError("--config and --from start a new run; with --resume the run's own options apply")
    if architecture is None and resume is None and from_ref is None and not (file or {}).get("architecture") \
            and options.get("init_from") is None:
        raise click.UsageError("missing argument ARCHITECTURE (or --resume RUN_DIR)")
    if no_checkpoint and (no_publish or options["checkpoint_every"]):
        clash = "--no-publish" if no_publish else "--checkpoint-every"
        raise click.UsageError(f"--no-checkpoint removes the final checkpoint once the model is published; with "
                               f"{clash} it cannot: drop one of the two")
    typed = {k: v for k, v in options.items() if ctx.get_parameter_source(k) in TYPED}
    resolved = resolve_run(architecture, options=typed, model=parse_model_options(model_options),
                           config_file=file, config_name=config_path, from_ref=from_ref, resume=resume,
                           fast=fast, registry=registry)
    config = resolved.config
    if nproc > 1:
        from ..training.distributed import check_device_for_processes

        check_device_for_processes(config.device, nproc)
    if nproc > 1 and config.cuda_graphs:
        raise ConfigError(f"--cuda-graphs trains in one process, but --nproc {nproc} asks for {nproc}; drop "
                          "--cuda-graphs or --nproc")
    if name is None and from_ref is not None:  # retrained: published as the next version of the same model
        from ..training.publish import default_model_name

        name = default_model_name(config, from_ref)
    if nproc > 1 and "WORLD_SIZE" not in os.environ:  # options checked: start N copies under torchrun
        from ..training.distributed import launch

        if not no_publish:  # a bad name or an unwritable registry is refused before any process starts
            _publishing_registry(registry, name, config)
        launch(nproc, _without_option(ctx.meta.get("ganzoo.argv") or [], "--nproc"))
        return
    from ..training.distributed import init_from_env, shutdown
    from ..training.loop import fit

    world = init_from_env(config.device)
    try:
        if world.is_main:
            _train_and_publish(resolved, run_dir, resume, registry, name, out, no_publish, force_publish,
                               no_checkpoint)
        else:  # the other ranks train their share and write nothing
            fit(config, resume_from=resume, registry=registry)
    finally:
        shutdown()


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


def _publishing_registry(registry: Path | None, name: str | None, config: TrainConfig) -> Any:
    """The registry the model will be published to, having refused a bad name or an unwritable
    registry before any training, not after."""
    from ..registry import Registry
    from ..training.publish import default_model_name

    reg = Registry(registry)
    reg.check_name(name or default_model_name(config))
    reg.check_writable()
    return reg


def _train_and_publish(resolved: Any, run_dir: Path | None, resume: Path | None, registry: Path | None,
                       name: str | None, out: Path | None, no_publish: bool, force_publish: bool = False,
                       no_checkpoint: bool = False) -> None:
    from ..errors import GanzooError
    from ..rendering import grid_columns, grid_size, reference_points, save_samples
    from ..sampling import generate
    from ..training.checkpoint import Checkpointer
    from ..training.loop import fit
    from ..training.progress import ProgressCallback
    from ..training.publish import default_model_name
    from ..training.runfolder import default_run_dir
    from ..training.runlog import RunLogger, summary_writer_class
    from ..training.state import TrainingInterrupted
    from .output import say

    config = resolved.config
    model_name = name or default_model_name(config)
    reg = None if no_publish else _publishing_registry(registry, name, config)
    if resolved.logger == "tensorboard":
        summary_writer_class()  # refused before a run folder is made, not after
    made = run_dir is None and resume is None  # a folder made here is removed again if nothing is written to it
    run_dir = run_dir or resume or default_run_dir(model_name)
    progress = ProgressCallback()
    callbacks: list[Any] = [progress]
    evaluator = None
    if resolved.eval_every:
        from ..evaluation.callback import EvalCallback

        def report(record: dict[str, Any]) -> None:
            for metric_set, values in record.items():
                if metric_set != "step":
                    shown = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in values.items())
                    say(f"eval at step {record['step']} ({metric_set}): {shown}", out=progress.out)

        evaluator = EvalCallback(resolved.eval_every, report=report)
        callbacks.append(evaluator)
    callbacks.append(RunLogger(run_dir, sample_every=resolved.sample_every, evaluator=evaluator,
                               tensorboard=resolved.logger == "tensorboard"))
    callbacks.append(Checkpointer(run_dir, config.checkpoint_every, final=True))  # kept before publishing
    try:
        result = fit(config, callbacks=callbacks, resume_from=resume, registry=registry)
    except TrainingInterrupted as exc:  # the resume command keeps the name and registry the run publishes to
        exc.resume_command = f"ganzoo train --resume {_quoted(run_dir)}{_keeping(model_name, config, registry)}"
        raise
    except GanzooError:  # refused before the first step (data that does not fit, a bad --init-from, ...)
        if made and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        raise
    finally:
        progress.close()
    record = None
    # A resumed run that trained no further is the model stored before: stored again only when asked.
    unchanged = resume is not None and result.started_at == result.steps and not force_publish
    if reg is not None and not unchanged:  # stored first, so nothing printed afterwards can lose it
        extra = {"evaluations": evaluator.records, "evaluation_protocol": evaluator.protocol} if evaluator else None
        record = _publish(result, model_name, reg, extra, run_dir, registry)
    if out is None:
        out = Path("samples") / (f"{record.name}-v{record.version}.png" if record else f"{model_name}.png")
    grid = generate(result.best_generator, grid_size(result.spec.num_classes), seed=config.seed)
    path = save_samples(grid, out, nrow=grid_columns(result.spec.num_classes),
                        reference=reference_points(result.dataset))
    say(f"Trained {config.architecture} on {result.dataset.name} for {result.steps} steps in {result.seconds:.1f} s.")
    if result.parent is not None:
        say(f"Started from {result.parent['ref']} (its generator and "
            f"{'discriminator' if result.parent.get('discriminator') != 'new' else 'a new discriminator'}).")
    say(f"Run folder: {run_dir} (metrics and grids; see it with: ganzoo report {_quoted(run_dir)})")
    if record is not None:
        trained = ""
        if result.started_at >= result.steps:
            trained = " (no steps trained now; stored again as --publish asked)"
        elif result.started_at:
            trained = f" (steps {result.started_at + 1}-{result.steps} trained now)"
        say(f"Published {record.ref} to {record.path}{trained}")
    elif reg is not None:
        say(f"Not published: the run was already at step {result.steps}, so this is the model stored before. "
            f"To store it anyway add --publish; to train further, pass a larger --steps.")
    _say_checkpoint(run_dir, result.steps, remove=no_checkpoint and record is not None)
    say(f"Sample grid: {path}")


def _say_checkpoint(run_dir: Path, steps: int, *, remove: bool) -> None:
    """Where the run's checkpoint is and how to continue from it, or its removal (--no-checkpoint)."""
    from ..fileio import format_bytes
    from ..training.runfolder import CHECKPOINT
    from .output import say

    path = run_dir / CHECKPOINT
    if not path.is_file():
        return
    if remove:
        path.unlink()
        say("Checkpoint removed (--no-checkpoint): the run folder keeps its metrics and grids.")
        return
    size = path.stat().st_size
    say(f"Checkpoint: {path} ({format_bytes(size)}); train further with: "
        f"ganzoo train --resume {_quoted(run_dir)} --steps {steps * 2}")


def _publish(result: Any, model_name: str, reg: Any, extra: dict[str, Any] | None, run_dir: Path,
             registry: Path | None) -> Any:
    """Publish; if that fails or is interrupted, say where the trained model is kept and the command that
    publishes it."""
    from ..errors import GanzooError, StorageError
    from ..training.publish import publish
    from .output import say

    retry = f"ganzoo train --resume {_quoted(run_dir)} --steps {result.steps} --publish"
    retry += _keeping(model_name, result.config, registry)
    try:
        return publish(result, name=model_name, registry=reg, extra=extra)
    except KeyboardInterrupt:
        say(f"Interrupted while publishing {model_name}; the trained model is saved in {run_dir}. "
            f"Publish it with: {retry}", err=True)
        raise click.exceptions.Exit(130) from None
    except (GanzooError, OSError) as exc:
        detail = str(exc) if isinstance(exc, GanzooError) else \
            f"could not store {model_name} in the registry at {reg.root}: {exc.strerror or exc}"
        raise StorageError(f"{detail.rstrip('.')}. The trained model is saved in {run_dir}; "
                           f"publish it with: {retry}") from exc


def _keeping(model_name: str, config: TrainConfig, registry: Path | None) -> str:
    """The options a resumed run needs to publish where this one would: its name (when not the default,
    which a resumed run would otherwise use) and its registry."""
    from ..locations import FOUND_ABOVE, FOUND_HERE, registry_location
    from ..training.publish import default_model_name

    kept = f" --name {_quoted(model_name)}" if model_name != default_model_name(config) else ""
    if registry is None:  # one found from the current folder: named, so the command works from anywhere
        location = registry_location()
        registry = location.path if location.reason in (FOUND_HERE, FOUND_ABOVE) else None
    return kept + (f" --registry {_quoted(registry)}" if registry is not None else "")


def _quoted(path: str | os.PathLike[str]) -> str:
    """A path as it is typed in a shell command."""
    import shlex

    return shlex.quote(os.fspath(path))
