#!/usr/bin/env bash
# Every test under ThreadSanitizer (a debug build in .build-tsan; the CLI tests run TSan builds of the
# binary too, which exit 66 on a race). Slower than scripts/test.sh; run it after touching threads.
source "$(dirname "$0")/common.sh"
ensure_system_packages
ensure_nvrtc
export CHARRNN_REQUIRE_NVRTC=1
# NVRTC opens libnvrtc-builtins from its own folder; through ThreadSanitizer's dlopen the search starts
# from the sanitizer's runtime instead, so the folder is named for the loader.
export LD_LIBRARY_PATH="$(dirname "$CHARRNN_NVRTC")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
swift test --skip-build --sanitize=thread --scratch-path .build-tsan --disable-swift-testing "$@"
