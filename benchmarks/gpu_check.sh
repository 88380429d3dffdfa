#!/usr/bin/env bash
# The GPU checks of docs/benchmarks.md in one unattended run (about 4 minutes on one GPU).
#
#   bash benchmarks/gpu_check.sh OUT_DIR            # on the GPU machine, from the repository root
#   bash benchmarks/gpu_check.sh OUT_DIR --quick    # anywhere: a few CPU steps, to see it run end to end
#
# Needs python3 with torch, pytorch-lightning, torchmetrics, hydra-core, omegaconf and
# torch-fidelity importable, and Fashion-MNIST in $GENSTYLE_DATA (or Debian's package). Writes,
# flat, into OUT_DIR (6 files):
#   env.txt           nvidia-smi, versions, the device torch sees
#   gpu_tests.txt     pytest -m gpu tests/gpu: no host sync in a step (set_sync_debug_mode), data
#                     on the device, bf16 + compile, KID and precision/recall on the GPU vs the CPU
#   throughput.json   evaluation of 10,000 samples, then images/s per model/variant/batch size,
#                     pipeline vs plain loop, peak memory (written after every part)
#   throughput.md     the same as a table for docs/benchmarks.md
#   throughput.log    the benchmark's progress and errors
#   summary.txt       exit status of every part, and the headline ratios
# A part that fails or runs out of time is recorded and the next one still runs.
set -u
OUT=${1:?usage: bash benchmarks/gpu_check.sh OUT_DIR [--quick]}
MODE=${2:-}
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PYTHONPATH="$ROOT/src:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export WANDB_MODE=offline WANDB_SILENT=true
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/genstyle-inductor-cache}
PY=${PYTHON:-python3}
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

MODELS=dcgan,vae,cyclegan   # DCGAN first: the targets are about it, and a cut-short run keeps it
[ -f conf/model/stargan_v2.yaml ] && MODELS="$MODELS,stargan_v2"
if [ "$MODE" = "--quick" ]; then
    DEVICE=cpu
    BENCH=(--device cpu --models "$MODELS" --batch-sizes 32 --variants eager --steps 2 --warmup 1 --repeats 1
           --eval-samples 500 --eval-repeats 1)
    TEST_TIMEOUT=120; BENCH_TIMEOUT=600
else
    DEVICE=cuda
    # eager float32 at the default and a large batch for every model; bf16 + compile at large
    # batches for the families the targets are about (compilation happens in the warm-up steps).
    BENCH=(--device cuda --models "$MODELS" --batch-sizes 128,4096 --variants eager,fast
           --fast-models dcgan,vae --fast-batch-sizes 4096,16384 --steps 30 --warmup 4 --repeats 2
           --eval-samples 10000 --eval-repeats 3)
    TEST_TIMEOUT=75; BENCH_TIMEOUT=165
fi

{
    date -u
    nvidia-smi || echo "nvidia-smi: not available"
    "$PY" - <<'PYEOF'
import platform, torch, pytorch_lightning as pl
print("python", platform.python_version(), "| torch", torch.__version__, "| lightning", pl.__version__)
print("cuda available:", torch.cuda.is_available(), "| device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
import genstyle; print("genstyle from", genstyle.__file__)
PYEOF
} > "$OUT/env.txt" 2>&1
echo "env: $?" >> "$SUMMARY"

timeout -k 15 "$TEST_TIMEOUT" "$PY" -m pytest -q -o addopts="" -p no:cacheprovider -m gpu -rA tests/gpu > "$OUT/gpu_tests.txt" 2>&1
echo "gpu tests (pytest -m gpu tests/gpu): exit $? (124 = timed out); $(tail -1 "$OUT/gpu_tests.txt")" >> "$SUMMARY"

timeout -k 15 "$BENCH_TIMEOUT" "$PY" benchmarks/throughput.py "${BENCH[@]}" \
    --out "$OUT/throughput.json" --markdown "$OUT/throughput.md" > "$OUT/throughput.log" 2>&1
echo "throughput ($DEVICE): exit $? (124 = timed out; the JSON holds every part finished before)" >> "$SUMMARY"

"$PY" - "$OUT/throughput.json" >> "$SUMMARY" 2>&1 <<'PYEOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as err:
    sys.exit(f"no results: {err}")
print("device:", r["device"])
ev = r.get("evaluation", {})
print("evaluation:", f"{ev['seconds']:.2f} s for {ev['samples']} samples" if "seconds" in ev else ev.get("error"))
for name, m in r["models"].items():
    keys = ("baseline", "best_pipeline", "best_plain", "best_pipeline_vs_best_plain", "best_pipeline_vs_baseline", "absent")
    print(name, {k: m[k] for k in keys if k in m})
PYEOF
cat "$SUMMARY"
