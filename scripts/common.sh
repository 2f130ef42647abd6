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
