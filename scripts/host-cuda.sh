#!/usr/bin/env bash
# Builds the host stand-in for the CUDA libraries (Tests/HostCUDA/host_cuda.cpp: the driver API, NVRTC
# and cuBLAS, run on the CPU) and prints the variables that point charrnn at it, so that the binary's
# whole GPU path runs on a machine without a GPU:
#     eval "$(scripts/host-cuda.sh)"; .build/release/charrnn devices --check
# It says nothing about speed, nor about how a real GPU differs. Usage: scripts/host-cuda.sh [FOLDER]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/.build/host-cuda}"
CXX="${CXX:-$(command -v clang++ || command -v g++ || command -v c++)}"
mkdir -p "$OUT"
"$CXX" -std=c++17 -O2 -fPIC -shared -o "$OUT/libhostcuda.so.tmp" "$ROOT/Tests/HostCUDA/host_cuda.cpp" -ldl -lpthread
mv "$OUT/libhostcuda.so.tmp" "$OUT/libhostcuda.so"
for variable in CHARRNN_LIBCUDA CHARRNN_NVRTC CHARRNN_CUBLAS; do echo "export $variable='$OUT/libhostcuda.so'"; done
echo "export CHARRNN_CACHE_DIR='$OUT/cache'"
