#!/bin/bash
# Every GPU check and measurement in one call of a lent GPU machine (planned for an H200: at most 8.5 minutes).
#
#   here:   bash benchmarks/gpu/prepare.sh
#   there:  bash benchmarks/gpu/run.sh          (carry [".gpu"], timeout_s 560; results land in $OUT)
#
# Phases, most needed first, each under its own time limit so that a slow one cannot take the
# others' time; each writes its results to $OUT as it ends:
#   1. the CUDA tests (sync-free loop, CUDA graphs, the prefetching feeder)
#   2. benchmarks/speed.py, DCGAN-32 batch 64 and the MLP, with torch.compile's two modes
#   3. benchmarks/speed.py at DCGAN-64 batch 64
#   4. benchmarks/speed.py --sweep: images/s and share of peak up to where the chip saturates
#   5. benchmarks/data_folder.py on 100,000 synthetic PNGs: loads, resident and prefetched training
# $OUT/summary.txt says how each phase ended; $OUT/log.txt holds everything printed.
set -u
OUT=${OUT:?set OUT to the folder the results go to}
export PYTHONUNBUFFERED=1 GANZOO_CACHE=/tmp/ganzoo-cache
cd "$(dirname "$0")/../.."
log=$OUT/log.txt
say() { echo "[$SECONDS s] $*" | tee -a "$OUT/summary.txt"; }
phase() {  # phase NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    echo "=== $name: $*" >>"$log"
    timeout --signal=INT --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    say "$name: exit $? (limit ${limit} s)"
}

say "start on $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
# --force-reinstall: on a machine still warm from an earlier call, the benchmarks must import this tree's code
python3 -m pip install --quiet --force-reinstall --no-index --no-deps .gpu/wheels/*.whl >>"$log" 2>&1 || { say "install failed"; exit 1; }
python3 -c "import torch, ganzoo; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 \
    | tee -a "$OUT/summary.txt"

phase tests 110 python3 -m pytest -q -p no:cacheprovider -rs tests/test_no_sync.py tests/test_folder_cache.py \
    -m "not distributed" -k "cuda or graphs or synchronisation or deferred" --junitxml="$OUT/tests.xml"
phase speed-32 180 python3 benchmarks/speed.py --device cuda --rounds 3 --steps 30 --compile --skip-memory \
    --json "$OUT/speed-h200-nosync.json"
phase speed-64 55 python3 benchmarks/speed.py --device cuda --rounds 3 --steps 30 --image-size 64 --skip-mlp \
    --skip-memory --json "$OUT/speed-h200-dcgan64.json"
phase sweep 65 python3 benchmarks/speed.py --device cuda --rounds 2 --steps 20 --sweep 64,256,1024,4096 \
    --json "$OUT/speed-h200-sweep.json"
phase folder 100 python3 benchmarks/data_folder.py --n 100000 --device cuda --steps 20 --skip 5 --repeats 2
say "done"
