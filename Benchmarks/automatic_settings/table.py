#!/usr/bin/env python3
"""Prints the markdown table of docs/training.md from the results of Benchmarks/automatic_settings.sh:
for each corpus and budget, the best validation loss of the settings chosen with no option ("auto"),
of char-rnn's defaults, and of the best run of the grid (every other label, char-rnn's included)."""
import csv, sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
runs = defaultdict(dict)
for r in rows:
    runs[(r["corpus"], int(r["seconds"]))][r["label"]] = r
order = ["shakespeare", "linux", "tang", "dinos", "surnames"]
names = {"shakespeare": "tiny Shakespeare", "linux": "Linux scheduler source", "tang": "Tang poems",
         "dinos": "dinosaur names (`--names`)", "surnames": "surnames, 18 languages (a folder)"}
print("| text | budget | chosen | char-rnn's defaults | best of the grid (runs in it) | chosen - grid's best |")
print("|---|---|---|---|---|---|")
for (corpus, seconds) in sorted(runs, key=lambda k: (order.index(k[0]), k[1])):
    got = runs[(corpus, seconds)]
    auto = got.get("auto")
    base = got.get("char-rnn")
    if not auto or not base:
        continue
    grid = {k: v for k, v in got.items() if not k.startswith("auto")}
    best_label = min(grid, key=lambda k: float(grid[k]["best_val"]))
    best = float(grid[best_label]["best_val"])
    a = float(auto["best_val"])
    b = float(base["best_val"])
    chosen, theirs = (f"**{a:.4f}**", f"{b:.4f}") if a < b else (f"{a:.4f}", f"**{b:.4f}**")
    print(f"| {names[corpus]} | {seconds // 60} min | {chosen} | {theirs} | "
          f"{best:.4f} ({best_label}; {len(grid)}) | {a - best:+.4f} |")
