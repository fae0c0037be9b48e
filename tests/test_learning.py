"""Learning tests: short real trainings that fail when the models stop learning.

Fixed seeds; each is under a minute on two CPU cores.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import ganzoo
from ganzoo.data import ring8_centers
from ganzoo.evaluation.metrics import mixture_score

pytestmark = pytest.mark.slow


def test_gan_covers_the_ring_of_eight_gaussians():
    # VEEGAN/PacGAN protocol: 2,500 samples, high quality = within 3 std (0.03) of a mode.
    result = ganzoo.train("gan", "ring8", steps=4000, batch_size=256, lr_g=1e-3, lr_d=1e-3, seed=0,
                          log_every=1000)
    score = mixture_score(ganzoo.generate(result.best_generator, 2500, seed=123), ring8_centers(), 0.01)
    assert score.modes_covered >= 6, score
    assert score.high_quality > 0.5, score


def test_dcgan_draws_digits_a_classifier_recognises():
    digits = load_digits()
    x = digits.images.reshape(len(digits.images), -1) / 8.0 - 1.0  # the generator's [-1, 1] scale
    classifier = LogisticRegression(max_iter=2000).fit(x, digits.target)

    def judge(generator):
        samples = ganzoo.generate(generator, 1000, seed=7).reshape(1000, -1).numpy()
        probs = classifier.predict_proba(samples)
        return probs.max(1).mean(), np.bincount(probs.argmax(1), minlength=10) / len(probs)

    untrained, _ = ganzoo.create("dcgan", data_shape=(1, 8, 8))
    confidence0, _ = judge(untrained)
    result = ganzoo.train("dcgan", "digits", steps=1200, seed=0, log_every=400)
    confidence, classes = judge(result.best_generator)
    assert confidence0 < 0.5  # the judge is not fooled by noise
    assert confidence > 0.75, (confidence, classes)
    assert classes.min() > 0.03, classes  # every digit is drawn: no mode collapse
