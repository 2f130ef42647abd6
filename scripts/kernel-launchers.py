#!/usr/bin/env python3
"""Writes each CUDA kernel's typed Swift launcher next to its source.

Every file of Sources/CharRNN that holds kernels (`extern "C" __global__ void name(...)` in a
KernelSource's code: CUDA/Kernels/ and each cell's file in Cells/) ends in a part this script writes from those signatures: one method of
`ComputeDevice` a kernel, whose parameters are the kernel's, in its order and with Swift types of the
same width (int: Int as a 32-bit argument, long: Int as 64 bits, float: Float, unsigned long long:
UInt64, any pointer: DevicePointer?). A call site therefore cannot pass a wrong argument list: the
compiler refuses it. `--check` changes nothing and fails when a file's launchers are not the ones its
kernels give, or when code in a file without kernels launches one by its name (scripts/test.sh runs it).

Usage: scripts/kernel-launchers.py [--check]
"""
import pathlib
import re
import sys

SOURCES = pathlib.Path(__file__).resolve().parent.parent / "Sources"
LIBRARY = SOURCES / "CharRNN"
MARK = "// MARK: Launchers, written by scripts/kernel-launchers.py from the kernels above: do not edit"
SIGNATURE = re.compile(r'extern "C" __global__ void (\w+)\(([^)]*)\)')
SCALARS = {  # C type: (Swift type, KernelArgument case)
    "int": ("Int", "int"),
    "long": ("Int", "long"),
    "float": ("Float", "float"),
    "unsigned long long": ("UInt64", "uint64"),
}


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def parameter(text, kernel):
    declaration = " ".join(text.split())
    match = re.fullmatch(r"(?:const )?([a-z ]+?) ?(\*)? ?(?:__restrict__ )?(\w+)", declaration)
    if not match:
        sys.exit(f"kernel-launchers: cannot read the parameter '{declaration}' of {kernel}")
    ctype, pointer, name = match.groups()
    if pointer:
        return camel(name), "DevicePointer?", "pointer"
    if ctype not in SCALARS:
        sys.exit(f"kernel-launchers: {kernel}'s parameter '{declaration}' has a type with no launcher argument")
    swift, case = SCALARS[ctype]
    return camel(name), swift, case


def wrapped(items, first, indent, last):
    """items joined by ", " after `first`, broken into lines of at most 120 characters."""
    lines, line = [], first
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else last)
        if len(line) + len(piece.rstrip()) > 120 and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece
    return "\n".join(lines + [line]) + "\n"


def launcher(kernel, parameters):
    params = [parameter(p, kernel) for p in parameters.split(",") if p.strip()]
    labels = ["threads: Int"] + [f"{label}: {swift}" for label, swift, _ in params]
    arguments = [f".{case}({label})" for label, _, case in params]
    return (wrapped(labels, f"    func {camel(kernel)}(", " " * 8, ") throws {")
            + wrapped(arguments, f"        try launch(\"{kernel}\", threads: threads, [", " " * 12, "])")
            + "    }\n")


def expected(text):
    body = text.split("\n" + MARK)[0].rstrip("\n") + "\n"
    kernels = SIGNATURE.findall(body)
    if not kernels:
        return body
    launchers = "\n".join(launcher(name, params) for name, params in kernels)
    return f"{body}\n{MARK}\n\nextension ComputeDevice {{\n{launchers}}}\n"


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit(__doc__.strip().splitlines()[-1])
    stale = []
    holders = [path for path in sorted(LIBRARY.rglob("*.swift")) if SIGNATURE.search(path.read_text())]
    for path in holders:
        text = path.read_text()
        want = expected(text)
        if want == text:
            continue
        stale.append(path.name)
        if not check:
            path.write_text(want)
    by_name = [f"{path.relative_to(SOURCES)}:{number}"
               for path in sorted(SOURCES.rglob("*.swift")) if path not in holders
               for number, line in enumerate(path.read_text().splitlines(), 1) if re.search(r'\blaunch\("', line)]
    if by_name:
        sys.exit(f"kernel-launchers: {', '.join(by_name)} launch a kernel by its name; call its launcher instead")
    if check and stale:
        sys.exit(f"kernel-launchers: the launchers of {', '.join(stale)} do not match their kernels; "
                 "run scripts/kernel-launchers.py")
    if not check:
        print(f"kernel-launchers: wrote {len(stale)} file(s)" if stale else "kernel-launchers: up to date")


if __name__ == "__main__":
    main()
