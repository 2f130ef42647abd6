#!/usr/bin/env bash
# Loads the web page of `charrnn serve` in headless Chromium (Debian's chromium and chromium-driver),
# types a prime, presses Generate, waits for the text and saves a screenshot.
#   scripts/page-check.sh SCREENSHOT.png PRIME CHECKPOINT [CHECKPOINT...]
source "$(dirname "$0")/common.sh"
[ $# -ge 3 ] || { echo "usage: scripts/page-check.sh SCREENSHOT.png PRIME CHECKPOINT [CHECKPOINT...]" >&2; exit 64; }
SHOT=$(realpath -m "$1"); PRIME=$2; shift 2
PORT=${PORT:-8090}
ensure_system_packages chromium chromium-driver curl python3-venv
ensure_venv .venv-web selenium
build
args=(); for c in "$@"; do args+=(--checkpoint "$c"); done
start_server "$PORT" "${args[@]}"
.venv-web/bin/python scripts/serve/page_check.py "http://127.0.0.1:$PORT/" "$PRIME" "$SHOT"
