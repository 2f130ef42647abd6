#!/usr/bin/env bash
# Uses the web page of `charrnn serve` in headless Chromium (Debian's chromium and chromium-driver) at a
# desktop and a phone width, as scripts/serve/page_check.py says, and saves screenshots in OUT_DIR.
#   scripts/page-check.sh OUT_DIR CHECKPOINT [CHECKPOINT...]   (a language model, and a classifier if any)
source "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || { echo "usage: scripts/page-check.sh OUT_DIR CHECKPOINT [CHECKPOINT...]" >&2; exit 64; }
OUT=$(realpath -m "$1"); shift
mkdir -p "$OUT"
PORT=${PORT:-8090}
ensure_system_packages chromium chromium-driver curl python3-venv
ensure_venv .venv-web selenium
build
args=(); for c in "$@"; do args+=(--checkpoint "$c"); done
start_server "$PORT" "${args[@]}"
.venv-web/bin/python scripts/serve/page_check.py "http://127.0.0.1:$PORT/" "$OUT"
