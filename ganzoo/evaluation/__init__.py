"""Evaluation: metrics, the feature classifier, the protocols, Inception features, the theory check,
and the callback that evaluates during training.

``ganzoo`` re-exports the public names; modules inside the package import each other directly.
"""
