#!/usr/bin/env python3
"""Prints the markdown table of docs/training.md from the results of Benchmarks/automatic_settings.sh:
for each corpus and budget, the best validation loss of the settings chosen with no option ("auto"),
of char-rnn's defaults, and of the best settings of the grid (every other label, char-rnn's included).
A label ending in -seedN is another seed of the same settings: a setting's loss is the mean over its
seeds, and the table says how many there were."""
import csv, re, sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
runs = defaultdict(lambda: defaultdict(list))
for r in rows:
    setting = re.sub(r"-seed\d+$", "", r["label"])
    runs[(r["corpus"], int(r["seconds"]))][setting].append(float(r["best_val"]))
order = ["shakespeare", "linux", "tang", "dinos", "surnames"]
names = {"shakespeare": "tiny Shakespeare", "linux": "Linux scheduler source", "tang": "Tang poems",
         "dinos": "dinosaur names (`--names`)", "surnames": "surnames, 18 languages (a folder)"}


def mean(losses):
    return sum(losses) / len(losses)


def shown(losses):
    return f"{mean(losses):.4f}" + (f" ({len(losses)} seeds)" if len(losses) > 1 else "")


print("| text | budget | chosen | char-rnn's defaults | best of the grid (settings in it) | chosen - grid's best |")
print("|---|---|---|---|---|---|")
for (corpus, seconds) in sorted(runs, key=lambda k: (order.index(k[0]), k[1])):
    got = runs[(corpus, seconds)]
    auto, base = got.get("auto"), got.get("char-rnn")
    if not auto or not base:
        continue
    grid = {k: v for k, v in got.items() if k != "auto"}
    best_label = min(grid, key=lambda k: mean(grid[k]))
    best = mean(grid[best_label])
    chosen, theirs = shown(auto), shown(base)
    if mean(auto) < mean(base):
        chosen = f"**{chosen}**"
    else:
        theirs = f"**{theirs}**"
    print(f"| {names[corpus]} | {seconds // 60} min | {chosen} | {theirs} | "
          f"{shown(grid[best_label])} ({best_label}; {len(grid)}) | {mean(auto) - best:+.4f} |")
