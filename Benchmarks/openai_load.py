#!/usr/bin/env python3
"""64 concurrent streamed completions through the official openai client against `charrnn serve`:
errors, latency percentiles (first chunk and whole), the server's resident memory before and after,
and what /metrics says of the load. Exits 1 on any error or when /metrics does not show the load.

Usage: Benchmarks/openai_load.py BASE_URL SERVER_PID MODEL [STREAMS] [ROUNDS]"""
import asyncio, os, statistics, sys, time, urllib.request

import openai

BASE, PID, MODEL = sys.argv[1], int(sys.argv[2]), sys.argv[3]
STREAMS = int(sys.argv[4]) if len(sys.argv) > 4 else 64
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 2
KEY = os.environ.get("CHARRNN_API_KEY", "none")


def rss_mb():
    return int(open(f"/proc/{PID}/status").read().split("VmRSS:")[1].split()[0]) / 1024


def metric(text, name):
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name) and not line.startswith("#"))


def metrics():
    req = urllib.request.Request(BASE + "/metrics", headers={"Authorization": "Bearer " + KEY})
    return urllib.request.urlopen(req).read().decode()


async def one(client, seed):
    start = time.perf_counter()
    first, text = None, ""
    stream = await client.completions.create(model=MODEL, prompt="the ", max_tokens=200, seed=seed, stream=True)
    async for chunk in stream:
        for c in chunk.choices:
            if first is None and c.text:
                first = time.perf_counter() - start
            text += c.text
    return first, time.perf_counter() - start, len(text)


async def main():
    client = openai.AsyncOpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0, timeout=120)
    before, m0 = rss_mb(), metrics()
    firsts, totals, errors, chars = [], [], 0, 0
    started = time.perf_counter()
    for r in range(ROUNDS):
        results = await asyncio.gather(*(one(client, r * STREAMS + s) for s in range(STREAMS)), return_exceptions=True)
        for res in results:
            if isinstance(res, Exception):
                errors += 1
                print("error:", repr(res)[:200], file=sys.stderr)
            else:
                firsts.append(res[0]); totals.append(res[1]); chars += res[2]
    elapsed = time.perf_counter() - started
    await client.close()
    after, m1 = rss_mb(), metrics()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] * 1000
    print(f"load: {STREAMS} concurrent streams x {ROUNDS} rounds, {len(totals)} completed, {errors} errors, "
          f"{chars} characters in {elapsed:.1f} s ({chars / elapsed:.0f} chars/s)")
    if totals:
        print(f"first chunk ms: p50 {q(firsts, .5):.0f}, p90 {q(firsts, .9):.0f}, p99 {q(firsts, .99):.0f}; "
              f"whole ms: p50 {q(totals, .5):.0f}, p90 {q(totals, .9):.0f}, p99 {q(totals, .99):.0f}")
    served = metric(m1, 'charrnn_http_requests_total{route="/v1/completions"') - metric(m0, 'charrnn_http_requests_total{route="/v1/completions"')
    generated = metric(m1, "charrnn_characters_generated_total") - metric(m0, "charrnn_characters_generated_total")
    steps = metric(m1, "charrnn_batch_rows_count") - metric(m0, "charrnn_batch_rows_count")
    rows = metric(m1, "charrnn_batch_rows_sum") - metric(m0, "charrnn_batch_rows_sum")
    print(f"server RSS: {before:.0f} MB before, {after:.0f} MB after; /metrics: {served:.0f} completions, "
          f"{generated:.0f} characters, {steps:.0f} batched steps of {rows / max(steps, 1):.1f} rows on average")
    ok = errors == 0 and served >= STREAMS * ROUNDS and generated >= chars
    sys.exit(0 if ok else 1)


asyncio.run(main())
