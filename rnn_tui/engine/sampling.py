"""Text generation, one character at a time, from a private copy of the weights."""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rnn_tui.engine.config import require
from rnn_tui.engine.data import Vocab
from rnn_tui.engine.model import Cell, Params

MAX_TEMPERATURE = 10.0  # past this, samples are noise whatever the model knows
MAX_PRIME = 500  # characters of a prime: a few lines, enough to set the state, short to read


@dataclass(frozen=True)
class SampleSettings:
    """How samples are drawn: the viewer's choice, not the model's (not in a checkpoint)."""

    temperature: float = 0.8  # softmax(z / temperature): < 1 plays safe, > 1 takes risks
    top_k: int = 0  # sample only from the k likeliest characters; 0 = all of them
    sample_len: int = 240  # characters per sample: about three lines of a wide pane
    prime: str = ""  # every sample continues this text (read into the state first); "": none

    def __post_init__(self) -> None:
        t = self.temperature
        ok = isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
        require(
            ok and 0 < t <= MAX_TEMPERATURE,
            "temperature",
            f"must be > 0 and <= {MAX_TEMPERATURE:g} (got {t})",
        )
        k = self.top_k
        require(
            isinstance(k, int) and not isinstance(k, bool) and k >= 0,
            "top_k",
            f"must be >= 0 (got {k})",
        )
        n = self.sample_len
        require(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 100000,
            "sample_len",
            f"must be between 1 and 100000 (got {n})",
        )
        p = self.prime
        require(
            isinstance(p, str) and len(p) <= MAX_PRIME,
            "prime",
            f"must be at most {MAX_PRIME} characters (got {len(p) if isinstance(p, str) else p})",
        )

    def with_(self, **changes: Any) -> SampleSettings:
        return replace(self, **changes)


def read_prime(typed: str) -> str:
    """A prime as typed on a command line or in the app: backslash escapes such as `\\n` (a
    newline) and `\\t` are read, every other character is kept as it is. ValueError if an
    escape cannot be read (a lone backslash at the end)."""
    # Characters past Latin-1 become \uXXXX escapes first, so the decoder gives them back.
    raw = typed.encode("latin-1", "backslashreplace")
    try:
        return codecs.decode(raw, "unicode_escape")
    except UnicodeDecodeError:
        raise ValueError(f"cannot read the backslash escapes in {typed!r}") from None


def unknown_chars(prime: str, chars: tuple[str, ...]) -> list[str]:
    """The characters of `prime` that the vocabulary `chars` lacks, each once, in order."""
    known = set(chars)
    return list(dict.fromkeys(ch for ch in prime if ch not in known))


def prime_problem(prime: str, chars: tuple[str, ...]) -> str | None:
    """What is wrong with `prime` for a model of vocabulary `chars`, in one line; None if
    nothing is: every character must be one the model has seen, and it must not be too long."""
    if len(prime) > MAX_PRIME:
        return f"the prime is {len(prime)} characters long; at most {MAX_PRIME} are read"
    if missing := unknown_chars(prime, chars):
        shown = ", ".join(repr(ch) for ch in missing[:10]) + (" ..." if len(missing) > 10 else "")
        return f"the corpus never has {shown}: the model cannot read a character it never saw"
    return None


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
    ids = vocab.encode(start)
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
        i = int(rng.choice(len(p), p=p))
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
