"""A plain reference RNN, written the min-char-rnn way: one stream, one-hot inputs, float64,
a Python loop over time, every product an `np.dot` on (n, 1) column vectors.

It is slow on purpose, but no slower than Karpathy's min-char-rnn.py: tests compare the fast
batched model against it, and the benchmark measures how much faster the fast one is, so its
cost per character must be the textbook one. That is why it keeps `np.dot`: with `@`, the outer
products such as `dhraw @ h.T` (an (H, 1) column times a transposed (1, H) view) take several
times longer than `np.dot` on this numpy, which would flatter every ratio against it.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.model.base import Params


def _f64(a: np.ndarray) -> np.ndarray:
    """`a` as float64, without a copy when it already is."""
    return np.asarray(a, dtype=np.float64)


def loss_and_grads(
    params: Params, inputs: list[int], targets: list[int], hprev: np.ndarray
) -> tuple[float, Params, np.ndarray]:
    """Mean loss over the sequence, gradients, and the last hidden state. hprev: (H, 1)."""
    Wxh, Whh, Why = _f64(params["Wxh"]), _f64(params["Whh"]), _f64(params["Why"])
    bh = _f64(params["bh"]).reshape(-1, 1)  # (H, 1) column, as min-char-rnn keeps it
    by = _f64(params["by"]).reshape(-1, 1)  # (V, 1)
    V, T = Why.shape[0], len(inputs)
    x_col: dict[int, np.ndarray] = {}  # one-hot input columns, (V, 1)
    h_col: dict[int, np.ndarray] = {-1: _f64(hprev)}  # hidden state columns, (H, 1)
    p_col: dict[int, np.ndarray] = {}  # softmax columns, (V, 1)
    loss = 0.0
    for t in range(T):
        x = np.zeros((V, 1))
        x[inputs[t], 0] = 1.0
        x_col[t] = x
        # The recurrence: h_t = tanh(Wxh x_t + Whh h_{t-1} + bh).
        h_col[t] = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h_col[t - 1]) + bh)
        logits = np.dot(Why, h_col[t]) + by
        e = np.exp(logits - logits.max())  # shifted, so a large logit cannot overflow
        p_col[t] = e / e.sum()
        loss -= np.log(p_col[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_later = np.zeros_like(h_col[0])  # gradient reaching h_t from step t + 1
    for t in range(T - 1, -1, -1):
        dlogits = p_col[t].copy()
        dlogits[targets[t], 0] -= 1.0  # softmax + cross-entropy
        dlogits /= T  # the loss is a mean over the window
        dWhy += np.dot(dlogits, h_col[t].T)
        dby += dlogits
        dh = np.dot(Why.T, dlogits) + dh_later
        dpre = (1.0 - h_col[t] * h_col[t]) * dh  # through tanh
        dbh += dpre
        dWxh += np.dot(dpre, x_col[t].T)
        dWhh += np.dot(dpre, h_col[t - 1].T)
        dh_later = np.dot(Whh.T, dpre)
    grads = {"Wxh": dWxh, "Whh": dWhh, "bh": dbh[:, 0], "Why": dWhy, "by": dby[:, 0]}
    return loss / T, grads, h_col[T - 1]
