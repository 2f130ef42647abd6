#!/usr/bin/env python3
"""How well an LSTM checkpoint predicts text from the zero state, against text it reaches warm: the
measure behind the README's note on sequential batching. From PLACES random places in the held-out end
of the text, it runs the model (PyTorch's nn.LSTM, loaded from the checkpoint) from the zero state over
256 characters; "cold" is the mean loss of the first FIRST predictions, "warm" that of predictions
128-255, and their difference is what the zero state costs. A model whose zero state was trained only
after the same few characters every epoch pays much more, most of all after other first characters,
and may loop when primed with one; the greedy continuation of --prime shows that.

Usage: cold_start.py CHECKPOINT TEXT [--val-fraction 0.1] [--places 2000] [--first 16] [--prime ROMEO:]
Needs torch and numpy (the bench's .venv-torch has them).
"""
import argparse, json, struct

import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument("checkpoint")
parser.add_argument("text")
parser.add_argument("--val-fraction", type=float, default=0.1, help="as given to charrnn train")
parser.add_argument("--places", type=int, default=2000)
parser.add_argument("--first", type=int, default=16)
parser.add_argument("--prime", default="ROMEO:")
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

raw = open(args.checkpoint, "rb").read()
header_size = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + header_size])
meta = json.loads(header["__metadata__"]["charrnn"])
config, vocabulary = meta["config"], meta["vocabulary"]
if config["cell"] != "lstm" or config.get("categories", 0) or config["embed"] == 0:
    raise SystemExit("cold_start.py: only a plain LSTM checkpoint with an embedding")


def tensor(name):
    entry = header[name]
    begin, end = entry["data_offsets"]
    data = np.frombuffer(raw[8 + header_size + begin:8 + header_size + end], dtype=np.float32)
    return torch.from_numpy(data.reshape(entry["shape"]).copy())


embedding = torch.nn.Embedding.from_pretrained(tensor("embedding.weight"))
rnn = torch.nn.LSTM(config["embed"], config["hidden"], config["layers"], batch_first=True)
rnn.load_state_dict({name[4:]: tensor(name) for name in header if name.startswith("rnn.")})
decoder = torch.nn.Linear(config["hidden"], len(vocabulary))
decoder.weight.data, decoder.bias.data = tensor("decoder.weight"), tensor("decoder.bias")

index = {c: i for i, c in enumerate(vocabulary)}
text = open(args.text, encoding="utf-8").read()
held_out = int(len(text) * args.val_fraction + 0.5)  # charrnn's split: the end, rounded half up
ids = torch.tensor([index[c] for c in text[len(text) - held_out:]])
if len(ids) < 257:
    raise SystemExit("cold_start.py: the held-out text is shorter than 257 characters")

generator = torch.Generator().manual_seed(args.seed)
starts = torch.randint(0, len(ids) - 256, (args.places,), generator=generator)
with torch.no_grad():
    windows = torch.stack([ids[s:s + 257] for s in starts])
    out, _ = rnn(embedding(windows[:, :-1]))
    loss = torch.nn.functional.cross_entropy(decoder(out).reshape(-1, len(vocabulary)),
                                             windows[:, 1:].reshape(-1), reduction="none").view(args.places, 256)
    cold, warm = loss[:, :args.first].mean().item(), loss[:, 128:].mean().item()
    by_first = []
    for c in range(len(vocabulary)):
        chosen = windows[:, 0] == c
        if chosen.sum() >= 10:
            by_first.append((loss[chosen, :args.first].mean().item(), vocabulary[c], int(chosen.sum())))

    prime = torch.tensor([[index[c] for c in args.prime]])
    out, state = rnn(embedding(prime))
    text_out = args.prime
    for _ in range(60):
        best = decoder(out[:, -1]).argmax(-1)
        text_out += vocabulary[best.item()]
        out, state = rnn(embedding(best.view(1, 1)), state)

print(f"cold (first {args.first}) {cold:.4f}, warm (128-255) {warm:.4f}, the zero state's cost {cold - warm:.4f}")
print("by position:", " ".join(f"{v:.2f}" for v in loss.mean(0)[:8].tolist()))
print("worst first characters:", ", ".join(f"{c!r} {v:.2f} ({n})" for v, c, n in sorted(by_first, reverse=True)[:6]))
print("greedy:", repr(text_out))
