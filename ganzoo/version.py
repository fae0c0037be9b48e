"""The installed version of ganzoo, readable without importing anything else."""

__version__ = "0.1.0"
