#!/usr/bin/env bash
# Train the checkpoints of the style benchmark's model rows (docs/style-transfer.md) at fixed
# iteration counts: the iterations each model makes in 10 minutes alone on the project's 2-core
# CPU, so a GPU (or any machine) trains the same recipe for the same number of steps.
#
#   bash benchmarks/style_checkpoints.sh OUT_DIR            # every run, one after the other
#   JOBS=6 bash benchmarks/style_checkpoints.sh OUT_DIR     # in parallel (a GPU: trainer.accelerator=gpu below)
#   EXTRA="trainer.accelerator=gpu trainer.devices=1" JOBS=6 bash benchmarks/style_checkpoints.sh OUT_DIR
#   QUICK=1 bash benchmarks/style_checkpoints.sh OUT_DIR    # a few steps each, to see every command run
#
# Writes OUT_DIR/<run>/ (the run directory: checkpoints/last.ckpt, csv/metrics.csv, timing.json,
# train.log) and OUT_DIR/<run>.log. float32 and the CPU network widths (model_size=cpu) everywhere,
# so a GPU run trains the model the CPU command trains (up to floating-point order).
#
# The iteration counts (one iteration = one batch; GANs make two optimiser steps per batch, StarGAN v2
# six, and trainer.max_steps counts optimiser steps):
#   adain        5,800 batches of 32                        (10 min: 648 s of training)
#   stargan_v2   1,148 iterations of 16 (6,888 steps)        (10 min)
#   stargan_v2_plain, _struct3, _struct10  the same without the 14x14 skip path and the structure loss,
#                or with structure weight 3, or 10 and cycle weight 10 (the structure-weight curve)
#   cyclegan     19 epochs of 100 batches of 8 per direction (6.7 min; its 10-minute limit was not reached)
#   cgan         1,717 batches of 128 (3,434 steps)          (10 min)
#   cvae         30 epochs of 430 batches of 128             (its epoch cap, reached after 6 min)
#   munit        28 epochs of 100 batches of 32 (5,600 steps) (10 min at 0.215 s a batch)
set -u
OUT=${1:?usage: bash benchmarks/style_checkpoints.sh OUT_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
JOBS=${JOBS:-1}
RUNS=${RUNS:-adain stargan_v2 stargan_v2_plain stargan_v2_struct3 stargan_v2_struct10 cyclegan cgan cvae munit}
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
mkdir -p "$OUT"
export WANDB_MODE=offline WANDB_SILENT=true

COMMON=(callbacks.evaluation=null model.monitor=null logger=csv '~callbacks.rich_progress_bar' trainer.enable_progress_bar=false)
overrides() {
    case "$1" in
        adain) echo "experiment=adain_fashion +trainer.max_steps=5800 trainer.max_time=null" ;;
        # the experiment's default: the 14x14 skip path and structure weight 1
        stargan_v2) echo "experiment=stargan_v2_fashion +trainer.max_steps=6888 trainer.max_time=null" ;;
        stargan_v2_plain) echo "experiment=stargan_v2_fashion +trainer.max_steps=6888 trainer.max_time=null model.generator.skip_sizes=[] model.lambda_struct=0" ;;
        stargan_v2_struct3) echo "experiment=stargan_v2_fashion +trainer.max_steps=6888 trainer.max_time=null model.lambda_struct=3.0" ;;
        stargan_v2_struct10) echo "experiment=stargan_v2_fashion +trainer.max_steps=6888 trainer.max_time=null model.lambda_struct=10.0 model.lambda_cyc=10.0" ;;
        cyclegan) echo "experiment=cyclegan_sneaker2boot trainer.max_epochs=19" ;;
        cgan) echo "model=cgan data=fashion_mnist trainer.max_epochs=30 trainer.min_epochs=0 +trainer.max_steps=3434" ;;
        cvae) echo "model=cvae data=fashion_mnist trainer.max_epochs=30 trainer.min_epochs=0" ;;
        munit) echo "experiment=munit_fashion trainer.max_epochs=28 trainer.max_time=null" ;;
        *) echo "unknown run $1" >&2; return 1 ;;
    esac
}
quick() { [ -n "${QUICK:-}" ] && echo "++trainer.max_steps=6 trainer.max_epochs=1 trainer.limit_val_batches=1" || true; }

train_one() {
    local run=$1 args
    args=$(overrides "$run") || return 1
    # shellcheck disable=SC2046,SC2086  # the override strings split into words on purpose
    "$PY" "$ROOT/train.py" $args "${COMMON[@]}" "${EXTRA_ARGS[@]}" $(quick) hydra.run.dir="$OUT/$run" \
        > "$OUT/$run.log" 2>&1
    echo "$run: exit $?" | tee -a "$OUT/exits.txt"
}

running=0
for run in $RUNS; do
    train_one "$run" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
