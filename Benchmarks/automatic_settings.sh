#!/usr/bin/env bash
# Trains each line of a plan for its time budget, one run after another on an otherwise quiet machine,
# and appends one row per run to a results file: the best validation loss (the model best.safetensors
# holds), the step it was reached at, the steps run and the training speed.
# A plan line: corpus <tab> seconds <tab> label <tab> options. The corpora are the shared ones:
# shakespeare, linux, tang, dinos (a names list: --names), surnames (the folder of 18 languages).
# Usage: Benchmarks/automatic_settings.sh PLAN RESULTS.tsv [threads, default 2]
# Runs already in RESULTS (same corpus, seconds and label) are skipped, so a stopped plan continues.
source "$(dirname "$0")/../scripts/common.sh"
CHARRNN="${CHARRNN_BIN:-$CHARRNN}"
PLAN="$1"; RESULTS="$2"; THREADS="${3:-2}"
CORPORA="${CORPORA:-$ROOT/../shared/corpora}"
[ -f "$PLAN" ] && [ -n "$RESULTS" ] || { echo "usage: $0 PLAN RESULTS.tsv [threads]" >&2; exit 2; }
[ -x "$CHARRNN" ] || build
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -f "$RESULTS" ] || printf "corpus\tseconds\tlabel\tbest_val\tbest_step\tsteps\tchars_per_s\tchoice\toptions\n" > "$RESULTS"

corpus() {
    case "$1" in
        shakespeare) echo "$CORPORA/tinyshakespeare.txt" ;;
        linux) echo "$CORPORA/linux_kernel_sched.c.txt" ;;
        tang) echo "$CORPORA/tang300.txt" ;;
        dinos) echo "$CORPORA/dinos.txt --names" ;;
        surnames) echo "$CORPORA/names" ;;
        *) echo "unknown corpus $1" >&2; exit 2 ;;
    esac
}

while IFS=$'\t' read -r name seconds label options; do
    [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
    if awk -F'\t' -v c="$name" -v s="$seconds" -v l="$label" '$1==c && $2==s && $3==l {f=1} END {exit !f}' "$RESULTS"; then continue; fi
    out="$work/run"; rm -rf "$out"
    # shellcheck disable=SC2046,SC2086
    "$CHARRNN" train $(corpus "$name") -o "$out" --max-time "$seconds" --threads "$THREADS" --sample-length 0 \
        --print-every 1000000 $options > "$work/log" 2>&1 || { echo "failed: $name $label" >&2; cat "$work/log" >&2; continue; }
    best="$(awk -F, 'NR > 1 && $4 != "" && (b == "" || $4 < b) {b = $4; s = $1} END {print b "\t" s}' "$out/loss.csv")"
    steps="$(tail -1 "$out/loss.csv" | cut -d, -f1)"
    rate="$(sed -n 's/.*, \([0-9]*\) chars\/s; checkpoints.*/\1/p' "$work/log" | tail -1)"
    choice="$(sed -n 's/^settings: //p' "$work/log" | head -1)"
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$name" "$seconds" "$label" "$best" "$steps" "$rate" "$choice" "$options" >> "$RESULTS"
    printf "%s %s %s: best val %s\n" "$name" "$seconds" "$label" "$best"
done < "$PLAN"
