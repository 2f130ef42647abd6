#!/usr/bin/env bash
# The web page in headless Chromium (scripts/page-check.sh) against a language model and a names
# classifier trained here in a few seconds: example primes, two samples, greedy, copy buttons, a
# classifier's error beside its box, at a desktop and a phone width. Run by scripts/test.sh after the
# Swift tests; skipped, with a line saying so, only where Chromium cannot be installed.
source "$(dirname "$0")/common.sh"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if ! ensure_system_packages chromium chromium-driver 2>/tmp/charrnn-page-apt.log; then
        echo "test-page: skipped: chromium and chromium-driver cannot be installed ($(tail -1 /tmp/charrnn-page-apt.log))"
        exit 0
    fi
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK" <<'PY'
import os, random, string, sys
work = sys.argv[1]
random.seed(2)
speakers = ["ROMEO:", "JULIET:", "NURSE:"]
words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler", "in", "mind"]
lines = []
for _ in range(500):
    lines.append(random.choice(speakers))
    lines.append(" ".join(random.choice(words) for _ in range(7)))
    lines.append("")
open(os.path.join(work, "verse.txt"), "w").write("\n".join(lines) + "\n")
os.makedirs(os.path.join(work, "names"))
stems = {"Latin": ["Mar", "Jul", "Aur", "Cla"], "Nordic": ["Sig", "Thor", "Bjor", "Ulf"]}
ends = {"Latin": ["ius", "ia", "ianus", "illa"], "Nordic": ["sen", "dottir", "son", "vik"]}
for name in stems:
    items = {random.choice(stems[name]) + random.choice(ends[name]) + random.choice("aeiou" * 2 + "nrst") for _ in range(200)}
    # Every letter seen, so that the page check's probe name (Dovesky) is one the classifier can read.
    items |= {"".join(random.choice(string.ascii_letters) for _ in range(7)) for _ in range(20)}
    items = sorted(items)
    open(os.path.join(work, "names", name + ".txt"), "w").write("\n".join(items) + "\n")
PY
"$CHARRNN" train "$WORK/verse.txt" -o "$WORK/verse" --max-steps 300 --hidden 64 --seq-length 32 --batch-size 16 \
    --sample-length 0 --eval-every 100 --threads 2 >/dev/null
"$CHARRNN" classify train "$WORK/names" -o "$WORK/names-classifier" --epochs 3 --hidden 32 --threads 2 >/dev/null
PORT=$((20000 + RANDOM % 20000)) bash "$ROOT/scripts/page-check.sh" "$WORK/shots" "$WORK/verse" "names=$WORK/names-classifier"
