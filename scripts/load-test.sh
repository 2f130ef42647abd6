#!/usr/bin/env bash
# Load test of `charrnn serve` on loopback: CLIENTS concurrent connections each asking for LENGTH
# characters, for DURATION, once with continuous batching (--max-batch 64) and once without
# (--max-batch 1). Prints wrk's figures and a summary table.
#   scripts/load-test.sh CHECKPOINT [PROMPT]
# Environment: CLIENTS (64), DURATION (30s), LENGTH (200), PORT (8089), STREAM (1: server-sent events).
source "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || { echo "usage: scripts/load-test.sh CHECKPOINT [PROMPT]" >&2; exit 64; }
CHECKPOINT=$1
export PROMPT=${2:-"The "}
export LENGTH=${LENGTH:-200}
export STREAM=${STREAM:-0}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-30s}
PORT=${PORT:-8089}
ensure_system_packages wrk curl
build
results=()
for batch in 64 1; do
    start_server "$PORT" --checkpoint "$CHECKPOINT" --max-batch "$batch" --max-length "$LENGTH"
    echo "== --max-batch $batch: $CLIENTS clients, $LENGTH characters each, $DURATION"
    out=$(wrk -t 2 -c "$CLIENTS" -d "$DURATION" --timeout 120s --latency -s "$(dirname "$0")/serve/generate.lua" "http://127.0.0.1:$PORT")
    echo "$out"
    health=$(curl -sf "http://127.0.0.1:$PORT/healthz")
    stop_server
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
    sockerr=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out"); sockerr=${sockerr:-0}
    meanbatch=$(python3 -c "import json,sys; h=json.loads(sys.argv[1]); print(round(h['rows']/max(h['steps'],1),1))" "$health")
    chars=$(python3 -c "print(round(float('$rps') * $LENGTH))")
    results+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$batch" "$rps" "$chars" "$p50" "$p99" "$((non2xx + sockerr))" "$meanbatch")")
done
echo
echo "| --max-batch | requests/s | characters/s | p50 latency | p99 latency | errors | mean batch |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
