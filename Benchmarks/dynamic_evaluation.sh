#!/usr/bin/env bash
# Dynamic evaluation measured: trains the small preset on tiny Shakespeare (its last 10% held out, as
# training's validation split), then evaluates that held-out 10% statically and dynamically, and prints
# the grid the defaults were chosen from (on the first half of the held-out part only; the second half
# was not looked at while choosing).
#   Benchmarks/dynamic_evaluation.sh [OUT_DIR] [TRAIN_SECONDS]
# A folder that already holds the run is reused (delete it to train again).
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
build
OUT=${1:-/tmp/charrnn-dynamic}
SECONDS_TO_TRAIN=${2:-1500}
CORPUS=$ROOT/../shared/corpora/tinyshakespeare.txt
mkdir -p "$OUT"
if [ ! -f "$OUT/small/best.safetensors" ]; then
    "$CHARRNN" train "$CORPUS" --preset small -o "$OUT/small" --max-time "$SECONDS_TO_TRAIN" --eval-every 500 >"$OUT/train.log"
fi
python3 - "$CORPUS" "$OUT" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
held = text[len(text) - round(len(text) * 0.1):]
half = len(held) // 2
for name, part in (("heldout", held), ("heldout_a", held[:half]), ("heldout_b", held[half:])):
    open(f"{sys.argv[2]}/{name}.txt", "w", encoding="utf-8").write(part)
PY
for part in heldout heldout_a heldout_b; do
    echo "== $part (defaults)"
    "$CHARRNN" eval -c "$OUT/small" "$OUT/$part.txt" --dynamic --threads 1
done
echo "== grid on heldout_a: segment lr decay static_bpc dynamic_bpc"
for seg in 20 50 100; do for lr in 5e-4 1e-3 3e-3; do for decay in 0 1e-3 1e-2 3e-2; do
    bpc=$("$CHARRNN" eval -c "$OUT/small" "$OUT/heldout_a.txt" --dynamic --adapt-segment $seg --adapt-lr $lr \
          --adapt-decay $decay --threads 1 | awk '/^bits per character/ {print $4, $5}')
    echo "$seg $lr $decay $bpc"
done; done; done
