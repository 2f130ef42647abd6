#!/usr/bin/env bash
# Installs what is missing (OpenBLAS; NVRTC from PyPI to compile the CUDA kernels), builds the fast release build and runs every test against it.
source "$(dirname "$0")/common.sh"
# Open MPI's mpirun for the data-parallel tests (charrnn itself loads libmpi at run time, if at all).
ensure_system_packages openmpi-bin
ensure_nvrtc
export CHARRNN_REQUIRE_NVRTC=1
[ "$(uname -s)" = Linux ] && export CHARRNN_REQUIRE_MPI=1
# Each kernel's Swift launcher is the one its CUDA signature gives, and every call site uses one.
python3 scripts/kernel-launchers.py --check
build
# The tests reach the library through its package API: without testable imports the test build reuses the release build
# above instead of compiling every module again with testability (half of a fresh run's time).
swift test --disable-swift-testing --disable-testable-imports "${BUILD_FLAGS[@]}" "$@"
# The OpenAI-compatible API through the official openai client, and 64 concurrent streams (a whole run only).
if [ $# -eq 0 ]; then bash scripts/test-openai.sh; fi
# The web page in headless Chromium (a whole run only).
if [ $# -eq 0 ]; then bash scripts/test-page.sh; fi
