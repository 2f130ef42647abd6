#!/usr/bin/env bash
# Everything the GPU issues need checked and measured, in one go on the GPU machine (no Swift there):
#   1. charrnn devices --check: every kernel, the GPU model and the training step against the CPU;
#   2. gpu_compare.py: the GPU bench beside PyTorch's anchor, row by row, with peak GPU memory, for each
#      of PRECISIONS (default "fp32 tf32 bf16");
#   3. a training run on the GPU (2x512 LSTM, dropout 0.25, tiny Shakespeare) for TRAIN_SECONDS,
#      then a 300-character sample from its best checkpoint;
#   4. with NAMES_DIR (a folder of names by language): a names-by-category model and a classifier
#      trained on the GPU, ten new names in one category, and the classifier's test accuracy.
# Usage: Benchmarks/gpu_session.sh CHARRNN BENCH_TORCH_GPU_PY CORPUS [LOG_DIR]
# Build CHARRNN on a development machine as ../shared/gpu/README.md says (static Swift runtime).
set -uo pipefail
BIN=$1 TORCH_BENCH=$2 CORPUS=$3 LOGS=${4:-gpu-logs}
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$LOGS"
"$BIN" devices --check 2>&1 | tee "$LOGS/devices-check.txt"
for precision in ${PRECISIONS:-fp32 tf32 bf16}; do
    python3 "$HERE/gpu_compare.py" "$BIN" "$TORCH_BENCH" --seconds "${BENCH_SECONDS:-3}" --precision "$precision" 2>&1 \
        | tee "$LOGS/bench-$precision.txt"
done
"$BIN" train "$CORPUS" --device cuda --layers 2 --hidden 512 --dropout 0.25 --max-time "${TRAIN_SECONDS:-240}" \
    --eval-every 500 -o "$LOGS/run" 2>&1 | tee "$LOGS/train.txt"
"$BIN" sample -c "$LOGS/run/best.safetensors" --device cuda --length 300 --temperature 0.8 --seed 1 2>&1 | tee "$LOGS/sample.txt"
if [ -n "${NAMES_DIR:-}" ]; then
    "$BIN" train "$NAMES_DIR" --device cuda --hidden 128 --max-steps 2000 --eval-every 500 -o "$LOGS/names" 2>&1 | tee "$LOGS/names.txt"
    "$BIN" sample -c "$LOGS/names" --device cuda --category Russian --count 10 --unique --seed 1 2>&1 | tee -a "$LOGS/names.txt"
    "$BIN" classify train "$NAMES_DIR" --device cuda --epochs 6 -o "$LOGS/classifier" 2>&1 | tee "$LOGS/classifier.txt"
fi
