#!/usr/bin/env bash
# Loads the web page of `charrnn serve` in headless Chromium (Debian's chromium and chromium-driver),
# types a prime, presses Generate, waits for the text and saves a screenshot.
#   scripts/page-check.sh SCREENSHOT.png PRIME CHECKPOINT [CHECKPOINT...]
source "$(dirname "$0")/common.sh"
[ $# -ge 3 ] || { echo "usage: scripts/page-check.sh SCREENSHOT.png PRIME CHECKPOINT [CHECKPOINT...]" >&2; exit 64; }
SHOT=$(realpath -m "$1"); PRIME=$2; shift 2
PORT=${PORT:-8090}
ensure_system_packages chromium chromium-driver curl
if [ ! -x .venv-web/bin/python ]; then
    python3 -m venv .venv-web
    .venv-web/bin/pip install -q selenium
fi
build
BIN=$(swift build "${BUILD_FLAGS[@]}" --show-bin-path)/charrnn
args=(); for c in "$@"; do args+=(--checkpoint "$c"); done
"$BIN" serve "${args[@]}" --port "$PORT" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
.venv-web/bin/python "$(dirname "$0")/serve/page_check.py" "http://127.0.0.1:$PORT/" "$PRIME" "$SHOT"
