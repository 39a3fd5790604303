"""A counting baseline: the held-out loss of a character n-gram model of the same corpus.

A network earns its keep when its held-out loss falls below what counting achieves. This module
counts the training text's n-grams and scores the held-out text with them, for n = 1..6, and
keeps the n with the lowest held-out loss. Pure NumPy, no UI import.

Smoothing: interpolated Witten-Bell. With h the last n-1 characters, h' the last n-2, C(h, c)
the training count of h followed by c, C(h) = sum_c C(h, c) and T(h) the number of distinct
characters seen after h,

    p_n(c | h) = (C(h, c) + T(h) p_{n-1}(c | h')) / (C(h) + T(h))      when C(h) > 0
    p_n(c | h) = p_{n-1}(c | h')                                         when h never occurs
    p_0(c) = 1 / V                                                       (uniform)

The mass T(h) / (C(h) + T(h)) given to the shorter context is the estimated chance that h is
followed by something new. Why this one: it has no parameter to fit (add-k needs k tuned on
held-out text, Kneser-Ney a discount per order), so the held-out text only chooses n; it is
what the PPM text compressors (method C) use, which works well on characters; and it is short
enough to check by hand (tests/test_ngram.py does, on a 10-character text). A character never
seen in training still gets 1/V times the weight of every level above it, so no held-out loss
is infinite.

What is scored is the trainer's split (rnn_tui.engine.data): counts come from `train`, and
every character of `val` after its first is predicted from the held-out characters before it,
as the network's evaluation reads the held-out text from its start (a context shorter than
n-1 near the start falls back on the orders it has). n is chosen on the same held-out text that
is reported: with six candidates the optimism is negligible.

Vectorised: each context is one integer. The context of length k at position i is
code_k[i] = code_{k-1}[i] + s[i-k] V^(k-1), and a (context, next character) pair is
code_k[i] V + s[i]; when V^(k+1) would not fit in 63 bits the contexts are renumbered densely
first (np.unique), which keeps every code below N V. Counting is one sort per order
(np.unique), a lookup is a binary search (np.searchsorted): no Python loop over characters.
A corpus larger than `MAX_TRAIN` / `MAX_VAL` characters is counted on its last `MAX_TRAIN`
training characters and scored on its first `MAX_VAL` held-out ones, so the cost stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_N = 6  # the longest n-gram tried: a context of 5 characters
MAX_TRAIN = 4_000_000  # training characters counted at most (the last ones, next to val)
MAX_VAL = 250_000  # held-out characters scored at most (the first ones)
_CODE_LIMIT = 1 << 62  # codes stay below this; beyond, contexts are renumbered densely


@dataclass(frozen=True)
class NgramFit:
    """The counting baseline of one corpus."""

    n: int  # the n (1..MAX_N) whose model has the lowest held-out loss
    loss: float  # that model's held-out loss, nats/char
    losses: tuple[float, ...]  # held-out loss of n = 1, 2, ..., MAX_N, nats/char
    train_chars: int  # training characters counted
    val_chars: int  # held-out characters scored


def ngram_losses(
    train: np.ndarray, val: np.ndarray, vocab_size: int, max_n: int = MAX_N
) -> np.ndarray:
    """Held-out loss (nats/char) of the interpolated Witten-Bell n-gram model for n = 1..max_n.

    train: (N,) ids, val: (M,) ids, all below `vocab_size`. Returns (max_n,); position n-1
    is the loss of the n-gram model on val[1:] (each character predicted from the held-out
    characters before it, at most n-1 of them). Needs M >= 2.
    """
    V = int(vocab_size)
    train = np.asarray(train, dtype=np.int64)
    val = np.asarray(val, dtype=np.int64)
    if len(val) < 2:
        raise ValueError("the held-out text needs at least 2 characters")
    text = np.concatenate([train, val])  # (N + M,) one id array: codes are built over both
    S = len(train)  # where the held-out text starts
    targets = val[1:]  # (M-1,) the characters scored
    at = np.arange(S + 1, S + len(val))  # (M-1,) their positions in `text`
    seen = np.arange(1, len(val))  # (M-1,) held-out characters before each one
    p = np.full(len(targets), 1.0 / V)  # p_0: uniform over the vocabulary
    losses = np.empty(max_n)
    ctx = np.zeros(len(text), np.int64)  # (N + M,) code of the context of length k at each i
    span = 1  # the number of codes ctx can take: V^k, or the distinct contexts once renumbered
    for k in range(max_n):  # k: context length; the model of n = k + 1
        if k > 0:
            ctx[k:] += text[: len(text) - k] * span  # prepend s[i-k] to the context
            ctx[:k] = -1  # no context of length k before position k
            span *= V
            if span * V >= _CODE_LIMIT:  # renumber contexts 0..D-1 (D <= N + M)
                uniq, ctx_dense = np.unique(ctx, return_inverse=True)
                ctx = ctx_dense.astype(np.int64) - (uniq[0] < 0)  # -1 stays "no context"
                span = len(uniq)
        # 1. The training pairs (context, next char) with a full context, counted.
        pairs = ctx[k:S] * V + text[k:S]  # (S-k,) code of each training pair
        uniq_pairs, pair_count = _count(pairs)  # (P,) sorted distinct pairs, their counts
        pair_ctx = uniq_pairs // V  # (P,) the context of each distinct pair, sorted
        # 2. Per context: C(h) = its pair counts summed, T(h) = its number of distinct pairs.
        first = np.flatnonzero(np.r_[True, pair_ctx[1:] != pair_ctx[:-1]])  # (D,) run starts
        contexts = pair_ctx[first]  # (D,) the distinct contexts, sorted
        c_h = np.add.reduceat(pair_count, first) if len(first) else pair_count[:0]  # (D,) C(h)
        t_h = np.diff(np.r_[first, len(pair_ctx)])  # (D,) T(h)
        # 3. Look up each scored character's pair and context (binary search).
        h = ctx[at]  # (M-1,) context codes of the scored characters
        j, pair_seen = _find(uniq_pairs, h * V + targets)
        c_hc = np.where(pair_seen, pair_count[j], 0).astype(np.float64)  # (M-1,) C(h, c)
        i, known = _find(contexts, h)
        known &= seen >= k  # the context was seen in training and lies in the held-out text
        C, T = c_h[i].astype(np.float64), t_h[i].astype(np.float64)  # (M-1,) C(h), T(h)
        # 4. Interpolate: p_n = (C(h,c) + T(h) p_{n-1}) / (C(h) + T(h)) where h was seen.
        p = np.where(known, (c_hc + T * p) / np.where(known, C + T, 1.0), p)
        losses[k] = -np.mean(np.log(p))  # mean negative log-likelihood, nats/char
    return losses


def _count(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `codes`, sorted, and how often each occurs: (P,), (P,) int64.
    A plain sort and its run lengths (np.unique costs three times as much here)."""
    s = np.sort(codes)  # (N,) equal codes side by side
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # (P,) where each run begins
    return s[start], np.diff(np.r_[start, len(s)])  # each run's value and length


