#!/usr/bin/env bash
# Installs what is missing, builds the fast release build and runs every test against it.
source "$(dirname "$0")/common.sh"
ensure_system_packages
build
swift test --disable-swift-testing "${BUILD_FLAGS[@]}" "$@"
