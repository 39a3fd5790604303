"""Text generation, one character at a time, from a private copy of the weights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.data import encode
from rnn_tui.engine.model import Cell, Params
from rnn_tui.engine.text import Vocab


@dataclass(frozen=True)
class SampledChar:
    """One generated character and what the model thought when it chose it."""

    char: str  # the character drawn
    index: int  # its id in the vocabulary
    probs: np.ndarray  # (V,) the distribution it was drawn from (after temperature and top-k)
    hidden: np.ndarray  # (H,) the hidden state that produced the distribution


def distribution(logits: np.ndarray, temperature: float, top_k: int = 0) -> np.ndarray:
    """Probabilities `(V,)` from logits `(V,)`: softmax(logits / temperature), top-k kept."""
    z = logits.astype(np.float64) / temperature  # sharpen (< 1) or flatten (> 1)
    if 0 < top_k < len(z):
        cutoff = np.partition(z, -top_k)[-top_k]  # the k-th largest logit
        z = np.where(z >= cutoff, z, -np.inf)  # everything below it gets probability 0
    with np.errstate(all="ignore"):  # overflowing logits are handled just below, not warned of
        p = np.exp(z - z.max())  # stable softmax
        p /= p.sum()
    if not np.isfinite(p).all():  # inf or NaN logits (a model on the edge of diverging)
        top = np.nan_to_num(z, nan=-np.inf)
        p = (top == top.max()).astype(np.float64)  # the likeliest character(s), evenly
        p = p / p.sum() if p.sum() > 0 else np.full(len(z), 1.0 / len(z))
    return p


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn with probabilities `p: (V,)` (finite, summing to 1, as from `distribution`).

    The same draw as `rng.choice(len(p), p=p)`, from the same uniform number (a seed gives the
    same text): the first index whose cumulative probability exceeds it. Without choice's
    checks of `p`, which cost three times the draw itself (a sixth of a typed character)."""
    cdf = np.cumsum(p)  # (V,) P(index <= i)
    cdf /= cdf[-1]  # exactly 1 at the end, whatever the rounding
    return int(cdf.searchsorted(rng.random(), side="right"))  # first i with cdf[i] > u


def sample_chars(
    model: Cell,
    params: Params,
    vocab: Vocab,
    *,
    temperature: float = 0.8,
    top_k: int = 0,
    prime: str = "",
    seed: int | None = None,
    reset_at: str = "",
) -> Iterator[SampledChar]:
    """An endless generator of characters, each drawn from the model's next-character distribution.

    The weights are copied now, before the first character is asked for, so training may go on
    changing `params` while this generator is consumed. `prime` (characters of the vocabulary)
    is read first to set the state; without it, generation starts from a zero state and a
    newline if the vocabulary has one. After a character of `reset_at` the state is zeroed,
    as in training.
    """
    weights = {k: v.copy() for k, v in params.items()}  # private copy: training may go on
    rng = np.random.default_rng(seed)
    start = prime or ("\n" if "\n" in vocab.chars else vocab.chars[0])
    ids = encode(vocab, start)
    resets = {i for i, ch in enumerate(vocab.chars) if ch in reset_at}
    return _generate(model, weights, vocab, ids, temperature, top_k, rng, resets)


def _generate(
    model: Cell,
    params: Params,
    vocab: Vocab,
    prime_ids: np.ndarray,
    temperature: float,
    top_k: int,
    rng: np.random.Generator,
    resets: set[int],
) -> Iterator[SampledChar]:
    fresh = model.init_state(1)
    state = fresh
    logits = np.zeros((1, model.V), model.dtype)
    h = fresh[0][0]  # (H,) the hidden state the current logits came from
    for i in prime_ids:  # read the prime: only the state matters
        logits, state = model.step(params, np.array([i]), state)
        h = state[0][0].copy()  # kept before a reset zeroes the state the next step reads
        state = fresh if int(i) in resets else state
    while True:
        p = distribution(logits[0], temperature, top_k)
        i = draw(p, rng)
        yield SampledChar(char=vocab.chars[i], index=i, probs=p, hidden=h)
        logits, state = model.step(params, np.array([i]), state)
        h = state[0][0].copy()
        state = fresh if i in resets else state


def sample_text(model: Cell, params: Params, vocab: Vocab, n: int, **kwargs: object) -> str:
    """`n` characters from `sample_chars`, joined."""
    gen = sample_chars(model, params, vocab, **kwargs)  # type: ignore[arg-type]
    return "".join(next(gen).char for _ in range(n))


def top_chars(probs: np.ndarray, chars: tuple[str, ...], k: int = 5) -> list[tuple[str, float]]:
    """The `k` likeliest characters of `probs: (V,)` with their probabilities, likeliest first."""
    k = min(k, len(probs))
    idx = np.argpartition(probs, -k)[-k:]  # the k largest, unordered
    idx = idx[np.argsort(probs[idx])[::-1]]  # ordered, largest first
    return [(chars[i], float(probs[i])) for i in idx]


def most_varying_unit(hidden: np.ndarray) -> int:
    """The hidden unit whose value changes most over a sample: hidden: (N, H) -> index."""
    return int(np.argmax(hidden.std(axis=0))) if len(hidden) else 0
