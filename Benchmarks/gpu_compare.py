#!/usr/bin/env python3
"""charrnn against PyTorch on the same GPU, row by row in one run: chars/s, the ratio, and peak GPU memory.

Usage (on the GPU machine, beside a charrnn binary):
    python3 Benchmarks/gpu_compare.py ./charrnn path/to/bench_torch_gpu.py [--seconds 3] [--precision fp32|tf32|bf16]

PyTorch's side is the anchor's own train() (../shared/gpu/bench_torch_gpu.py: Embedding -> nn.LSTM/GRU ->
Linear, Adam, clip 5, state carried), with torch.cuda.max_memory_allocated() read around it; charrnn's is
`charrnn bench --device cuda --only N`, each row in its own process. fp32 with TF32 off on both sides;
tf32: TF32 on both (charrnn's --precision tf32: its matrix products; its own kernels stay fp32); bf16:
charrnn's --precision bf16 (bfloat16 operands in its products, everything stored in fp32) against
PyTorch's bf16 autocast (which also keeps activations in bf16, so its memory is not comparable).
"""
import argparse, importlib.util, json, subprocess, sys

ROWS = [("lstm", 2, 128, 64, 50, 50), ("lstm", 2, 256, 64, 64, 100), ("lstm", 2, 512, 64, 50, 50),
        ("lstm", 3, 512, 64, 64, 128), ("gru", 2, 256, 64, 64, 100), ("lstm", 2, 1024, 64, 128, 128),
        ("lstm", 3, 2048, 128, 256, 128)]

SAMPLES = [("lstm", 2, 512, 64, 1), ("lstm", 2, 128, 64, 1), ("lstm", 2, 512, 64, 32), ("lstm", 2, 512, 64, 256)]

def charrnn_rows(binary, seconds, precision):
    """Every row of `charrnn bench --device cuda`, keyed by (bench, cell, layers, hidden, batch, seq)."""
    rows, index = {}, 1
    while True:
        out = subprocess.run([binary, "bench", "--device", "cuda", "--precision", precision, "--only", str(index),
                              "--seconds", str(seconds)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            if "--only must be between" in out.stderr:
                return rows
            sys.exit(f"charrnn bench --only {index} failed: {out.stderr.strip()}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows[(r["bench"], r["cell"], r["layers"], r["hidden"], r["batch"], r["seq"] if r["bench"] == "train" else 1)] = r
        index += 1

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("charrnn"); ap.add_argument("torch_bench"); ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    a = ap.parse_args()
    tf32, amp = a.precision == "tf32", a.precision == "bf16"
    spec = importlib.util.spec_from_file_location("bench_torch_gpu", a.torch_bench)
    tb = importlib.util.module_from_spec(spec); spec.loader.exec_module(tb)
    import torch
    ours = charrnn_rows(a.charrnn, a.seconds, a.precision)
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"{ {'fp32': 'fp32 (TF32 off)', 'tf32': 'TF32', 'bf16': 'charrnn bf16 products, PyTorch bf16 autocast'}[a.precision] }")
    print(f"| config | charrnn chars/s | PyTorch chars/s | ratio | charrnn ms/step | PyTorch ms/step | charrnn GPU MB | PyTorch GPU MB |")
    print("|---|---|---|---|---|---|---|---|")
    for cell, L, H, E, B, T in ROWS:
        torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        t = tb.train(cell, L, H, E, B, T, tf32=tf32, amp=amp)
        torch_mb = torch.cuda.max_memory_allocated() / 2**20
        c = ours.get(("train", cell, L, H, B, T))
        name = f"train {cell.upper()} {L}x{H} E{E} b{B} s{T}"
        if c is None:
            print(f"| {name} | - | {t['chars_per_sec']:,} | - | - | {t['ms_per_step']} | - | {torch_mb:.0f} |"); continue
        print(f"| {name} | {c['chars_per_sec']:,.0f} | {t['chars_per_sec']:,} | {c['chars_per_sec'] / t['chars_per_sec']:.2f}x "
              f"| {c['ms_per_step']:.3f} | {t['ms_per_step']} | {c.get('peak_device_mb', float('nan')):.0f} | {torch_mb:.0f} |",
              flush=True)
    print("\n| config | charrnn chars/s | PyTorch chars/s | ratio |\n|---|---|---|---|")
    for cell, L, H, E, B in SAMPLES:
        t = tb.sample(cell, L, H, E, B)
        c = ours.get(("sample", cell, L, H, B, 1))
        ours_cps = f"{c['chars_per_sec']:,.0f}" if c else "-"
        ratio = f"{c['chars_per_sec'] / t['chars_per_sec']:.1f}x" if c else "-"
        print(f"| sample {cell.upper()} {L}x{H} b{B} | {ours_cps} | {t['chars_per_sec']:,} | {ratio} |", flush=True)

if __name__ == "__main__":
    main()
