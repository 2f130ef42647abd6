#!/usr/bin/env python3
"""Converts a model saved by the PyTorch reference benchmark (`bench_train.py --save PATH`: a dict of
cfg, state_dict and chars) into a charrnn checkpoint, so `charrnn eval` and `charrnn sample` can use it.

Usage: torch_to_charrnn.py MODEL.pt OUT.safetensors   (needs torch and safetensors)
"""
import json
import sys

import torch
from safetensors.torch import save_file


def main():
    src, dst = sys.argv[1], sys.argv[2]
    ck = torch.load(src, map_location="cpu")
    cfg, sd, chars = ck["cfg"], ck["state_dict"], ck["chars"]
    if chars is None:
        sys.exit("the model was trained on random ids (no --text), so it has no vocabulary")
    names = {"emb.weight": "embedding.weight", "out.weight": "decoder.weight", "out.bias": "decoder.bias"}
    tensors = {names.get(k, k): v.float().contiguous() for k, v in sd.items()}
    cell = {"lstm": "lstm", "gru": "gru", "rnn": "rnn_tanh"}[cfg["cell"]]
    meta = {
        "format_version": 1,
        "config": {"cell": cell, "layers": cfg["layers"], "hidden": cfg["hidden"], "embed": cfg["embed"],
                   "vocab_size": cfg["vocab"], "dropout": cfg.get("dropout", 0.0)},
        "vocabulary": chars,
        "start_character": chars[0] if "\n" not in chars else "\n",
    }
    save_file(tensors, dst, metadata={"charrnn": json.dumps(meta), "format": "pt"})
    print(f"wrote {dst}: {cell} {cfg['layers']}x{cfg['hidden']}, vocabulary {len(chars)}")


if __name__ == "__main__":
    main()
