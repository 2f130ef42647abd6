#!/usr/bin/env bash
# Everything the GPU issues need checked and measured on the GPU machine (no Swift there), in stages
# that each fit one device call of at most 10 minutes:
#   check  charrnn devices --check: every kernel, the GPU model, the training step and graph-replayed
#          generation against the CPU, then the products and the model again at tf32 and bf16;
#   smoke  every command once on the GPU at a small size (train, resume on the CPU and back, sample with
#          and without graphs, eval beside the CPU, serve over HTTP, a names model by category and a
#          classifier with NAMES_DIR): the CLI's wiring on the real driver, which `check` does not reach;
#          each line "rc=N" after its command (a minute or two);
#   bench  gpu_compare.py: the GPU bench beside PyTorch's anchor, row by row, with peak GPU memory, for
#          each of PRECISIONS (default "fp32 tf32 bf16"; about two minutes each), then fp32 again with a
#          cuBLAS workspace of each of WORKSPACE_MIBS (e.g. "4"; default none: the recommended 32 MiB on
#          Hopper), which counts in the peak memory;
#   phases the GPU bench's training rows with --phases, at each of PHASE_PRECISIONS (default "fp32 tf32"):
#          each row's step on the GPU by phase, then by operation (every product's shape and kernel, its
#          calls, time and TFLOP/s), launched operation by operation; where a step's time goes, without ncu
#          (a minute or two each; PHASE_ARGS adds options, e.g. "--only 7" or, on the stand-in, "--batch 2");
#   serve  `serve` under load (serve_load.py: SERVE_CLIENTS connections, default 64, each asking for 200
#          characters again and again for SERVE_SECONDS, default 20), on the GPU with --max-batch 64 and 1 and
#          on the CPU, from a 2x512 LSTM trained for 300 steps on the GPU: requests/s, characters/s,
#          latency, failures, and texts first asked for alone that must come back the same under load;
#   train  #10's closing run: a 2x512 LSTM, dropout 0.25, on CORPUS for TRAIN_SECONDS of training (default
#          900), stopped cleanly (as Ctrl-C) after CALL_SECONDS (default 540) of this call and resumed
#          where it stopped by the next call with this stage; once done, a 300-character sample of its
#          best checkpoint at temperature 0.8; with PRESET=medium or large, #14's run with that preset
#          (its own folder and logs) instead; TRAIN_ARGS adds options (e.g. "--lr-patience 2 --lr-decay 0.5")
#          and RUN_NAME names the folder and logs (default run, or run-PRESET), so variants run side by side;
#   names  with NAMES_DIR (a folder of names by language): a names-by-category model and a classifier
#          trained on the GPU, ten new names in one category, and the classifier's test accuracy;
#   chinese with CHINESE (a corpus of thousands of characters, e.g. the Tang poems): the bench's first
#          training and batch-1 sampling rows on its text on the GPU and on the CPU, then 20,000
#          characters drawn with top-k 40 from a model trained briefly on the GPU, one thread per stream
#          and by slices (CHARRNN_SAMPLE_SLICED_ABOVE), timed.
#   cores  #12 on the machine's own CPU (16 cores there): the CPU bench at each of SWEEP (default
#          1,2,4,8,16 threads), each training row's step timed phase by phase (--phases), then beside PyTorch's CPU reference at 16 threads with compare.py, then
#          the training rows at 16 threads with the weight gradients on BLAS (CHARRNN_SHARED_PANELS=0)
#          and on the shared panels, alternately, twice; needs PYTORCH_CPU, a copy of ../shared/bench/pytorch.
#   profile each kernel's GPU time (ncu, caches emptied between kernels; launched step by step, without
#          graphs) over a window of the forward recurrence and one of the backward recurrence of the
#          bench's training row PROFILE_ROW (default 7, the 3x2048 LSTM, the row where cuDNN is ahead),
#          and over four generated characters of the 2x512 LSTM at batch 1: which products cuBLAS picks
#          (split-K or not) and what each cell kernel and draw costs. Needs ncu (the GPU machine only).
# The machine goes back 30 s after a call ends, and with it the files and processes of the call: a
# stage split over two calls (a long `train`) must be asked for again within those 30 s.
# Usage: [STAGES="check smoke bench"] Benchmarks/gpu_session.sh CHARRNN BENCH_TORCH_GPU_PY CORPUS [LOG_DIR]
# (STAGES defaults to "check smoke bench"; the others are asked for by name.) Every stage but profile runs on a
# machine without a GPU too, against the host stand-in: eval "$(scripts/host-cuda.sh)" first.
# Build CHARRNN on a development machine as ../shared/gpu/README.md says (static Swift runtime).
set -uo pipefail
BIN=$1 TORCH_BENCH=$2 CORPUS=$3 LOGS=${4:-gpu-logs}
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$LOGS"
for stage in ${STAGES:-check smoke bench}; do
    case $stage in
    check)
        "$BIN" devices --check 2>&1 | tee "$LOGS/devices-check.txt" ;;
    smoke)
        smoke="$LOGS/smoke"; rm -rf "$smoke"; mkdir -p "$smoke"
        step() { echo "== $*"; "$@"; echo "rc=$?"; }
        {
            small=(--hidden 64 --eval-every 30 --sample-length 100)
            step "$BIN" train "$CORPUS" --device cuda "${small[@]}" --max-steps 60 -o "$smoke/run"
            step "$BIN" train --resume "$smoke/run" --device cpu --max-steps 80
            step "$BIN" train --resume "$smoke/run" --device cuda --max-steps 100
            echo "== sample --count 3 --length 600, with CUDA graphs and without"
            "$BIN" sample -c "$smoke/run" --device cuda --seed 1 --length 600 --count 3 > "$smoke/graphs.txt"; echo "rc=$?"
            CHARRNN_CUDA_GRAPHS=0 "$BIN" sample -c "$smoke/run" --device cuda --seed 1 --length 600 --count 3 > "$smoke/no-graphs.txt"
            echo "rc=$?"
            cmp "$smoke/graphs.txt" "$smoke/no-graphs.txt" && echo "the same text with and without CUDA graphs"
            step "$BIN" sample -c "$smoke/run" --device cuda --seed 2 --length 200 --temperature 0.8 --top-k 5
            step "$BIN" eval -c "$smoke/run" "$CORPUS" --device cuda
            step "$BIN" eval -c "$smoke/run" "$CORPUS" --device cpu
            "$BIN" serve -c "$smoke/run" --device cuda --port "${SMOKE_PORT:-18931}" 2> "$smoke/serve.txt" &
            server=$!
            echo "== serve --device cuda: 8 requests one at a time, then together"
            python3 -c "
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
for _ in range(60):
    try: urllib.request.urlopen('http://127.0.0.1:${SMOKE_PORT:-18931}/healthz', timeout=5); break
    except OSError: time.sleep(0.5)
def generate(seed):
    body = json.dumps({'prompt': 'The ', 'length': 200, 'seed': seed}).encode()
    request = urllib.request.Request('http://127.0.0.1:${SMOKE_PORT:-18931}/v1/generate', body, {'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(request, timeout=60))['text']
alone = [generate(s) for s in range(8)]
together = list(ThreadPoolExecutor(8).map(generate, range(8)))
print('serve: 8 requests alone and together give the same texts:', alone == together)
sys.exit(0 if alone == together else 1)"
            echo "rc=$?"
            kill -TERM "$server"; wait "$server"; echo "serve stopped: rc=$?"; cat "$smoke/serve.txt"
            if [ -n "${NAMES_DIR:-}" ]; then
                step "$BIN" train "$NAMES_DIR" --device cuda --hidden 32 --max-steps 100 --eval-every 50 -o "$smoke/names"
                step "$BIN" sample -c "$smoke/names" --device cuda --category "$(ls "$NAMES_DIR" | head -1 | sed 's/\.txt$//')" --count 5 --seed 1
                step "$BIN" eval -c "$smoke/names" "$NAMES_DIR" --device cuda
                step "$BIN" classify train "$NAMES_DIR" --device cuda --epochs 1 --hidden 32 -o "$smoke/classifier"
                step "$BIN" classify predict -c "$smoke/classifier" --device cuda Dostoevsky Nguyen Schmidt
            fi
        } 2>&1 | tee "$LOGS/smoke.txt" ;;
    bench)
        for precision in ${PRECISIONS:-fp32 tf32 bf16}; do
            python3 "$HERE/gpu_compare.py" "$BIN" "$TORCH_BENCH" --seconds "${BENCH_SECONDS:-3}" --precision "$precision" 2>&1 \
                | tee "$LOGS/bench-$precision.txt"
        done
        for mib in ${WORKSPACE_MIBS:-}; do
            CHARRNN_CUBLAS_WORKSPACE_MIB=$mib python3 "$HERE/gpu_compare.py" "$BIN" "$TORCH_BENCH" --seconds "${BENCH_SECONDS:-3}" \
                --precision fp32 2>&1 | tee "$LOGS/bench-fp32-workspace-$mib.txt"
        done ;;
    phases)
        for precision in ${PHASE_PRECISIONS:-fp32 tf32}; do
            "$BIN" bench --device cuda --rows train --phases --precision "$precision" --seconds "${BENCH_SECONDS:-3}" ${PHASE_ARGS:-} 2>&1 \
                | tee "$LOGS/phases-$precision.txt"
        done ;;
    serve)
        model="$LOGS/serve-model"
        [ -f "$model/best.safetensors" ] || "$BIN" train "$CORPUS" --device cuda --layers 2 --hidden 512 --max-steps 300 \
            --eval-every 300 --sample-length 0 -o "$model" > "$LOGS/serve-model.txt" 2>&1
        for run in "cuda 64" "cuda 1" "cpu 64"; do
            set -- $run
            python3 "$HERE/serve_load.py" "$BIN" "$model" --device "$1" --max-batch "$2" --clients "${SERVE_CLIENTS:-64}" \
                --seconds "${SERVE_SECONDS:-20}" 2>&1 | tee -a "$LOGS/serve-load.txt"
        done ;;
    train)
        # PRESET (medium, large): #14's run with that preset instead, in run-PRESET beside the other.
        run=${RUN_NAME:-run${PRESET:+-$PRESET}}
        if [ -n "${PRESET:-}" ]; then model=(--preset "$PRESET"); else model=(--layers 2 --hidden "${HIDDEN:-512}" --dropout 0.25 --eval-every 500); fi
        if [ -f "$LOGS/$run/train-state.safetensors" ]; then
            timeout -s INT "${CALL_SECONDS:-540}" "$BIN" train --resume "$LOGS/$run" 2>&1 | tee -a "$LOGS/$run.txt"
        else
            timeout -s INT "${CALL_SECONDS:-540}" "$BIN" train "$CORPUS" --device "${DEVICE:-cuda}" "${model[@]}" \
                --max-time "${TRAIN_SECONDS:-900}" ${TRAIN_ARGS:-} -o "$LOGS/$run" 2>&1 | tee "$LOGS/$run.txt"
        fi
        if tail -n 1 "$LOGS/$run.txt" | grep -q "^done: "; then  # finished, not interrupted
            "$BIN" sample -c "$LOGS/$run/best.safetensors" --device "${DEVICE:-cuda}" --length 300 --temperature 0.8 --seed 1 2>&1 \
                | tee "$LOGS/$run-sample.txt"
        fi ;;
    names)
        [ -n "${NAMES_DIR:-}" ] || { echo "the names stage needs NAMES_DIR" >&2; exit 2; }
        "$BIN" train "$NAMES_DIR" --device cuda --hidden 128 --max-steps 2000 --eval-every 500 -o "$LOGS/names" 2>&1 | tee "$LOGS/names.txt"
        "$BIN" sample -c "$LOGS/names" --device cuda --category Russian --count 10 --unique --seed 1 2>&1 | tee -a "$LOGS/names.txt"
        "$BIN" classify train "$NAMES_DIR" --device cuda --epochs 6 -o "$LOGS/classifier" 2>&1 | tee "$LOGS/classifier.txt" ;;
    chinese)
        [ -n "${CHINESE:-}" ] || { echo "the chinese stage needs CHINESE" >&2; exit 2; }
        for device in "${DEVICE:-cuda}" cpu; do
            # The first training row and batch-1 sampling of the 2x128 LSTM (the GPU's table has more training rows).
            for rows in "train --only 1" "sample --only 2"; do
                "$BIN" bench --rows $rows --text "$CHINESE" --device "$device" 2>&1 | tail -n 1 | tee -a "$LOGS/chinese.txt"
            done
        done
        "$BIN" train "$CHINESE" --device "${DEVICE:-cuda}" --hidden 256 --max-steps 300 --eval-every 300 -o "$LOGS/chinese" 2>&1 | tail -n 1 \
            | tee -a "$LOGS/chinese.txt"
        for above in 1000000 0 1024; do
            start=$(date +%s.%N)
            CHARRNN_SAMPLE_SLICED_ABOVE=$above "$BIN" sample -c "$LOGS/chinese" --device "${DEVICE:-cuda}" --length 20000 --top-k 40 --seed 1 \
                > "$LOGS/chinese-sample-$above.txt" 2>&1
            echo "sliced above $above: $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" \
                "$start" "$(date +%s.%N)") s for 20,000 characters (top-k 40)" | tee -a "$LOGS/chinese.txt"
        done
        cmp -s "$LOGS/chinese-sample-1000000.txt" "$LOGS/chinese-sample-0.txt" && echo "the two ways drew the same text" \
            | tee -a "$LOGS/chinese.txt" ;;
    cores)
        [ -n "${PYTORCH_CPU:-}" ] || { echo "the cores stage needs PYTORCH_CPU (a copy of ../shared/bench/pytorch)" >&2; exit 2; }
        "$BIN" bench --threads-sweep "${SWEEP:-1,2,4,8,16}" --phases --seconds "${BENCH_SECONDS:-2}" 2>&1 | tee "$LOGS/cores-sweep.txt"
        python3 "$HERE/compare.py" "$BIN" "$PYTORCH_CPU" --threads "${CORES_THREADS:-16}" --seconds "${BENCH_SECONDS:-2}" 2>&1 \
            | tee "$LOGS/cores-vs-pytorch.txt"
        for round in 1 2; do
            for shared in 0 1; do
                CHARRNN_SHARED_PANELS=$shared "$BIN" bench --rows train --threads "${CORES_THREADS:-16}" \
                    --seconds "${BENCH_SECONDS:-2}" 2>&1 | sed "s/^/shared panels $shared, round $round: /"
            done
        done | tee "$LOGS/cores-shared-panels.txt" ;;
    profile)
        ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
        row=${PROFILE_ROW:-7}
        # A training step launches ~260 kernels and products per layer forward, then as many backward.
        for window in "forward 300 24" "backward 1100 24"; do
            set -- $window
            CHARRNN_CUDA_GRAPHS=0 "$ncu" --metrics gpu__time_duration.sum --print-kernel-base function --launch-skip "$2" \
                --launch-count "$3" "$BIN" bench --device cuda --rows train --only "$row" --seconds 0.5 \
                > "$LOGS/profile-train-$row-$1.txt" 2>&1
            echo "train row $row, $1 ($3 launches after $2):"
            grep -E '^  [A-Za-z_]|gpu__time_duration' "$LOGS/profile-train-$row-$1.txt" | paste - - | awk '{print "  " $1, $NF, $(NF-1)}'
        done
        CHARRNN_CUDA_GRAPHS=0 "$ncu" --metrics gpu__time_duration.sum --print-kernel-base function --launch-skip 400 \
            --launch-count 16 "$BIN" bench --device cuda --rows sample --only 1 --seconds 0.5 > "$LOGS/profile-sample.txt" 2>&1
        echo "sample 2x512 b1, 16 launches:"
        grep -E '^  [A-Za-z_]|gpu__time_duration' "$LOGS/profile-sample.txt" | paste - - | awk '{print "  " $1, $NF, $(NF-1)}' ;;
    *)
        echo "unknown stage '$stage' (check, smoke, bench, phases, serve, train, names, chinese, cores, profile)" >&2; exit 2 ;;
    esac
done
