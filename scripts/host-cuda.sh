#!/usr/bin/env bash
# Builds the host stand-in for the CUDA libraries (Tests/HostCUDA/: the driver API, NVRTC,
# cuBLAS and NCCL, run on the CPU) and prints the variables that point charrnn at it, so that the binary's
# whole GPU path runs on a machine without a GPU:
#     eval "$(scripts/host-cuda.sh)"; .build/release/charrnn devices --check
# With --sanitize the kernels are compiled with AddressSanitizer, whose runtime is preloaded: a kernel
# that reads or writes outside its buffers stops the run with a report. It says nothing about speed,
# nor about how a real GPU differs. Usage: scripts/host-cuda.sh [--sanitize] [FOLDER]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SANITIZE=0
if [ "${1:-}" = --sanitize ]; then SANITIZE=1; shift; fi
OUT="${1:-$ROOT/.build/host-cuda}"
CXX="${CXX:-$(command -v clang++ || command -v g++ || command -v c++)}"
mkdir -p "$OUT"
"$CXX" -std=c++17 -O2 -fPIC -shared -o "$OUT/libhostcuda.so.tmp" "$ROOT"/Tests/HostCUDA/*.cpp -ldl -lpthread
mv "$OUT/libhostcuda.so.tmp" "$OUT/libhostcuda.so"
for variable in CHARRNN_LIBCUDA CHARRNN_NVRTC CHARRNN_CUBLAS CHARRNN_NCCL; do echo "export $variable='$OUT/libhostcuda.so'"; done
if [ "$SANITIZE" = 0 ]; then
    echo "export CHARRNN_CACHE_DIR='$OUT/cache'"
    exit 0
fi
runtime=""
for name in libclang_rt.asan-x86_64.so libclang_rt.asan-aarch64.so libasan.so; do
    candidate="$("$CXX" -print-file-name="$name")"
    if [ -f "$candidate" ]; then runtime="$candidate"; break; fi
done
[ -n "$runtime" ] || { echo "host-cuda.sh: $CXX has no AddressSanitizer runtime" >&2; exit 1; }
echo "export LD_PRELOAD='$runtime'"
echo "export ASAN_OPTIONS='detect_leaks=0'"  # the Swift runtime keeps some allocations for the whole process
echo "export CHARRNN_HOST_CUDA_CXXFLAGS='-fsanitize=address -fno-omit-frame-pointer'"
echo "export CHARRNN_CACHE_DIR='$OUT/cache-sanitized'"  # modules compiled with the sanitizer, kept apart
