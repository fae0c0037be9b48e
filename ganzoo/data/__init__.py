"""Datasets: registration records, in-memory datasets, the built-in loaders and the download helpers."""

from .archive import safe_extract
from .builtin import BUILTIN_DATASETS, grid25_centers, ring8_centers
from .core import DataOptions, Dataset, DatasetSpec, TensorSampler, default_data_dir, resize_images, resize_uint8
from .download import RemoteFile, ensure_files, verify
from .idx import parse_idx

__all__ = [
    "BUILTIN_DATASETS",
    "DataOptions",
    "Dataset",
    "DatasetSpec",
    "RemoteFile",
    "TensorSampler",
    "default_data_dir",
    "ensure_files",
    "grid25_centers",
    "parse_idx",
    "resize_images",
    "resize_uint8",
    "ring8_centers",
    "safe_extract",
    "verify",
]
