#!/usr/bin/env python3
"""Reference distributions for charrnn's sampling options, written independently with numpy:
Tests/CharRNNTests/Fixtures/nucleus.json and penalties.json.

penalties.json: OpenAI's presence and frequency penalties as its API reference defines them,
mu[j] - c[j] * frequency_penalty - (c[j] > 0) * presence_penalty, where c[j] counts how often
character j was generated so far, then the temperature and softmax.

nucleus.json: Each case gives logits, a temperature, top_k and top_p, and
the probability of every character after them, in this order (as Hugging Face's logits warpers apply
them): divide by the temperature, softmax, keep the k most likely (ties: the lower index), keep the
smallest set of the most likely whose mass reaches top_p (Holtzman et al. 2020; ties: the lower index),
renormalise. Also each case's distribution with the nucleus cut one character later, which a test of
the cut-off must tell apart.

Usage: python3 Tests/parity/make_sampling_fixtures.py"""
import json, os
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "CharRNNTests", "Fixtures", "nucleus.json")


def distribution(logits, temperature, top_k, top_p, extra=0):
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = sorted(range(len(p)), key=lambda j: (-p[j], j))
    if top_k is not None and top_k < len(p):
        for j in order[top_k:]:
            p[j] = 0
    if top_p is not None and top_p < 1:
        total, kept, cut = p.sum(), 0.0, len(p)
        for rank, j in enumerate(order):
            kept += p[j]
            if kept >= top_p * total:
                cut = rank + 1
                break
        for j in order[cut + extra:]:
            p[j] = 0
    return (p / p.sum()).tolist()


rng = np.random.default_rng(5)
cases = []
for logits, temperature, top_k, top_p in [
    (rng.normal(0, 1.5, 10).tolist(), 1.0, None, 0.9),
    (rng.normal(0, 1.5, 10).tolist(), 0.7, None, 0.5),
    (rng.normal(0, 3.0, 10).tolist(), 1.3, 6, 0.8),
    ([2.0, 2.0, 1.0, 1.0, 0.5, 0.0, -1.0, -1.0, -2.0, -3.0], 1.0, None, 0.6),  # ties at the cut
]:
    cases.append({"logits": logits, "temperature": temperature, "top_k": top_k, "top_p": top_p,
                  "probabilities": distribution(logits, temperature, top_k, top_p),
                  "one_more": distribution(logits, temperature, top_k, top_p, extra=1)})
with open(OUT, "w") as f:
    json.dump({"cases": cases}, f, indent=1)
print("nucleus.json", len(cases), "cases")

penalties = []
for presence, frequency, temperature in [(0.8, 0.0, 1.0), (0.0, 0.6, 0.8), (1.5, 0.4, 1.2), (-0.7, -0.3, 1.0)]:
    logits = rng.normal(0, 1.5, 10)
    counts = rng.integers(0, 4, 10) * (rng.random(10) < 0.6)
    z = (logits - counts * frequency - (counts > 0) * presence) / temperature
    p = np.exp(z - z.max())
    penalties.append({"logits": logits.tolist(), "counts": counts.tolist(), "presence": presence, "frequency": frequency,
                      "temperature": temperature, "probabilities": (p / p.sum()).tolist()})
with open(os.path.join(os.path.dirname(OUT), "penalties.json"), "w") as f:
    json.dump({"cases": penalties}, f, indent=1)
print("penalties.json", len(penalties), "cases")
