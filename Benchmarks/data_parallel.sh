#!/usr/bin/env bash
# Data-parallel training on one machine: N ranks x 1 thread (mpirun) against 1 process x N threads,
# alternating, on tiny Shakespeare; prints a table of training characters per second. Needs
# openmpi-bin. Usage: Benchmarks/data_parallel.sh [seconds per run] [repetitions]
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"
SECONDS_PER_RUN="${1:-15}"
REPS="${2:-2}"
RANKS="${RANKS:-2}"
TEXT="${TEXT:-$ROOT/../shared/corpora/tinyshakespeare.txt}"
[ -f "$TEXT" ] || { echo "no text at $TEXT (set TEXT)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun not found (apt install openmpi-bin)" >&2; exit 1; }
[ -x "$CHARRNN" ] || build
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rate() { sed -n 's/.*, \([0-9]*\) chars\/s; checkpoints.*/\1/p' | tail -1; }
run() {  # the command before 'train', then '--', then options after it
    local out="$work/run" before=()
    while [ "$1" != -- ]; do before+=("$1"); shift; done
    shift
    rm -rf "$out"
    "${before[@]}" train "$TEXT" -o "$out" --max-time "$SECONDS_PER_RUN" --eval-every 1000000 --sample-length 0 \
        --val-fraction 0.01 $MODEL "$@" 2>/dev/null | rate
}

printf "| model | batch x seq | 1 process x %d threads | %d ranks x 1 thread | ranks / threads |\n" "$RANKS" "$RANKS"
printf "|---|---|---|---|---|\n"
for config in "lstm 2x128:--hidden 128 --batch-size 50 --seq-length 50" \
              "lstm 2x256:--hidden 256 --batch-size 64 --seq-length 64" \
              "lstm 2x512:--hidden 512 --batch-size 64 --seq-length 100"; do
    name="${config%%:*}"; MODEL="${config#*:}"
    threads=(); ranks=()
    for ((r = 0; r < REPS; r++)); do
        threads+=("$(run "$CHARRNN" -- --threads "$RANKS")")
        ranks+=("$(run mpirun -np "$RANKS" "$CHARRNN" --)")
    done
    best() { printf "%s\n" "$@" | sort -n | tail -1; }
    t="$(best "${threads[@]}")"; m="$(best "${ranks[@]}")"
    shape="$(echo "$MODEL" | sed 's/.*--batch-size \([0-9]*\) --seq-length \([0-9]*\).*/\1 x \2/')"
    printf "| %s | %s | %s | %s | %.2f |\n" "$name" "$shape" "$t" "$m" "$(echo "$m / $t" | bc -l)"
done
