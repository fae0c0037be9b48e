"""Datasets: registration records, in-memory datasets, and the built-in loaders."""

from .builtin import BUILTIN_DATASETS, grid25_centers, ring8_centers
from .core import DataOptions, Dataset, DatasetSpec, TensorSampler, default_data_dir, resize_images

__all__ = [
    "BUILTIN_DATASETS",
    "DataOptions",
    "Dataset",
    "DatasetSpec",
    "TensorSampler",
    "default_data_dir",
    "grid25_centers",
    "resize_images",
    "ring8_centers",
]
