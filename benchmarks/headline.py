"""The main job, measured: `ganzoo train dcgan` on the bundled digits, as a user runs it.

Runs the command in a fresh temporary folder, reports its wall time and peak memory,
then judges the published model with a logistic-regression digit classifier trained on
the real digits: the mean confidence of its predictions on 1,000 samples and the share
of each predicted class (an untrained generator is judged too, as the floor).

    python benchmarks/headline.py [extra ganzoo train options]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from machine import cpu_name
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import ganzoo


def judge(generator: ganzoo.Generator, classifier: LogisticRegression) -> tuple[float, list[float]]:
    samples = ganzoo.generate(generator, 1000, seed=7).reshape(1000, -1).numpy()
    probs = classifier.predict_proba(samples)
    shares = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    return float(probs.max(1).mean()), [round(float(s), 3) for s in shares]


def main() -> None:
    extra = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(["ganzoo", "train", "dcgan", *extra], cwd=tmp, check=True,
                       env={**os.environ, "GANZOO_REGISTRY": os.path.join(tmp, "registry")})
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        trained = ganzoo.load("dcgan-digits", registry=os.path.join(tmp, "registry"))

    digits = load_digits()
    x = digits.images.reshape(len(digits.images), -1) / 8.0 - 1.0
    classifier = LogisticRegression(max_iter=2000).fit(x[:1500], digits.target[:1500])
    held_out = classifier.predict_proba(x[1500:])
    untrained, _ = ganzoo.create("dcgan", data_shape=(1, 8, 8))

    print(f"date {time.strftime('%Y-%m-%d')}; torch {torch.__version__}; CPU {cpu_name()}, {os.cpu_count()} cores")
    print(f"command: ganzoo train dcgan {' '.join(extra)}")
    print(f"wall time {wall:.1f} s (target < 300 s); peak RSS {peak_mb:.0f} MB")
    print(f"classifier on held-out real digits: accuracy {classifier.score(x[1500:], digits.target[1500:]):.3f}, "
          f"mean confidence {held_out.max(1).mean():.3f}")
    for name, g in (("trained", trained), ("untrained", untrained)):
        confidence, shares = judge(g, classifier)
        print(f"{name:9s} generator: mean confidence {confidence:.3f}; predicted class shares {shares}")


if __name__ == "__main__":
    main()
