"""``ganzoo sample``: draw samples or latent walks from a stored model into a PNG grid or a ``.npy`` array."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError
from .base import CONTEXT, device_option, registry_option, threads_option
from .complete import complete_model_refs

__all__ = ["sample_cmd"]


@click.command("sample", context_settings=CONTEXT)
@click.argument("ref", shell_complete=complete_model_refs)
@click.option("-n", "--n", "n", type=int, default=None,
              help="Number of samples [default: 64; for a conditional model, whole rows of its classes].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file [default: samples.png, or samples.npy with --format npy].")
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "npy"]), default=None,
              help="png or jpg: a grid image; npy: the raw samples, float32 in [-1, 1], NCHW [default: from --out].")
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
@device_option
@threads_option
@registry_option
def sample_cmd(ref: str, n: int | None, out: Path | None, fmt: str | None, label: int | None, seed: int,
               interpolate: bool, rows: int, steps: int, method: str, no_ema: bool, device: str,
               registry: Path | None) -> None:
    """Generate samples from a stored model: NAME, NAME:VERSION, NAME@ALIAS or a .safetensors file.

    \b
    ganzoo sample dcgan-digits --seed 3 --out grid.png
    ganzoo sample dcgan-digits -n 1000 --out samples.npy       raw float32 array
    ganzoo sample dcgan-digits --interpolate --rows 4 --steps 10
    """
    from ..registry import load_generator
    from ..rendering import grid_columns, grid_size
    from ..sampling import generate, sample_format, save_samples_file
    from ..sampling import interpolate as walk
    from ..training.loop import resolve_device
    from .output import say

    if out is None:
        out = Path(f"samples.{fmt or 'png'}")
    fmt = sample_format(out, fmt)  # a conflicting suffix is refused before any work
    g = load_generator(ref, registry=registry, ema=not no_ema, device=resolve_device(device))
    if interpolate:
        if label is not None:
            raise ConfigError("--interpolate draws every class of a conditional model (a row each); leave --label out")
        samples = walk(g, rows, steps, method=method, seed=seed)
        nrow, what = steps, f"{len(samples) // steps} latent walks of {steps} steps"
    else:
        if n is None:
            n = 64 if label is not None else grid_size(g.num_classes)
        samples = generate(g, n, labels=label, seed=seed)
        nrow, what = (8 if label is not None else grid_columns(g.num_classes)), f"{n} samples"
    path = save_samples_file(samples, out, fmt=fmt, nrow=nrow)
    say(f"Wrote {what} from {ref} to {path}")
