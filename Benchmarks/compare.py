#!/usr/bin/env python3
"""Runs charrnn's benchmark and PyTorch's reference benchmark alternately, configuration by
configuration, on the same machine in one run, and prints chars/s for both and their ratio.

Usage (scripts/bench-vs-pytorch.sh sets this up): compare.py CHARRNN PYTORCH_BENCH_DIR [--threads 2 1]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

# (charrnn bench --only N, PyTorch script, its arguments); the order of `charrnn bench`'s table.
CONFIGS = [
    (1, "bench_train.py", "--cell lstm --layers 2 --hidden 128 --embed 64 --batch 50 --seq 50 --steps 40"),
    (2, "bench_train.py", "--cell lstm --layers 2 --hidden 256 --embed 64 --batch 64 --seq 100 --steps 12"),
    (3, "bench_train.py", "--cell lstm --layers 2 --hidden 512 --embed 64 --batch 50 --seq 50 --steps 12"),
    (4, "bench_train.py", "--cell lstm --layers 3 --hidden 512 --embed 64 --batch 64 --seq 128 --steps 4"),
    (5, "bench_train.py", "--cell gru --layers 2 --hidden 256 --embed 64 --batch 64 --seq 100 --steps 12"),
    (6, "bench_train.py", "--cell rnn --layers 1 --hidden 100 --embed 64 --batch 1 --seq 200 --steps 300"),
    (7, "bench_sample.py", "--cell lstm --layers 2 --hidden 512 --embed 64 --n 600 --batch 1"),
    (8, "bench_sample.py", "--cell lstm --layers 2 --hidden 128 --embed 64 --n 4000 --batch 1"),
    (9, "bench_sample.py", "--cell lstm --layers 2 --hidden 512 --embed 64 --n 300 --batch 32"),
]


def last_json(out):
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in: " + out[-500:])


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(" ".join(cmd) + " failed: " + p.stderr[-800:])
    return last_json(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("charrnn")
    ap.add_argument("pytorch_dir")
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--no-mkldnn", action="store_true", help="also run PyTorch with oneDNN off")
    ap.add_argument("--only", type=int, nargs="*", help="configuration numbers to run")
    a = ap.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch-support") + \
        os.pathsep + env.get("PYTHONPATH", "")
    rows = []
    for threads in a.threads:
        for n, script, args in CONFIGS:
            if a.only and n not in a.only:
                continue
            ours = run([a.charrnn, "bench", "--only", str(n), "--threads", str(threads), "--seconds", str(a.seconds)])
            torch_cmd = [sys.executable, os.path.join(a.pytorch_dir, script)] + args.split() + ["--threads", str(threads)]
            theirs = run(torch_cmd, env)
            plain = run(torch_cmd + ["--no-mkldnn"], env) if a.no_mkldnn else None
            rows.append((ours["config"], threads, ours, theirs, plain))
            best = max(theirs["chars_per_sec"], plain["chars_per_sec"] if plain else 0)
            print(f"{ours['config']:<34} {threads}  charrnn {ours['chars_per_sec']:>10.0f}  "
                  f"pytorch {theirs['chars_per_sec']:>9.0f}"
                  + (f"  (no oneDNN {plain['chars_per_sec']:>9.0f})" if plain else "")
                  + f"  ratio {ours['chars_per_sec'] / best:5.2f}x", file=sys.stderr, flush=True)
    info = rows[0][3] if rows else {}
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; torch {info.get('torch')}, charrnn built with OpenBLAS\n")
    hdr = "| config | threads | charrnn chars/s | PyTorch chars/s |"
    if a.no_mkldnn:
        hdr += " PyTorch no-oneDNN |"
    print(hdr + " ratio (vs better PyTorch) | charrnn peak RSS MB | PyTorch peak RSS MB |")
    print("|" + "---|" * (hdr.count("|") + 2))
    for name, threads, ours, theirs, plain in rows:
        best = max(theirs["chars_per_sec"], plain["chars_per_sec"] if plain else 0)
        line = f"| {name} | {threads} | {ours['chars_per_sec']:,.0f} | {theirs['chars_per_sec']:,.0f} |"
        if a.no_mkldnn:
            line += f" {plain['chars_per_sec']:,.0f} |"
        line += f" {ours['chars_per_sec'] / best:.2f}x | {ours['peak_rss_mb']:.0f} | {theirs['peak_rss_mb']:.0f} |"
        print(line)


if __name__ == "__main__":
    main()
