#!/usr/bin/env bash
# charrnn against the PyTorch reference benchmarks, side by side in one run, printed as a table of ratios.
# Creates .venv-torch (pip install torch numpy, about 5 GB) the first time.
# Usage: scripts/bench-vs-pytorch.sh [compare.py options, e.g. --threads 2 --no-mkldnn]
source "$(dirname "$0")/common.sh"
ensure_system_packages python3 python3-venv
build --product charrnn
PYTORCH_BENCH="${PYTORCH_BENCH:-$ROOT/../shared/bench/pytorch}"
[ -f "$PYTORCH_BENCH/bench_train.py" ] || { echo "no PyTorch reference benchmarks at $PYTORCH_BENCH (set PYTORCH_BENCH)" >&2; exit 1; }
ensure_venv "$ROOT/.venv-torch" torch numpy
"$ROOT/.venv-torch/bin/python" "$ROOT/Benchmarks/compare.py" "$CHARRNN" "$PYTORCH_BENCH" "$@"
