#!/usr/bin/env bash
# The OpenAI-compatible API against the official `openai` Python client (PyPI, in .venv-openai, made the
# first time) and a load of 64 concurrent client streams. Run by scripts/test.sh after the Swift tests;
# skipped, with a line saying so, only where PyPI cannot be reached.
source "$(dirname "$0")/common.sh"
VENV="$ROOT/.venv-openai"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import openai, pytest" 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    if ! "$VENV/bin/pip" install -q "openai>=1.0" pytest 2>/tmp/charrnn-openai-pip.log; then
        if grep -qiE "connection|resolve|network|unreachable|timed out" /tmp/charrnn-openai-pip.log; then
            echo "test-openai: skipped: PyPI cannot be reached to install the openai client"
            exit 0
        fi
        cat /tmp/charrnn-openai-pip.log >&2
        exit 1
    fi
fi
WORK="$(mktemp -d)"
cd "$WORK"
python3 - <<'PY'
import random
random.seed(1)
words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler", "in", "mind"]
open("text.txt", "w").write("\n".join(" ".join(random.choice(words) for _ in range(8)) for _ in range(600)) + "\n")
open("dinos.txt", "w").write("\n".join(random.choice(["Abro", "Cera", "Dino", "Tyra", "Stego"]) + random.choice(["saurus", "don", "raptor", "ceps"])
                                       for _ in range(400)) + "\n")
PY
SMALL=(--hidden 32 --embed 8 --seq-length 32 --batch-size 8 --threads 1 --sample-length 0 --eval-every 200)
"$CHARRNN" train text.txt -o words --max-steps 200 "${SMALL[@]}" >/dev/null
"$CHARRNN" train dinos.txt --names -o dinos --max-steps 100 "${SMALL[@]}" >/dev/null
export CHARRNN_API_KEY="test-key-$RANDOM"
PORT=$((20000 + RANDOM % 20000))
start_server "$PORT" -c words -c dinos --threads 1 --cors-origin https://example.com --log-level warning
trap 'stop_server; rm -rf "$WORK"' EXIT
export CHARRNN_BASE_URL="http://127.0.0.1:$PORT" CHARRNN_BIN="$CHARRNN" CHARRNN_TEXT_MODEL=words CHARRNN_TEXT_PATH="$WORK/words"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/openai/test_openai_client.py"
"$VENV/bin/python" "$ROOT/Benchmarks/openai_load.py" "$CHARRNN_BASE_URL" "$SERVER" words
stop_server

# A full queue: 503 with Retry-After at once. The request log: one line per request, never the text.
"$CHARRNN" serve -c words --port "$PORT" --max-queue 1 --max-length 100000 --log-level info --threads 1 2> serve.log &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
"$VENV/bin/python" - "$PORT" <<'PY'
import json, os, sys, threading, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def post(body):
    req = urllib.request.Request(base + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["CHARRNN_API_KEY"]})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
long = threading.Thread(target=post, args=({"prompt": "to be", "max_tokens": 100000, "seed": 1},))
long.start()
deadline = time.time() + 10
while json.load(urllib.request.urlopen(base + "/healthz"))["generations_in_flight"] == 0:
    assert time.time() < deadline, "the long generation never started"
    time.sleep(0.01)
status, headers, body = post({"prompt": "whether tis nobler", "max_tokens": 5})
assert status == 503 and headers.get("Retry-After") == "1", (status, headers, body)
error = json.loads(body)["error"]
assert error["type"] == "server_error" and error["code"] == "overloaded", error
long.join()
status, _, body = post({"prompt": "whether tis nobler", "max_tokens": 5})
assert status == 200, (status, body)
print("full queue: 503 with Retry-After; after it drained: 200")
PY
stop_server
grep -q 'POST /v1/completions 503 .* ms 0 characters' serve.log
grep -q 'POST /v1/completions 200 .* ms 5 characters' serve.log
if grep -q "nobler" serve.log; then echo "the request log holds a prompt" >&2; exit 1; fi
echo "request log: $(grep -c 'POST /v1/completions' serve.log) lines, e.g. $(grep 'POST /v1/completions 200' serve.log | tail -1)"
