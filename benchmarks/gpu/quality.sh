#!/bin/bash
# The quality runs of docs/results.md in one call of a lent GPU machine, returned in at most 8 files.
#
#   here:   bash benchmarks/gpu/prepare.sh --fashion
#   there:  bash benchmarks/gpu/quality.sh augment     (carry [".gpu"], timeout_s 570)
#           bash benchmarks/gpu/quality.sh resnet
#   here:   python benchmarks/gpu/pack.py unpack augment W <the returned augment-*.tar>
#           python benchmarks/quality/augment.py fid --work W; ... leak ...; ... report ...
#           (resnet: pack.py unpack resnet W ..., then resnet.py fid --work W and table --work W)
#
# augment: the 18 cells of benchmarks/quality/augment.py (dcgan, 1,000 / 5,000 / 60,000 Fashion-MNIST
#          images, none / diffaugment / ada, seeds 0 and 1), all at once (a small GAN leaves an H200
#          mostly idle; the limit is the host's cores). Cells already done in an earlier call are not
#          carried, so skip them with CELLS="--images 60000" and the like.
# resnet:  benchmarks/quality/resnet.py's four Fashion-MNIST runs (resnet and resnet-cond, seeds 0
#          and 1), at once, with STEPS generator steps each (default 15,625). A run still going at
#          LIMIT seconds stops there (a Ctrl-C: it checkpoints), is published at the step it reached
#          and sampled; the summary and its -train.json say how many steps it had.
# Inception (for FID) is not on that machine: the scores are computed here from what comes back.
set -u
OUT=${OUT:?set OUT to the folder the results go to}
what=${1:?augment or resnet}
device=${DEVICE:-cuda}  # DEVICE=cpu with EXTRA/CELLS for tiny settings: a rehearsal on any machine
tmp=${WORK:-/tmp}
export PYTHONUNBUFFERED=1 GANZOO_CACHE=/tmp/ganzoo-cache
cd "$(dirname "$0")/../.."
log=$OUT/log.txt
say() { echo "[$SECONDS s] $*" | tee -a "$OUT/summary.txt"; }
say "start on $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
if [ -z "${NO_INSTALL:-}" ]; then  # NO_INSTALL=1 where ganzoo is installed already (a rehearsal)
    python3 -m pip install --quiet --no-index --no-deps .gpu/wheels/*.whl >>"$log" 2>&1 || { say "install failed"; exit 1; }
fi
data=.gpu/data
[ -f $data/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { say "no Fashion-MNIST in $data (prepare.sh --fashion)"; exit 1; }

case $what in
augment)
    work=$tmp/augment
    # shellcheck disable=SC2086
    timeout --signal=INT --kill-after=30 "${LIMIT:-420}" python3 benchmarks/quality/augment.py train --work $work \
        --device "$device" --jobs "${JOBS:-18}" --data-dir $data ${CELLS:-} >>"$log" 2>&1
    say "train: exit $?"
    python3 benchmarks/gpu/pack.py pack augment $work "$OUT" >>"$OUT/summary.txt" 2>>"$log"
    ;;
resnet)
    steps=${STEPS:-15625}
    for arch in resnet resnet-cond; do
        for seed in 0 1; do
            timeout --signal=INT --kill-after=30 "${LIMIT:-420}" python3 benchmarks/quality/resnet.py train \
                --arch $arch --seed $seed --steps "$steps" --work $tmp/resnet-$arch-$seed --device "$device" \
                --data-dir $data ${EXTRA:-} >>"$log.$arch-$seed" 2>&1 &
        done
    done
    wait
    cat "$log".* >>"$log"; rm -f "$log".*
    for arch in resnet resnet-cond; do  # a run cut at the limit: published and sampled at the step it reached
        for seed in 0 1; do
            w=$tmp/resnet-$arch-$seed
            [ -f $w/fashion-mnist-$arch-seed$seed-samples.npy ] && continue
            reached=$(python3 -c "from ganzoo.training.checkpoint import load_checkpoint as c; \
print(c('$w/runs/fashion-mnist-$arch-seed$seed')['step'])" 2>>"$log") || continue
            say "$arch seed $seed: cut at step $reached of $steps; sampled there"
            python3 benchmarks/quality/resnet.py train --arch $arch --seed $seed --steps "$reached" --work $w \
                --device "$device" --data-dir $data ${EXTRA:-} >>"$log" 2>&1
        done
    done
    say "train: done ($(ls $tmp/resnet-*/fashion-mnist-*-samples.npy 2>/dev/null | wc -l) of 4 runs sampled)"
    python3 benchmarks/gpu/pack.py pack resnet $tmp/resnet-* "$OUT" >>"$OUT/summary.txt" 2>>"$log"
    ;;
*) say "unknown experiment $what (augment or resnet)"; exit 2 ;;
esac
say "done"
