"""The per-sample image transformations both augmentations are made of, in plain torch.

Geometry is done on coordinates: every flip, quarter turn and integer shift maps output
pixels to input pixels, so a whole chain of them costs one index computation on ``(N, H, W)``
integers and one gather of the images (:class:`Coordinates`). Colour changes are one
multiply-add each. A sample a transformation is not applied to gets its neutral parameters
(no flip, no turn, shift 0, factor 1, offset 0), which leave its values exactly as they were,
so nothing is computed twice and nothing is selected afterwards.

Everything is differentiable in the images (gathers, sums and products: G's gradient reaches G
through them) and none of it synchronizes with the host, so a batch on a GPU never waits for
the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Coordinates", "brightness", "contrast", "cutout", "draw", "saturation"]


def draw(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` uniform numbers in [0, 1) on ``x``'s device, float32 (from ``generator`` when given)."""
    return torch.rand(n, generator=generator, device=x.device)


def _per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def brightness(x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Adds ``offset`` (one value per sample; 0 leaves a sample as it is) to every pixel."""
    return x + _per_sample(offset, x)


def contrast(x: torch.Tensor, factor: torch.Tensor, *, around_mean: bool) -> torch.Tensor:
    """Scales each sample's distance from its own mean (DiffAugment) or from 0, the mid-grey of images in
    [-1, 1] (ADA), by ``factor`` (1 leaves a sample as it is)."""
    if not around_mean:
        return x * _per_sample(factor, x)
    mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    return x + _per_sample(factor - 1, x) * (x - mean)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scales each pixel's distance from its grey value (the mean over channels) by ``factor``. With one
    channel that distance is 0: grey images are returned as they are."""
    if x.shape[1] == 1:
        return x
    grey = x.mean(dim=1, keepdim=True)
    return x + _per_sample(factor - 1, x) * (x - grey)


def cutout(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, size_h: int, size_w: int,
           applied: torch.Tensor) -> torch.Tensor:
    """Sets a ``size_h`` x ``size_w`` rectangle centred at (``cy``, ``cx``) of each sample where ``applied``
    holds to 0 (clipped at the image's edges)."""
    n, _, h, w = x.shape
    top, left = cy.view(-1, 1) - size_h // 2, cx.view(-1, 1) - size_w // 2
    r = torch.arange(h, device=x.device).view(1, -1)
    c = torch.arange(w, device=x.device).view(1, -1)
    in_rows = (r >= top) & (r < top + size_h) & applied.view(-1, 1)  # (N, H)
    in_cols = (c >= left) & (c < left + size_w)  # (N, W)
    hole = in_rows.view(n, 1, h, 1) & in_cols.view(n, 1, 1, w)
    return x * (~hole).to(x.dtype)


@dataclass
class Coordinates:
    """For every output pixel of every sample, the input pixel it shows: ``rows`` and ``cols``, ``(N, H, W)``.

    Start from the identity (:meth:`identity`) and apply the inverse of each geometric
    transformation, the last one first; then :meth:`gather` reads the images once.
    ``inside`` is False where a shift uncovered a pixel that zero padding fills.
    """

    rows: torch.Tensor
    cols: torch.Tensor
    height: int
    width: int
    inside: torch.Tensor | None = None

    @classmethod
    def identity(cls, x: torch.Tensor) -> Coordinates:
        n, _, h, w = x.shape
        rows = torch.arange(h, device=x.device).view(1, h, 1).expand(n, h, w)
        cols = torch.arange(w, device=x.device).view(1, 1, w).expand(n, h, w)
        return cls(rows, cols, h, w)

    def unshift(self, dy: torch.Tensor, dx: torch.Tensor, *, reflect: bool) -> None:
        """Undo a shift of ``dy`` pixels down and ``dx`` right (integers per sample; 0: none). Pixels the
        shift uncovers show the image mirrored at its edge (``reflect``, ADA) or 0 (DiffAugment)."""
        rows = self.rows - dy.view(-1, 1, 1)
        cols = self.cols - dx.view(-1, 1, 1)
        if reflect:  # mirror without repeating the edge: -1 -> 1, size -> size - 2 (shifts below the size)
            rows = (self.height - 1) - ((self.height - 1) - rows.abs()).abs()
            cols = (self.width - 1) - ((self.width - 1) - cols.abs()).abs()
        else:
            inside = (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)
            self.inside = inside if self.inside is None else self.inside & inside
            rows, cols = rows.clamp(0, self.height - 1), cols.clamp(0, self.width - 1)
        self.rows, self.cols = rows, cols

    def unturn(self, quarter_turns: torch.Tensor) -> None:
        """Undo a counter-clockwise turn by ``quarter_turns`` (0 to 3 per sample) times 90 degrees. Images
        that are not square turn only by 0 or 180 degrees (odd counts round down), keeping their shape."""
        last_r, last_c = self.height - 1, self.width - 1
        k = quarter_turns.view(-1, 1, 1)
        if self.height != self.width:
            k = k - k % 2
        rows, cols = self.rows, self.cols
        self.rows = torch.where(k == 1, cols, torch.where(k == 2, last_r - rows, torch.where(k == 3, last_c - cols,
                                                                                               rows)))
        self.cols = torch.where(k == 1, last_c - rows, torch.where(k == 2, last_c - cols, torch.where(k == 3, rows,
                                                                                                    cols)))

    def unflip(self, flipped: torch.Tensor) -> None:
        """Undo a left-right mirror of the samples where ``flipped`` holds."""
        self.cols = torch.where(flipped.view(-1, 1, 1), (self.width - 1) - self.cols, self.cols)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """The images with every output pixel read from its input pixel (0 where a shift left none)."""
        n, c, h, w = x.shape
        index = (self.rows * w + self.cols).reshape(n, 1, h * w).expand(n, c, h * w)
        out = x.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)
        if self.inside is not None:
            out = out * self.inside.view(n, 1, h, w).to(x.dtype)
        return out
