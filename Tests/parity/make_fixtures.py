#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that CharRNNTests/PyTorchParityTests.swift checks against.

Run by hand (needs `pip install torch safetensors`), from the repository root:
    python3 Tests/parity/make_fixtures.py

Each fixture is one safetensors file in Tests/CharRNNTests/Fixtures/: a charrnn checkpoint (the model's
state_dict under PyTorch's names, config and vocabulary in the "charrnn" metadata) plus
  fixture.inputs / fixture.targets   [T, B] token ids (as float32), time-major
  fixture.logits                     [T, B, V] logits from the zero state
  fixture.loss                       [1] mean cross-entropy
  grad.<name>                        gradient of the mean loss for each parameter
  after.<optimizer>.<name>           parameters after 3 steps of that optimizer on the same batch,
                                     with clip_grad_norm_(max_norm=0.5) before each step
and lr_schedules.json: the learning rate of each of the first updates under torch.optim.lr_scheduler's
StepLR, CosineAnnealingLR and LinearLR warmup followed by either (SequentialLR); and lr_plateau.json:
the rate after each of a sequence of validation losses under ReduceLROnPlateau; and weight_average.json:
AveragedModel's exponential moving average (get_ema_multi_avg_fn) of parameters after each SGD step.
Arguments name parts to write (models, schedules, plateau, average); none writes all.
"""
import sys
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "CharRNNTests", "Fixtures")
T, B = 5, 3
VOCAB = list("\nabcdefg é語")  # 11 scalars, sorted below


class Model(nn.Module):
    def __init__(self, cell, layers, hidden, embed, vocab):
        super().__init__()
        self.embed = embed
        self.vocab = vocab
        if embed > 0:
            self.embedding = nn.Embedding(vocab, embed)
        size = embed if embed > 0 else vocab
        if cell == "lstm":
            self.rnn = nn.LSTM(size, hidden, num_layers=layers)
        elif cell == "gru":
            self.rnn = nn.GRU(size, hidden, num_layers=layers)
        else:
            self.rnn = nn.RNN(size, hidden, num_layers=layers, nonlinearity=cell.split("_")[1])
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x):
        e = self.embedding(x) if self.embed > 0 else F.one_hot(x, self.vocab).float()
        y, _ = self.rnn(e)
        return self.decoder(y)


def case(name, cell, layers, hidden, embed, seed):
    torch.manual_seed(seed)
    vocab = sorted(set(VOCAB), key=ord)
    V = len(vocab)
    model = Model(cell, layers, hidden, embed, V)
    with torch.no_grad():  # wider weights than the default, so the nonlinearities are exercised
        for p in model.parameters():
            p.mul_(2.0)
    x = torch.randint(0, V, (T, B))
    y = torch.randint(0, V, (T, B))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    model.zero_grad()
    loss.backward()
    tensors = {k: v.contiguous() for k, v in state.items()}
    tensors["fixture.inputs"] = x.float().contiguous()
    tensors["fixture.targets"] = y.float().contiguous()
    tensors["fixture.logits"] = logits.detach().contiguous()
    tensors["fixture.loss"] = loss.detach().reshape(1)
    for k, p in model.named_parameters():
        tensors["grad." + k] = p.grad.detach().clone().contiguous()

    makers = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        "adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01),
        "adagrad": lambda ps: torch.optim.Adagrad(ps, lr=0.1),
    }
    for opt_name, make in makers.items():
        model.load_state_dict(state)
        opt = make(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            out = model(x)
            l = F.cross_entropy(out.reshape(-1, V), y.reshape(-1))
            l.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
        for k, p in model.named_parameters():
            tensors[f"after.{opt_name}.{k}"] = p.detach().clone().contiguous()

    meta = {
        "format_version": 1,
        "config": {"cell": cell, "layers": layers, "hidden": hidden, "embed": embed, "vocab_size": V, "dropout": 0.0},
        "vocabulary": vocab,
        "start_character": "\n",
    }
    from safetensors.torch import save_file
    save_file(tensors, os.path.join(OUT, f"{name}.safetensors"),
              metadata={"charrnn": json.dumps(meta), "format": "pt"})
    print(name, "loss", float(loss))


def schedules():
    """Learning rates of updates 0..N-1 (the rate each optimizer.step() used), per schedule."""
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR, StepLR

    N, base, warmup = 40, 0.02, 5

    def rates(make):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
        sched = make(opt)
        out = []
        for _ in range(N):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    def warm(opt):
        return LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup)

    cases = {
        "step": {"decay": 0.5, "decay_every": 7, "warmup": 0, "total": N,
                 "rates": rates(lambda o: StepLR(o, step_size=7, gamma=0.5))},
        "cosine": {"decay": 1, "decay_every": 1, "warmup": 0, "total": N,
                   "rates": rates(lambda o: CosineAnnealingLR(o, T_max=N))},
        "cosine_warmup": {"decay": 1, "decay_every": 1, "warmup": warmup, "total": N,
                          "rates": rates(lambda o: SequentialLR(o, [warm(o), CosineAnnealingLR(o, T_max=N - warmup)],
                                                                milestones=[warmup]))},
        "step_warmup": {"decay": 0.5, "decay_every": 7, "warmup": warmup, "total": N,
                        "rates": rates(lambda o: SequentialLR(o, [warm(o), StepLR(o, step_size=7, gamma=0.5)],
                                                              milestones=[warmup]))},
    }
    with open(os.path.join(OUT, "lr_schedules.json"), "w") as f:
        json.dump({"base": base, "cases": cases}, f, indent=1)
    print("lr_schedules.json", len(cases), "schedules")


def plateau():
    """ReduceLROnPlateau (mode min, threshold 1e-4 rel, cooldown 0, min_lr 0, eps 1e-8) fed validation
    losses that improve, tie, improve by less than the threshold, and stall long enough to reach eps."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    base = 0.02
    stalls = [2.0, 1.8, 1.8, 1.79995, 1.7, 1.75, 1.76, 1.77, 1.69, 1.6899, 1.69, 1.7, 1.5, float("nan"), 1.6, 1.6, 1.6]
    cases = {}
    for name, factor, patience, losses in [("half_patience_2", 0.5, 2, stalls),
                                           ("tenth_patience_0", 0.1, 0, stalls + [3.0] * 12),
                                           ("half_patience_1", 0.5, 1, [1.0 - 1e-5 * k for k in range(30)])]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
        sched = ReduceLROnPlateau(opt, mode="min", factor=factor, patience=patience)
        rates = []
        for v in losses:
            sched.step(v)
            rates.append(opt.param_groups[0]["lr"])
        cases[name] = {"factor": factor, "patience": patience, "losses": [None if v != v else v for v in losses],
                       "rates": rates}
    with open(os.path.join(OUT, "lr_plateau.json"), "w") as f:
        json.dump({"base": base, "cases": cases}, f, indent=1)
    print("lr_plateau.json", len(cases), "cases")


def average():
    """torch.optim.swa_utils.AveragedModel with get_ema_multi_avg_fn(0.75) over six SGD steps of a
    small Linear: the flattened parameters after each step and the average after its update."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    torch.manual_seed(7)
    model = nn.Linear(3, 2)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.75))
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    flat = lambda m: torch.cat([p.detach().reshape(-1) for p in m.parameters()]).tolist()
    params, averages = [], []
    for _ in range(6):
        opt.zero_grad()
        model(torch.randn(4, 3)).pow(2).sum().backward()
        opt.step()
        ema.update_parameters(model)
        params.append(flat(model))
        averages.append(flat(ema.module))
    with open(os.path.join(OUT, "weight_average.json"), "w") as f:
        json.dump({"decay": 0.75, "parameters": params, "averages": averages}, f, indent=1)
    print("weight_average.json", len(params), "steps")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    parts = set(sys.argv[1:]) or {"models", "schedules", "plateau", "average"}
    if "schedules" in parts:
        schedules()
    if "plateau" in parts:
        plateau()
    if "average" in parts:
        average()
    if "models" not in parts:
        sys.exit(0)
    case("lstm_2x7_e6", "lstm", 2, 7, 6, 1)
    case("gru_2x7_e6", "gru", 2, 7, 6, 2)
    case("rnn_tanh_1x9_onehot", "rnn_tanh", 1, 9, 0, 3)
    case("rnn_relu_2x8_e5", "rnn_relu", 2, 8, 5, 4)
    case("lstm_1x6_onehot", "lstm", 1, 6, 0, 5)
