#!/usr/bin/env bash
# Fuzzes `charrnn serve` from its own OpenAPI document with schemathesis (PyPI): hundreds of generated
# requests, checking that none gets a 5xx and that every reply matches the documented schema.
#   scripts/fuzz-api.sh CHECKPOINT [CHECKPOINT...]
source "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || { echo "usage: scripts/fuzz-api.sh CHECKPOINT [CHECKPOINT...]" >&2; exit 64; }
PORT=${PORT:-8091}
ensure_system_packages curl python3-venv
ensure_venv .venv-fuzz schemathesis
build
args=(); for c in "$@"; do args+=(--checkpoint "$c"); done
start_server "$PORT" "${args[@]}" --max-length 300
.venv-fuzz/bin/schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance --max-examples 300
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && echo "the server is still up"
