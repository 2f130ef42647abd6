# Shared by the project's scripts: installs what is missing and picks the fast build flags.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# OpenBLAS and pkg-config (Debian/Ubuntu); Apple platforms use Accelerate and need nothing.
ensure_system_packages() {
    [ "$(uname -s)" = Linux ] || return 0
    local missing=()
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg-config --exists openblas 2>/dev/null || missing+=(libopenblas-dev)
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Swift and C code for this CPU's vector units (AVX2 + FMA on x86-64), not plain x86-64.
BUILD_FLAGS=(-c release)
if [ "$(uname -m)" = x86_64 ] && grep -q avx2 /proc/cpuinfo 2>/dev/null && grep -q fma /proc/cpuinfo 2>/dev/null; then
    BUILD_FLAGS+=(-Xswiftc -target-cpu -Xswiftc haswell -Xcc -march=haswell)
fi
CHARRNN="$ROOT/.build/release/charrnn"

build() { swift build "${BUILD_FLAGS[@]}" "$@"; }

# NVRTC from PyPI's nvidia-cuda-nvrtc wheel, unpacked under .cuda/ (no GPU or driver needed): the tests
# compile every CUDA kernel with it, so a kernel that does not compile fails the tests on any machine.
# Exports CHARRNN_NVRTC, the library's path.
ensure_nvrtc() {
    local dir="$ROOT/.cuda/nvrtc"
    local lib
    lib="$(find "$dir" -name 'libnvrtc.so.*' -not -name '*builtins*' 2>/dev/null | head -1 || true)"
    if [ -z "$lib" ]; then
        [ "$(uname -s)" = Linux ] || return 0
        python3 -m pip --version >/dev/null 2>&1 || ensure_system_packages python3-pip
        local tmp
        tmp="$(mktemp -d)"
        python3 -m pip download --quiet --no-deps --only-binary :all: nvidia-cuda-nvrtc -d "$tmp"
        python3 - "$tmp" "$dir" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
zipfile.ZipFile(wheel).extractall(sys.argv[2])
PY
        rm -rf "$tmp"
        lib="$(find "$dir" -name 'libnvrtc.so.*' -not -name '*builtins*' | head -1)"
    fi
    export CHARRNN_NVRTC="$lib"
}

# A Python virtual environment in DIR with the given PyPI packages, made the first time.
ensure_venv() {
    local dir=$1; shift
    if [ ! -x "$dir/bin/python" ]; then
        python3 -m venv "$dir"
        "$dir/bin/pip" install -q "$@"
    fi
}

# Starts `charrnn serve ARGS...` on PORT in the background and waits until it answers; SERVER holds
# its pid and stop_server (also run on exit) stops it with SIGTERM.
start_server() {
    local port=$1; shift
    "$CHARRNN" serve "$@" --port "$port" &
    SERVER=$!
    trap stop_server EXIT
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
        sleep 0.1
    done
    echo "charrnn serve did not start on port $port" >&2
    return 1
}

stop_server() {
    [ -n "${SERVER:-}" ] || return 0
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}
