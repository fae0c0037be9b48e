#!/bin/bash
# Fill .gpu/ (ignored by git) with what the GPU machine's image lacks for benchmarks/gpu/run.sh:
# the wheels of ganzoo's pure-Python dependencies missing there.
#   bash benchmarks/gpu/prepare.sh        then run benchmarks/gpu/run.sh there, carrying .gpu
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu/wheels
# the image has torch, torchvision, timm, pluggy, click, rich, safetensors, scikit-learn, pytest, hypothesis
python -m pip download --quiet --no-deps --only-binary=:all: --dest .gpu/wheels "platformdirs>=3"
du -sh .gpu
