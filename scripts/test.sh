#!/usr/bin/env bash
# Installs what is missing (OpenBLAS; NVRTC from PyPI to compile the CUDA kernels), builds the fast release build and runs every test against it.
source "$(dirname "$0")/common.sh"
ensure_system_packages
ensure_nvrtc
export CHARRNN_REQUIRE_NVRTC=1
build
swift test --disable-swift-testing "${BUILD_FLAGS[@]}" "$@"
