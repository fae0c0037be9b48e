"""Turning samples into pictures: image grids (torchvision), 2-D scatter plots, and their PNG bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torchvision.utils import make_grid

if TYPE_CHECKING:
    from .data import Dataset

__all__ = ["grid_columns", "grid_size", "image_bytes", "png_bytes", "reference_points", "render_samples",
           "samples_png", "save_samples"]

SCATTER_SIZE = 384
MIN_CELL = 32  # smallest cell width of an image grid, in pixels
REFERENCE_POINTS = 2000  # real points drawn under generated 2-D samples


def grid_columns(num_classes: int) -> int:
    """Columns of a sample grid: one per class for conditional models with up to 16 classes, else 8."""
    return num_classes if 0 < num_classes <= 16 else 8


def grid_size(num_classes: int, target: int = 64) -> int:
    """How many samples a model's preview grid shows: ``target``, or for a conditional model whose
    classes are the columns, the nearest whole number of rows (every class equally often)."""
    columns = grid_columns(num_classes)
    if num_classes == 0 or columns != num_classes:
        return target
    return columns * max(1, round(target / columns))


def reference_points(dataset: Dataset) -> torch.Tensor | None:
    """The real points a 2-D scatter plot draws under the samples; None for images."""
    return None if dataset.is_image else dataset.data[:REFERENCE_POINTS]


def render_samples(samples: torch.Tensor, *, nrow: int = 8, reference: torch.Tensor | None = None) -> torch.Tensor:
    """A (3, H, W) float image in [0, 1]: a grid for images, a scatter plot for 2-D points."""
    samples = samples.detach().float().cpu()
    if samples.dim() == 4:
        if samples.shape[-1] < MIN_CELL:  # tiny images (8x8 digits) are enlarged, pixels kept sharp
            factor = -(-MIN_CELL // samples.shape[-1])
            samples = torch.nn.functional.interpolate(samples, scale_factor=factor, mode="nearest")
        return make_grid(samples.clamp(-1, 1), nrow=nrow, padding=2, normalize=True, value_range=(-1, 1),
                         pad_value=1.0)
    if samples.dim() == 2 and samples.shape[1] == 2:
        return _scatter(samples, reference)
    raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}: expected images (N,C,H,W) "
                     "or 2-D points (N,2)")


def _scatter(points: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """Generated points in black over reference points in light blue, on a white square."""
    both = points if reference is None else torch.cat([points, reference.float().cpu()])
    finite = both[torch.isfinite(both).all(dim=1)]
    lo, hi = (finite.min(0).values, finite.max(0).values) if len(finite) else (torch.zeros(2), torch.ones(2))
    centre, half = (lo + hi) / 2, ((hi - lo).max() / 2).clamp_min(1e-3) * 1.1
    canvas = torch.ones(3, SCATTER_SIZE, SCATTER_SIZE)

    def plot(p: torch.Tensor, colour: tuple[float, float, float]) -> None:
        p = p[torch.isfinite(p).all(dim=1)]
        xy = ((p - centre) / half * 0.5 + 0.5) * (SCATTER_SIZE - 1)
        x = xy[:, 0].round().long()
        y = (SCATTER_SIZE - 1 - xy[:, 1]).round().long()  # y grows upwards
        for dx in (0, 1):
            for dy in (0, 1):
                xs, ys = x + dx, y + dy
                keep = (xs >= 0) & (xs < SCATTER_SIZE) & (ys >= 0) & (ys < SCATTER_SIZE)
                for c in range(3):
                    canvas[c, ys[keep], xs[keep]] = colour[c]

    if reference is not None:
        plot(reference.float().cpu(), (0.65, 0.8, 1.0))
    plot(points, (0.0, 0.0, 0.0))
    return canvas


def png_bytes(image: torch.Tensor) -> bytes:
    """Encode a (3, H, W) float image in [0, 1] as PNG."""
    return image_bytes(image, "png")


def image_bytes(image: torch.Tensor, fmt: str = "png") -> bytes:
    """Encode a (3, H, W) float image in [0, 1] as ``png`` (lossless) or ``jpg`` (quality 95, no chroma
    subsampling, so one-pixel details of small images survive)."""
    from PIL import Image

    pixels = image.detach().float().mul(255).add(0.5).clamp(0, 255).to("cpu", torch.uint8)
    picture = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    buf = io.BytesIO()
    if fmt == "png":
        picture.save(buf, format="PNG")
    elif fmt == "jpg":
        picture.save(buf, format="JPEG", quality=95, subsampling=0)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buf.getvalue()


def save_samples(samples: torch.Tensor, path: str | Path, *, nrow: int = 8,
                 reference: torch.Tensor | None = None, fmt: str = "png") -> Path:
    """Write samples as an image (grid or scatter; ``png`` or ``jpg``) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(render_samples(samples, nrow=nrow, reference=reference), fmt))
    return path


def samples_png(samples: torch.Tensor, *, nrow: int = 8, reference: torch.Tensor | None = None) -> bytes:
    """The PNG bytes of :func:`save_samples`, for storing beside a model."""
    return png_bytes(render_samples(samples, nrow=nrow, reference=reference))
