"""A plain reference RNN, written the min-char-rnn way: one stream, one-hot inputs, float64,
a Python loop over time with matrix-vector products.

It is slow on purpose. Tests compare the fast batched model against it, and the benchmark
measures how much faster the fast one is.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.model.base import Params


def loss_and_grads(
    params: Params, inputs: list[int], targets: list[int], hprev: np.ndarray
) -> tuple[float, Params, np.ndarray]:
    """Mean loss over the sequence, gradients, and the last hidden state. hprev: (H, 1)."""
    Wxh, Whh, Why = (params[k].astype(np.float64) for k in ("Wxh", "Whh", "Why"))
    bh = params["bh"].astype(np.float64)[:, None]  # (H, 1)
    by = params["by"].astype(np.float64)[:, None]  # (V, 1)
    V, T = Why.shape[0], len(inputs)
    xs, hs, ps = {}, {-1: hprev.astype(np.float64)}, {}
    loss = 0.0
    for t in range(T):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1  # one-hot input
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)  # hidden state
        ys = Why @ hs[t] + by  # unnormalised log-probabilities
        ps[t] = np.exp(ys - ys.max()) / np.exp(ys - ys.max()).sum()  # softmax
        loss += -np.log(ps[t][targets[t], 0])  # cross-entropy
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[targets[t]] -= 1  # backprop into y
        dy /= T  # of the mean loss
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext  # backprop into h
        dhraw = (1 - hs[t] * hs[t]) * dh  # backprop through tanh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    grads = {"Wxh": dWxh, "Whh": dWhh, "bh": dbh[:, 0], "Why": dWhy, "by": dby[:, 0]}
    return loss / T, grads, hs[T - 1]
