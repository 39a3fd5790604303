"""The counting baseline (rnn_tui.engine.ngram) and the long-lag floors (rnn_tui.engine.floors).

The n-gram losses are checked against numbers worked out by hand on 10- and 12-character
texts, and against a slow dictionary-based model on random texts (including vocabularies so
large that the integer codes must be renumbered)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from rnn_tui.engine.data import corpus_from_text
from rnn_tui.engine.floors import long_lag_floors, task_floors
from rnn_tui.engine.longlag import KEYS, make_lines
from rnn_tui.engine.ngram import MAX_N, fit_ngram, ngram_losses
from rnn_tui.engine.recall import recall_task


def test_held_out_loss_of_a_ten_character_text_by_hand() -> None:
    """If this fails, the counting line on the loss chart sits at a loss the n-gram model does
    not have, and a class is told the network beats (or loses to) counting when it does not."""
    # "abaababacb" split as the trainer splits it (the last 30% held out): train "abaabab",
    # held-out "acb"; V = 3 (a, b, c). Scored: 'c' after 'a' and 'b' after 'c'.
    corpus = corpus_from_text("abaababacb", "hand", val_fraction=0.3)
    assert corpus.vocab.decode(corpus.train) == "abaabab"
    assert corpus.vocab.decode(corpus.val) == "acb"
    # n = 1: C = 7 (a 4, b 3), T = 2 kinds seen; p_0 = 1/3.
    #   p(c) = (0 + 2/3) / (7 + 2) = 2/27   (c never seen in training: only the uniform share)
    #   p(b) = (3 + 2/3) / 9 = 11/27
    # n = 2: after 'a' in training: b, a, b, b: C(a) = 4, T(a) = 2, C(a, c) = 0.
    #   p(c | a) = (0 + 2 * 2/27) / (4 + 2) = 2/81
    #   p(b | c) = p(b) = 11/27   ('c' never precedes anything in training: the lower order)
    # n >= 3: 'c' has one held-out character before it (a context of 1), 'b' the unseen
    # context "ac": both fall back on n = 2.
    one = -(math.log(2 / 27) + math.log(11 / 27)) / 2
    two = -(math.log(2 / 81) + math.log(11 / 27)) / 2
    losses = ngram_losses(corpus.train, corpus.val, corpus.vocab.size)
    np.testing.assert_allclose(losses, [one, two, two, two, two, two], rtol=1e-12)
    fit = fit_ngram(corpus.train, corpus.val, corpus.vocab.size)
    assert fit is not None
    assert fit.n == 1  # the unseen 'c' costs less where little context was trusted
    assert fit.loss == pytest.approx(one, rel=1e-12)
    assert (fit.train_chars, fit.val_chars) == (7, 3)


def test_longer_contexts_help_a_periodic_text_by_hand() -> None:
    """If this fails, the model does not use its longer contexts (nor interpolate them with the
    shorter ones), and the counting baseline of a regular text is far too high."""
    # train "abababab", held-out "abab", V = 2. Scored: b (after a), a (after ab), b (after aba).
    corpus = corpus_from_text("abababababab", "periodic", val_fraction=1 / 3)
    assert corpus.vocab.decode(corpus.val) == "abab"
    # n = 1: a 4, b 4, T = 2: p = (4 + 2/2) / (8 + 2) = 1/2 for either.
    # n = 2: after a: b 4 times (C 4, T 1); after b: a 3 times (C 3, T 1).
    #   p(b | a) = (4 + 1/2) / 5 = 0.9,  p(a | b) = (3 + 1/2) / 4 = 0.875
    # n = 3: after ab: a 3 times; after ba: b 3 times (C 3, T 1 each). The first scored 'b'
    # has only one held-out character before it: it keeps p(b | a) = 0.9.
    #   p(a | ab) = (3 + 0.875) / 4 = 0.96875,  p(b | ba) = (3 + 0.9) / 4 = 0.975
    want = [
        math.log(2),
        -(2 * math.log(0.9) + math.log(0.875)) / 3,
        -(math.log(0.9) + math.log(0.96875) + math.log(0.975)) / 3,
    ]
    losses = ngram_losses(corpus.train, corpus.val, corpus.vocab.size, max_n=3)
    np.testing.assert_allclose(losses, want, rtol=1e-12)


def reference_losses(train: list[int], val: list[int], V: int, max_n: int) -> list[float]:
    """Interpolated Witten-Bell written plainly, with dictionaries, one character at a time."""
    pairs: Counter[tuple[tuple[int, ...], int]] = Counter()
    for k in range(max_n):
        for i in range(k, len(train)):
            pairs[(tuple(train[i - k : i]), train[i])] += 1
    total: Counter[tuple[int, ...]] = Counter()
    kinds: Counter[tuple[int, ...]] = Counter()
    for (h, _), count in pairs.items():
        total[h] += count
        kinds[h] += 1
    out = []
    for n in range(1, max_n + 1):
        nll = 0.0
        for j in range(1, len(val)):
            p = 1.0 / V
            for k in range(min(n - 1, j) + 1):
                h = tuple(val[j - k : j])
                if total[h]:
                    p = (pairs[(h, val[j])] + kinds[h] * p) / (total[h] + kinds[h])
            nll -= math.log(p)
        out.append(nll / (len(val) - 1))
    return out


@pytest.mark.parametrize("V", [2, 5, 40, 3000, 70_000])
def test_matches_a_plain_reference_model(V: int) -> None:
    """If this fails, the vectorised counting (integer codes, sorting, binary search, and the
    renumbering that large vocabularies need) scores some character differently from the
    formula the module states."""
    rng = np.random.default_rng(V)
    used = rng.choice(V, size=min(V, 7), replace=False)  # a few characters, spread over V
    probs = rng.dirichlet(np.ones(len(used)))
    text = used[rng.choice(len(used), size=600, p=probs)]
    text[200:260] = text[100:160]  # some repeated stretches: long contexts that recur
    text[560:590] = text[120:150]
    train, val = text[:500], text[500:]
    want = reference_losses(train.tolist(), val.tolist(), V, MAX_N)
    np.testing.assert_allclose(ngram_losses(train, val, V), want, rtol=1e-10)


def test_n_is_chosen_by_held_out_loss() -> None:
    """If this fails, the chart names an n whose model is not the best of the six, so the
    counting line is higher than counting can do."""
    rng = np.random.default_rng(0)
    # A second-order chain: each character follows from the two before it, 1 time in 10 not.
    V = 6
    table = rng.integers(0, V, (V, V))
    ids = [0, 1]
    for _ in range(20_000):
        nxt = table[ids[-2], ids[-1]] if rng.random() > 0.1 else rng.integers(0, V)
        ids.append(int(nxt))
    text = np.array(ids)
    train, val = text[:18_000], text[18_000:]
    losses = ngram_losses(train, val, V)
    fit = fit_ngram(train, val, V)
    assert fit is not None
    assert fit.n == int(np.argmin(losses)) + 1 and fit.loss == min(losses)
    assert fit.losses == tuple(losses)
    # The chain's order shows: a context of 2 beats 1 by far; longer ones add nothing.
    assert losses[2] < 0.6 * losses[1]
    assert fit.n >= 3 and fit.loss == pytest.approx(losses[2], rel=0.05)


def test_too_little_held_out_text_gives_no_baseline() -> None:
    """If this fails, a corpus with no held-out text crashes the trainer at start."""
    ids = np.array([0, 1, 0, 1, 1])
    assert fit_ngram(ids, ids[:1], 2) is None
    assert fit_ngram(ids, ids[:0], 2) is None
    assert fit_ngram(ids[:0], ids, 2) is None


def test_floors_of_lag_80_and_8_keys() -> None:
    """If this fails, the two floors on a long-lag chart are not at 2 ln 8 / 84 and ln 8 / 84,
    and a class misreads how close a model is to recalling the key."""
    floors = long_lag_floors(8, 80)
    assert floors.forgets == pytest.approx(0.049510, abs=1e-6)  # 2 * 2.07944 / 84
    assert floors.recalls == pytest.approx(0.024755, abs=1e-6)  # 2.07944 / 84


def test_floors_follow_the_corpus_format() -> None:
    """If this fails, the floors assume a line length or a number of keys that the long-lag
    corpus does not have (after --lag, say)."""
    for lag in (5, 80):
        text = make_lines(400, lag)
        assert set(text.splitlines()[0][1:-2]) == {"."} and len(text.splitlines()[0]) == lag + 3
        corpus = corpus_from_text(text, "longlag")
        floors = task_floors(recall_task(corpus))
        assert floors is not None
        # Scored by hand: each line's L = lag + 4 characters (the newline too) cost ln 8 for
        # the first key and, without recall, ln 8 again for the last one; the rest is fixed.
        per_line = lag + 4
        assert floors.recalls == pytest.approx(math.log(len(KEYS)) / per_line, rel=1e-12)
        assert floors.forgets == pytest.approx(2 * math.log(len(KEYS)) / per_line, rel=1e-12)
    assert task_floors(recall_task(corpus_from_text("just some text\n" * 40, "plain"))) is None
