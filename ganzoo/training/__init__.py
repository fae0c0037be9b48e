"""Training: the config, the k-step loop, its callbacks, BatchNorm recalibration, checkpoints,
the run folder, option resolution, distributed runs and publishing.

``ganzoo`` re-exports the public names; modules inside the package import each other directly.
"""
