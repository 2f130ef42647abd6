"""PyTorch reference for `charrnn classify train` on a labelled folder (the tutorial's data/names).

Two things charrnn's numbers are read against:

1. The ceiling the data allow. An item that occurs in several categories (with deduplication, "Smith"
   is once English and once Scottish) can be right for one of them only. The script counts, per
   category, the items a classifier loses even if it knew every name in the folder and gave each
   shared one to its largest category; the mean of what is left is the best balanced accuracy any
   classifier of the text alone reaches with that rule.
2. The same model in PyTorch: embedding, bidirectional GRU (or LSTM), both final states to a linear
   layer; items of equal length batched together; Adam, clipping by global norm 5; the epoch with the
   best validation accuracy kept; test accuracy and balanced accuracy with prior correction tau 0, 0.5
   and 1 (log p(c|x) - tau log prior(c)). Same protocol as charrnn: ASCII folding, deduplication within
   a category (unless --no-dedupe), a stratified 80/10/10 split. The split is drawn by Python's random
   with the seed, so the items differ from charrnn's split with the same seed: compare means over seeds.

    python Benchmarks/names_reference.py --data ../shared/corpora/names --seeds 1 2 3
"""
import argparse
import collections
import math
import os
import random
import time
import unicodedata

import torch
import torch.nn as nn
import torch.nn.functional as F


def fold_to_ascii(s):
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def load(folder, dedupe):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".txt") and not f.startswith("."))
    categories = [f[:-4] for f in files]
    items = []
    for label, f in enumerate(files):
        seen = set()
        with open(os.path.join(folder, f), encoding="utf-8") as handle:
            for line in handle:
                text = fold_to_ascii(line.strip())
                if not text or (dedupe and text in seen):
                    continue
                seen.add(text)
                items.append((text, label))
    return categories, items


def ceiling(categories, items):
    owners = collections.defaultdict(set)
    size = collections.Counter(label for _, label in items)
    for text, label in items:
        owners[text].add(label)
    recall = []
    for c in range(len(categories)):
        lost = sum(1 for text, label in items
                   if label == c and len(owners[text]) > 1 and max(owners[text], key=lambda k: size[k]) != c)
        recall.append(1 - lost / size[c])
    shared = sum(1 for labels in owners.values() if len(labels) > 1)
    accuracy = sum(r * size[c] for c, r in enumerate(recall)) / len(items)
    return shared, accuracy, sum(recall) / len(recall), recall


def split(items, n_categories, seed, val=0.1, test=0.1):
    rng = random.Random(seed)
    train, validation, testing = [], [], []
    for c in range(n_categories):
        group = [item for item in items if item[1] == c]
        rng.shuffle(group)
        n_test, n_val = round(len(group) * test), round(len(group) * val)
        testing += group[:n_test]
        validation += group[n_test:n_test + n_val]
        train += group[n_test + n_val:]
    return train, validation, testing


class Classifier(nn.Module):
    def __init__(self, vocab, categories, cell, hidden, embed, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        nn.init.normal_(self.embedding.weight)
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(embed, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden, categories)
        if cell == "lstm":  # forget-gate input bias 1, as charrnn
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p.data[hidden:2 * hidden] = 1

    def forward(self, ids):  # ids [B, T], all of one length
        _, h = self.rnn(self.dropout(self.embedding(ids)))
        if isinstance(h, tuple):
            h = h[0]
        return self.classifier(self.dropout(torch.cat([h[0], h[1]], 1)))


def batches(items, index, size, rng):
    by_length = collections.defaultdict(list)
    for text, label in items:
        by_length[len(text)].append((text, label))
    out = []
    for group in by_length.values():
        rng.shuffle(group)
        for s in range(0, len(group), size):
            chunk = group[s:s + size]
            out.append((torch.tensor([[index[c] for c in t] for t, _ in chunk]), torch.tensor([y for _, y in chunk])))
    rng.shuffle(out)
    return out


def log_probabilities(model, items, index):
    model.eval()
    out = torch.zeros(len(items), model.classifier.out_features)
    by_length = collections.defaultdict(list)
    for i, (text, _) in enumerate(items):
        by_length[len(text)].append(i)
    with torch.no_grad():
        for rows in by_length.values():
            ids = torch.tensor([[index[c] for c in items[i][0]] for i in rows])
            out[rows] = F.log_softmax(model(ids), 1)
    model.train()
    return out


def scores(logp, items, log_prior, tau, n):
    truth = torch.tensor([y for _, y in items])
    predicted = (logp - tau * log_prior).argmax(1)
    accuracy = (predicted == truth).float().mean().item()
    recalls = [((predicted == truth) & (truth == c)).sum().item() / (truth == c).sum().item()
               for c in range(n) if (truth == c).sum().item() > 0]
    return accuracy, sum(recalls) / len(recalls)


def run(args, categories, items, seed):
    torch.manual_seed(seed)
    train, validation, testing = split(items, len(categories), seed)
    chars = sorted(set("".join(t for t, _ in items)))
    index = {c: i for i, c in enumerate(chars)}
    counts = torch.tensor([sum(1 for _, y in train if y == c) for c in range(len(categories))], dtype=torch.float)
    log_prior = torch.log((counts + 1) / (counts.sum() + len(categories)))
    model = Classifier(len(chars), len(categories), args.cell, args.hidden, args.embed, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    rng = random.Random(seed)
    best, kept = -1.0, None
    start = time.time()
    for _ in range(args.epochs):
        for ids, labels in batches(train, index, args.batch_size, rng):
            loss = F.cross_entropy(model(ids), labels)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5)
            optimizer.step()
        accuracy, _ = scores(log_probabilities(model, validation, index), validation, log_prior, 0, len(categories))
        if accuracy > best:
            best, kept = accuracy, {k: v.clone() for k, v in model.state_dict().items()}
    seconds = time.time() - start
    model.load_state_dict(kept)
    logp = log_probabilities(model, testing, index)
    return seconds, [scores(logp, testing, log_prior, tau, len(categories)) for tau in (0, 0.5, 1)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--no-dedupe", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    categories, items = load(args.data, not args.no_dedupe)
    shared, accuracy, balanced, recall = ceiling(categories, items)
    print(f"{len(items)} items in {len(categories)} categories; {shared} texts in more than one category")
    print(f"ceiling (every text known, shared ones given to their largest category): "
          f"accuracy {accuracy:.3f}, balanced accuracy {balanced:.3f}")
    print("  lowest recalls: " + ", ".join(f"{categories[c]} {recall[c]:.2f}"
                                          for c in sorted(range(len(categories)), key=lambda c: recall[c])[:5]))
    print("seed  seconds  tau=0 acc/bal  tau=0.5 acc/bal  tau=1 acc/bal")
    rows = []
    for seed in args.seeds:
        seconds, result = run(args, categories, items, seed)
        rows.append(result)
        print(f"{seed:4d} {seconds:8.1f}  " + "  ".join(f"  {a:.3f}/{b:.3f}  " for a, b in result), flush=True)
    mean = [(sum(r[i][0] for r in rows) / len(rows), sum(r[i][1] for r in rows) / len(rows)) for i in range(3)]
    print("mean          " + "  ".join(f"  {a:.3f}/{b:.3f}  " for a, b in mean))


if __name__ == "__main__":
    main()
