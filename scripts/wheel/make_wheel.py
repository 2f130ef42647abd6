"""Packs a built charrnn binary into a wheel that puts `charrnn` on PATH.

    python3 scripts/wheel/make_wheel.py BINARY VERSION PLATFORM_TAG OUT_DIR

The binary goes in as the wheel's script (`<name>.data/scripts/charrnn`): pip copies it into the
environment's bin folder, executable, and nothing of Python runs when it starts. The `cuda` extra pulls
NVIDIA's NVRTC and cuBLAS wheels, which charrnn finds inside the environment at run time.
"""
import base64
import hashlib
import os
import sys
import zipfile


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(binary, version, platform, out_dir):
    dist = f"charrnn-{version}"
    info = f"{dist}.dist-info"
    readme = open(os.path.join(os.path.dirname(__file__), "README.md"), encoding="utf-8").read()
    metadata = "\n".join([
        "Metadata-Version: 2.1",
        "Name: charrnn",
        f"Version: {version}",
        "Summary: Character-level RNN, LSTM and GRU language models: train, sample, evaluate, serve",
        "License: MIT",
        "Requires-Python: >=3.8",
        "Provides-Extra: cuda",
        'Requires-Dist: nvidia-cuda-nvrtc ; extra == "cuda"',
        'Requires-Dist: nvidia-cublas ; extra == "cuda"',
        "Description-Content-Type: text/markdown",
        "",
        readme,
    ])
    wheel = "\n".join(["Wheel-Version: 1.0", "Generator: charrnn scripts/wheel/make_wheel.py",
                       "Root-Is-Purelib: false", f"Tag: py3-none-{platform}", ""])
    license_text = open(os.path.join(os.path.dirname(__file__), "..", "..", "LICENSE"), "rb").read()
    files = [
        (f"{dist}.data/scripts/charrnn", open(binary, "rb").read(), 0o755),
        (f"{info}/METADATA", metadata.encode(), 0o644),
        (f"{info}/WHEEL", wheel.encode(), 0o644),
        (f"{info}/LICENSE", license_text, 0o644),
    ]
    path = os.path.join(out_dir, f"{dist}-py3-none-{platform}.whl")
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        records = []
        for name, data, mode in files:
            entry = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, data)
            records.append(record_line(name, data))
        records.append(f"{info}/RECORD,,")
        z.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2026, 1, 1, 0, 0, 0)), "\n".join(records) + "\n")
    os.replace(tmp, path)
    print(path)


if __name__ == "__main__":
    main(*sys.argv[1:5])
