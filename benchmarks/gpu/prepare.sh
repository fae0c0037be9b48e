#!/bin/bash
# Fill .gpu/ (ignored by git) with what the GPU machine's image lacks for benchmarks/gpu/run.sh:
# a wheel of this tree (built here: the image's setuptools may be too old for pyproject.toml) and
# the wheels of ganzoo's pure-Python dependencies missing there. Run it again after any change.
#   bash benchmarks/gpu/prepare.sh [--fashion]   then run benchmarks/gpu/run.sh (or quality.sh) there, carrying .gpu
# --fashion also copies Fashion-MNIST's four files (30 MB), which quality.sh trains on.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu/wheels
mkdir -p .gpu/wheels
python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir .gpu/wheels .
# the image has torch, torchvision, timm, pluggy, click, rich, safetensors, scikit-learn, pytest, hypothesis
python -m pip download --quiet --no-deps --only-binary=:all: --dest .gpu/wheels "platformdirs>=3"
if [ "${1:-}" = --fashion ]; then
    mkdir -p .gpu/data/fashion-mnist
    cp "${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"/*-ubyte.gz .gpu/data/fashion-mnist/
fi
du -sh .gpu
