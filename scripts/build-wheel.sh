#!/usr/bin/env bash
# Builds dist/charrnn-<version>-py3-none-manylinux_<glibc>_x86_64.whl: the charrnn binary with the Swift
# runtime and OpenBLAS linked in statically, so `pip install` of the wheel is all a machine needs.
# The binary is built for Haswell (AVX2 + FMA); on an older CPU it says so in one line and exits 1.
# The platform tag's glibc is the newest symbol version the binary asks for (objdump says).
source "$(dirname "$0")/common.sh"
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "build-wheel.sh: x86-64 Linux only" >&2; exit 1; }
ensure_system_packages binutils python3
VERSION=$(sed -n 's/.*current = "\(.*\)"/\1/p' Sources/CharRNN/Support/Version.swift)
SCRATCH="$ROOT/.build-static"
# OpenBLAS statically: a pkg-config file of our own sends the linker to a folder that holds only the
# static archive (libopenblas-dev ships it), so only the BLAS members charrnn calls are linked.
BLAS_DIR=$(pkg-config --variable=libdir openblas)
[ -f "$BLAS_DIR/libopenblas.a" ] || { echo "build-wheel.sh: no $BLAS_DIR/libopenblas.a" >&2; exit 1; }
mkdir -p "$SCRATCH/static-blas"
ln -sf "$BLAS_DIR/libopenblas.a" "$SCRATCH/static-blas/libopenblas.a"
cat > "$SCRATCH/static-blas/openblas.pc" <<PC
Name: openblas
Description: OpenBLAS, the static archive
Version: $(pkg-config --modversion openblas)
Libs: -L$SCRATCH/static-blas -lopenblas
Cflags: $(pkg-config --cflags openblas)
PC
PKG_CONFIG_PATH="$SCRATCH/static-blas" swift build -c release --static-swift-stdlib -Xswiftc -target-cpu -Xswiftc haswell \
    -Xcc -march=haswell --product charrnn --scratch-path "$SCRATCH"
mkdir -p dist
cp "$SCRATCH/release/charrnn" dist/charrnn
strip dist/charrnn
if ldd dist/charrnn | grep -Eq 'openblas|swift|gfortran'; then
    echo "build-wheel.sh: the binary still loads these at run time:" >&2
    ldd dist/charrnn | grep -E 'openblas|swift|gfortran' >&2
    exit 1
fi
GLIBC=$(objdump -T dist/charrnn | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
TAG="manylinux_${GLIBC%%.*}_${GLIBC#*.}_x86_64"
echo "dynamic libraries: $(ldd dist/charrnn | awk '{print $1}' | tr '\n' ' ')" >&2
echo "newest glibc symbol: $GLIBC -> $TAG" >&2
python3 scripts/wheel/make_wheel.py dist/charrnn "$VERSION" "$TAG" dist