def _find(keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each query is in the sorted `keys`: (Q,) an index into keys (any valid one when
    absent) and (Q,) whether it is there. The queries are searched in sorted order, which
    makes the binary searches walk the keys in one direction (four times faster here)."""
    if not len(keys):
        return np.zeros(len(query), np.int64), np.zeros(len(query), bool)
    order = np.argsort(query)  # (Q,) the queries, smallest first
    j = np.empty(len(query), np.int64)
    j[order] = np.searchsorted(keys, query[order])  # (Q,) insertion points
    j = np.minimum(j, len(keys) - 1)  # past the end: not there, but a valid index
    return j, keys[j] == query


def fit_ngram(
    train: np.ndarray, val: np.ndarray, vocab_size: int, max_n: int = MAX_N
) -> NgramFit | None:
    """The counting baseline of a split corpus: the n in 1..max_n with the lowest held-out loss
    (the smaller n on a tie). None when there is nothing to score (fewer than 2 held-out
    characters) or nothing to count."""
    train, val = train[-MAX_TRAIN:], val[:MAX_VAL]
    if len(val) < 2 or len(train) < 1:
        return None
    losses = ngram_losses(train, val, vocab_size, max_n)
    best = int(np.argmin(losses))  # the first of equal minima: the smaller n
    if not math.isfinite(losses[best]):
        return None
    return NgramFit(best + 1, float(losses[best]), tuple(map(float, losses)), len(train), len(val))
