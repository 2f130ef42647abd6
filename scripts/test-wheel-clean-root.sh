#!/usr/bin/env bash
# Installs the wheel in a minimal Debian root (debootstrap's minbase with python3 and pip: no Swift, no
# OpenBLAS, no compiler) and runs train, sample, eval and serve there. Needs root (chroot) and Debian's
# package mirror the first time; the root is kept in .build-static/clean-root for the next run.
#   scripts/test-wheel-clean-root.sh [WHEEL]      (default: the newest in dist/, built if there is none)
source "$(dirname "$0")/common.sh"
if [ "$(id -u)" != 0 ]; then echo "clean-root wheel test skipped: it needs root (chroot)"; exit 0; fi
ensure_system_packages debootstrap
WHEEL=${1:-$(ls -t dist/charrnn-*.whl 2>/dev/null | head -1 || true)}
if [ -z "$WHEEL" ]; then bash scripts/build-wheel.sh; WHEEL=$(ls -t dist/charrnn-*.whl | head -1); fi
ROOTFS=${CHARRNN_CLEAN_ROOT:-$ROOT/.build-static/clean-root}
if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv bookworm "$ROOTFS" http://deb.debian.org/debian
fi
for tool in swift swiftc cc gcc clang; do
    if chroot "$ROOTFS" /bin/sh -c "command -v $tool" >/dev/null; then echo "the clean root has $tool" >&2; exit 1; fi
done
if ls "$ROOTFS"/usr/lib/*/libopenblas* >/dev/null 2>&1; then echo "the clean root has OpenBLAS" >&2; exit 1; fi
rm -rf "$ROOTFS/tmp/wheel" && mkdir -p "$ROOTFS/tmp/wheel" && cp "$WHEEL" "$ROOTFS/tmp/wheel/"
mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"
trap 'umount "$ROOTFS/proc" 2>/dev/null || true' EXIT
echo "in a clean Debian root: $(chroot "$ROOTFS" /bin/sh -c '. /etc/os-release; echo $PRETTY_NAME'), $(chroot "$ROOTFS" python3 --version)"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root /bin/sh -ec '
rm -rf /root/venv /tmp/work && python3 -m venv /root/venv
/root/venv/bin/pip install --quiet --no-index /tmp/wheel/*.whl
export PATH=/root/venv/bin:$PATH
mkdir /tmp/work && cd /tmp/work
python3 -c "
import random
random.seed(3)
lines = [\"to be or not to be\", \"that is the question\", \"whether tis nobler\", \"in the mind to suffer\"]
open(\"poem.txt\", \"w\").write(\"\".join(random.choice(lines) + \"\n\" for _ in range(400)))"
echo "\$ charrnn --version"; charrnn --version
# Not activated, and still the environment charrnn was installed into is where NVIDIA wheels are looked for.
charrnn devices | grep -q "/root/venv/lib/python3[.0-9]*/site-packages/nvidia/cuda_nvrtc/lib" || { echo "devices does not look in the environment of the wheel"; charrnn devices; exit 1; }
echo "\$ charrnn devices: looks for the NVIDIA wheels in /root/venv (not activated)"
echo "\$ charrnn train poem.txt -o run --max-steps 200 --hidden 64 --embed 16 --seq-length 32 --batch-size 16"
charrnn train poem.txt -o run --max-steps 200 --hidden 64 --embed 16 --seq-length 32 --batch-size 16 --eval-every 100 --sample-length 0 | tail -2
echo "\$ charrnn sample -c run --prime \"to be\" --length 80 --seed 1"; charrnn sample -c run --prime "to be" --length 80 --seed 1
echo "\$ charrnn eval -c run poem.txt"; charrnn eval -c run poem.txt
echo "\$ charrnn serve -c run --port 8765 (then POST /v1/generate)"
charrnn serve -c run --port 8765 2>/dev/null & server=$!
python3 -c "
import json, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(\"http://127.0.0.1:8765/healthz\"); break
    except OSError:
        time.sleep(0.1)
request = urllib.request.Request(\"http://127.0.0.1:8765/v1/generate\", json.dumps({\"prompt\": \"to be\", \"length\": 40, \"seed\": 2}).encode(), {\"Content-Type\": \"application/json\"})
print(json.load(urllib.request.urlopen(request)))"
kill $server; wait $server || true
'
echo "clean-root wheel test passed"
