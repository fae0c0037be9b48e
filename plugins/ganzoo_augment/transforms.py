"""The per-sample image transformations both augmentations are made of, in plain torch.

Every function takes a batch ``x`` of shape ``(N, C, H, W)`` and per-sample parameters drawn
by the caller, and is differentiable in ``x`` (index gathers, sums and products: the
gradient of G's loss reaches G through them). None synchronizes with the host, so a batch
on a GPU never waits for the CPU. :func:`chosen` applies a transformation to the samples
picked for it and leaves the others exactly as they were.
"""

from __future__ import annotations

import torch

__all__ = ["brightness", "chosen", "contrast", "cutout", "draw", "flip", "rotate90", "saturation", "translate"]


def draw(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` uniform numbers in [0, 1) on ``x``'s device, float32 (from ``generator`` when given)."""
    return torch.rand(n, generator=generator, device=x.device)


def chosen(x: torch.Tensor, picked: torch.Tensor, transformed: torch.Tensor) -> torch.Tensor:
    """``transformed`` for the samples where ``picked`` (bool, ``(N,)``) holds, ``x`` itself elsewhere."""
    return torch.where(picked.view(-1, *([1] * (x.dim() - 1))), transformed, x)


def _per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.to(x.dtype).view(-1, 1, 1, 1)


def brightness(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Adds ``shift`` (one value per sample) to every pixel."""
    return x + _per_sample(shift, x)


def contrast(x: torch.Tensor, factor: torch.Tensor, *, around_mean: bool) -> torch.Tensor:
    """Scales each sample by ``factor``: around its own mean (DiffAugment) or around 0, the mid-grey of
    images in [-1, 1] (ADA)."""
    if not around_mean:
        return x * _per_sample(factor, x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_sample(factor, x) + mean


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scales each pixel's distance from its grey value (the mean over channels) by ``factor``; with one
    channel that distance is 0, so grey images are left as they are."""
    if x.shape[1] == 1:
        return x
    grey = x.mean(dim=1, keepdim=True)
    return (x - grey) * _per_sample(factor, x) + grey


def _source_index(size: int, shift: torch.Tensor, reflect: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """For an output row (or column) ``i`` of each sample, the input row ``i - shift`` it shows, and
    whether that row exists (always, with ``reflect``: the image is mirrored at its edges)."""
    src = torch.arange(size, device=shift.device).view(1, -1) - shift.view(-1, 1)  # (N, size)
    if reflect:  # mirror without repeating the edge: -1 -> 1, size -> size - 2 (shifts below the size)
        last = size - 1
        src = last - (last - src.abs()).abs()
        return src, torch.ones_like(src, dtype=torch.bool)
    valid = (src >= 0) & (src < size)
    return src.clamp(0, size - 1), valid


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, *, reflect: bool) -> torch.Tensor:
    """Moves each sample ``dy`` pixels down and ``dx`` right (integers, one pair per sample).

    Uncovered pixels are 0 (DiffAugment's zero padding: mid-grey for images in [-1, 1]) or, with
    ``reflect``, the image mirrored at its edge (ADA).
    """
    n, c, h, w = x.shape
    rows, row_ok = _source_index(h, dy, reflect)
    cols, col_ok = _source_index(w, dx, reflect)
    out = x.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w))
    out = out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))
    if reflect:
        return out
    inside = (row_ok.view(n, 1, h, 1) & col_ok.view(n, 1, 1, w)).to(x.dtype)
    return out * inside


def cutout(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, size_h: int, size_w: int) -> torch.Tensor:
    """Sets a ``size_h`` x ``size_w`` rectangle centred at (``cy``, ``cx``) of each sample to 0 (clipped at
    the image's edges)."""
    n, _, h, w = x.shape
    top, left = cy.view(-1, 1) - size_h // 2, cx.view(-1, 1) - size_w // 2
    r = torch.arange(h, device=x.device).view(1, -1)
    c = torch.arange(w, device=x.device).view(1, -1)
    in_rows = (r >= top) & (r < top + size_h)  # (N, H)
    in_cols = (c >= left) & (c < left + size_w)  # (N, W)
    hole = in_rows.view(n, 1, h, 1) & in_cols.view(n, 1, 1, w)
    return x * (~hole).to(x.dtype)


def flip(x: torch.Tensor) -> torch.Tensor:
    """Every sample mirrored left to right."""
    return x.flip(3)


def rotate90(x: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Each sample turned by ``quarter_turns`` (0 to 3) times 90 degrees counter-clockwise.

    Images that are not square turn only by 0 or 180 degrees (odd counts round down), so the
    shape is kept.
    """
    out = x
    if x.shape[2] == x.shape[3]:
        out = chosen(out, quarter_turns == 1, x.rot90(1, (2, 3)))
        out = chosen(out, quarter_turns == 3, x.rot90(3, (2, 3)))
        half = quarter_turns == 2
    else:
        half = quarter_turns >= 2
    return chosen(out, half, x.rot90(2, (2, 3)))
