#!/usr/bin/env bash
# Every test under ThreadSanitizer (a debug build in .build-tsan; the CLI tests run TSan builds of the
# binary too, which exit 66 on a race). Slower than scripts/test.sh; run it after touching threads.
source "$(dirname "$0")/common.sh"
ensure_system_packages
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
swift test --skip-build --sanitize=thread --scratch-path .build-tsan --disable-swift-testing "$@"
