#!/usr/bin/env python3
"""Load on `charrnn serve` from Python alone (the GPU machine has no wrk): CLIENTS connections, each asking
for LENGTH characters again and again for SECONDS, with its own seed each time. Some of those requests
repeat the seeds of texts first asked for one at a time, and must come back the same: batching under
load changes no text. Prints requests/s, characters/s, latency percentiles and errors, one line per run.

Usage: serve_load.py CHARRNN CHECKPOINT [--device cuda] [--max-batch 64] [--clients 64] [--seconds 20]
                     [--length 200] [--port 18932]
Exits 1 on any failed request or changed text.
"""
import argparse, json, subprocess, sys, threading, time, urllib.error, urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("charrnn")
parser.add_argument("checkpoint")
parser.add_argument("--device", default="cuda")
parser.add_argument("--max-batch", type=int, default=64)
parser.add_argument("--clients", type=int, default=64)
parser.add_argument("--seconds", type=float, default=20)
parser.add_argument("--length", type=int, default=200)
parser.add_argument("--port", type=int, default=18932)
parser.add_argument("--references", type=int, default=16, help="texts asked for alone, then again under load")
args = parser.parse_args()

base = f"http://127.0.0.1:{args.port}"


def generate(seed, timeout=300):
    body = json.dumps({"prompt": "The ", "length": args.length, "temperature": 0.8, "seed": seed}).encode()
    request = urllib.request.Request(base + "/v1/generate", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.load(reply)["text"]


server = subprocess.Popen([args.charrnn, "serve", "-c", args.checkpoint, "--device", args.device, "--port", str(args.port),
                           "--max-batch", str(args.max_batch), "--max-length", str(args.length),
                           "--max-connections", str(max(256, 2 * args.clients))],
                          stderr=subprocess.PIPE, text=True)
try:
    for _ in range(240):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5)
            break
        except OSError:
            if server.poll() is not None:
                sys.exit(f"serve_load.py: the server stopped: {server.stderr.read().strip()}")
            time.sleep(0.5)
    else:
        sys.exit("serve_load.py: the server did not answer /healthz within two minutes")

    alone = {seed: generate(seed) for seed in range(args.references)}
    latencies, errors, changed, characters = [], [], [], 0
    lock = threading.Lock()
    next_seed = [0]
    deadline = time.monotonic() + args.seconds

    def client():
        global characters
        while time.monotonic() < deadline:
            with lock:
                seed = next_seed[0]
                next_seed[0] += 1
            started = time.monotonic()
            try:
                text = generate(seed)
            except (OSError, urllib.error.HTTPError, ValueError, KeyError) as error:
                with lock:
                    errors.append(f"seed {seed}: {error}")
                continue
            with lock:
                latencies.append(time.monotonic() - started)
                characters += len(text)
                if seed in alone and text != alone[seed]:
                    changed.append(seed)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def percentile(p):
        return 1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")

    print(f"serve --device {args.device} --max-batch {args.max_batch}: {args.clients} clients x {args.length} characters, "
          f"{elapsed:.1f} s: {len(latencies)} requests ({len(latencies) / elapsed:.1f}/s), {characters / elapsed:,.0f} chars/s, "
          f"latency p50 {percentile(50):.0f} ms, p90 {percentile(90):.0f} ms, p99 {percentile(99):.0f} ms; "
          f"{len(errors)} failed; {min(args.references, next_seed[0])} texts asked for alone and again under load, "
          f"{len(changed)} changed")
    for line in errors[:5]:
        print("  failed:", line)
    if changed:
        print("  changed under load: seeds", changed[:10])
finally:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
sys.exit(1 if errors or changed else 0)
