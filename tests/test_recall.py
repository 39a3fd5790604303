"""Key recall on the long-lag corpus: detection, the held-out lines, and the score itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, corpus_from_text, load_corpus
from rnn_tui.engine.longlag import KEYS, make_lines
from rnn_tui.engine.model import Params, make_cell
from rnn_tui.engine.recall import key_recall, recall_predictions, recall_task
from rnn_tui.engine.trainer import Trainer

CORPORA = Path(__file__).resolve().parent.parent / "corpora"


def _corpus(lines: int = 200, lag: int = 12, seed: int = 3) -> Corpus:
    return corpus_from_text(make_lines(lines, lag, seed), "longlag", 0.1)


def _held_out_lines(corpus: Corpus) -> list[str]:
    """The whole lines of the held-out text, found by string handling alone."""
    text = corpus.vocab.decode(np.concatenate([corpus.train, corpus.val]))
    cut = len(corpus.train)
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"][:-1]
    return [text[s : text.index("\n", s)] for s in starts if s >= cut]


def test_the_shipped_corpus_is_a_recall_task() -> None:
    """If this fails, the lstm-rescue lesson cannot say how often each model recalls the key."""
    corpus = load_corpus(CORPORA / "longlag.txt")
    task = recall_task(corpus)
    assert task is not None
    assert task.lag == 80 and task.keys == tuple(KEYS)
    assert task.lines == 60  # 600 lines, the last 10% held out
    assert task.chance == pytest.approx(1 / 8, abs=1e-12)
    assert task.inputs.shape == (60, 82)


@pytest.mark.parametrize("lag", [1, 7, 80, 150])
def test_the_task_holds_exactly_the_held_out_lines(lag: int) -> None:
    """If this fails, recall is measured on lines the model trained on, or on cut lines."""
    corpus = _corpus(lines=120, lag=lag)
    task = recall_task(corpus)
    assert task is not None and task.lag == lag
    lines = _held_out_lines(corpus)
    assert len(lines) == task.lines > 0
    for line, inputs, target in zip(lines, task.inputs, task.targets, strict=True):
        assert corpus.vocab.decode(inputs) == line[:-1]  # key, filler, '='
        assert corpus.vocab.chars[int(target)] == line[-1] == line[0]


def test_other_texts_are_not_recall_tasks() -> None:
    """If this fails, a recall figure is shown for a text that has no key to recall."""
    assert recall_task(load_corpus(CORPORA / "tiny.txt")) is None
    good = make_lines(50, 10, seed=1)
    lines = good.splitlines(keepends=True)
    broken = {
        "wrong key": lines[:5] + ["A" + "." * 10 + "=B\n"] + lines[6:],
        "another lag": lines[:5] + ["A" + "." * 11 + "=A\n"] + lines[6:],
        "mixed filler": lines[:5] + ["A" + "." * 9 + "-=A\n"] + lines[6:],
        "no final newline": lines[:-1] + [lines[-1][:-1]],
    }
    for name, parts in broken.items():
        assert recall_task(corpus_from_text("".join(parts), name, 0.1)) is None, name
    assert recall_task(corpus_from_text(good, "no held-out text", 0.0)) is None


def _remembering_lstm(corpus: Corpus) -> Params:
    """LSTM weights that store the key in the cell and name it after '=', by hand: unit k
    is written (input gate open) only by key k, never forgotten (forget gate shut tight), and
    read out as the logit of key k only when '=' is read (the output gate opens there alone:
    everywhere else the newline's bias wins)."""
    chars = corpus.vocab.chars
    keys = [chars.index(k) for k in KEYS]
    H, V = len(keys), len(chars)
    cell = make_cell("lstm", V, H, "float64")
    p = {k: np.zeros(s) for k, s in cell.param_shapes().items()}
    i, f, o, g = (slice(n * H, (n + 1) * H) for n in range(4))  # gate blocks in W_x and b
    p["b"][i] = -20.0  # the input gate shut...
    p["Wx"][i][:, keys] = 40.0  # ...except on a key
    p["b"][f] = 20.0  # forget nothing: f = 1 - 2e-9
    p["b"][o] = -20.0  # hide the cell...
    p["Wx"][o][:, chars.index("=")] = 40.0  # ...until '=' is read
    p["Wx"][g][np.arange(H), keys] = 5.0  # key k writes tanh(5) = 0.9999 into unit k
    p["Why"][keys, np.arange(H)] = 10.0  # unit k is the logit of key k: 7.6 after '='...
    p["by"][chars.index("\n")] = 1.0  # ...and the newline's 1 wins where the cell is hidden
    return p


def _remembering_rnn(corpus: Corpus) -> Params:
    """RNN weights that keep the key alive by hand: unit k is pushed to +1 by key k and then
    holds itself there (h = tanh(3 h) has a fixed point at 0.995), every other unit stays 0."""
    chars = corpus.vocab.chars
    keys = [chars.index(k) for k in KEYS]
    H = len(keys)
    cell = make_cell("rnn", len(chars), H, "float64")
    p = {k: np.zeros(s) for k, s in cell.param_shapes().items()}
    p["Wxh"][np.arange(H), keys] = 5.0  # key k switches unit k on
    p["Whh"] = 3.0 * np.eye(H)  # each unit feeds itself: on stays on, 0 stays 0
    p["Why"][keys, np.arange(H)] = 10.0  # unit k is the logit of key k
    return p


@pytest.mark.parametrize(
    ("cell", "weights"), [("lstm", _remembering_lstm), ("rnn", _remembering_rnn)]
)
def test_a_model_that_remembers_the_key_scores_one(cell: str, weights: object) -> None:
    """If this fails, a model that does recall the key is not credited with it."""
    corpus = _corpus(lag=80)
    task = recall_task(corpus)
    assert task is not None
    params = weights(corpus)  # type: ignore[operator]
    model = make_cell(cell, corpus.vocab.size, len(KEYS), "float64")
    assert key_recall(task, model, params) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(recall_predictions(task, model, params), task.targets)
    shuffled = dict(params)  # the same model naming the wrong key scores 0
    shuffled["Why"] = np.roll(params["Why"], 1, axis=1)
    assert key_recall(task, model, shuffled) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_model_that_always_names_one_key_scores_its_share(cell: str) -> None:
    """If this fails, a model that has only learnt "some key follows '='" looks as if it
    remembered: its recall must be that key's share of the held-out lines, about chance."""
    corpus = _corpus(lines=300, lag=20)
    task = recall_task(corpus)
    assert task is not None
    model = make_cell(cell, corpus.vocab.size, 16, "float64")
    params = model.init_params(np.random.default_rng(0))
    params["Why"][:] = 0.0  # logits = b_y whatever the state
    held = [corpus.vocab.chars[int(t)] for t in task.targets]
    for key in ("C", "H"):
        params["by"][:] = 0.0
        params["by"][corpus.vocab.chars.index(key)] = 1.0  # always name `key`
        share = held.count(key) / len(held)
        assert 0 < share < 1
        assert key_recall(task, model, params) == pytest.approx(share, abs=1e-12)


def test_all_equal_logits_name_the_newline_and_score_zero() -> None:
    """If this fails, the tie rule is not what the module says: with every logit equal the
    lowest id (the newline) wins, which is never a key, so recall is 0, not chance."""
    corpus = _corpus()
    task = recall_task(corpus)
    assert task is not None
    model = make_cell("gru", corpus.vocab.size, 8, "float64")
    params = model.init_params(np.random.default_rng(1))
    params["Why"][:] = 0.0
    params["by"][:] = 0.0
    assert corpus.vocab.chars[0] == "\n"
    np.testing.assert_array_equal(recall_predictions(task, model, params), 0)
    assert key_recall(task, model, params) == 0.0


def test_recall_reads_a_trainer_snapshot_and_leaves_it_alone() -> None:
    """If this fails, measuring recall during training changes the weights being trained or
    depends on the trainer's streams: each held-out line must be read alone from zero."""
    corpus = _corpus(lines=200, lag=30)
    task = recall_task(corpus)
    assert task is not None
    config = Config(cell="lstm", hidden=8, seq_len=34, batch=4, reset_at="\n")
    trainer = Trainer(corpus, config)
    for _ in range(3):
        trainer.step()
    snap = trainer.snapshot()
    before = {k: v.copy() for k, v in snap.items()}
    score = key_recall(task, trainer.model, snap)
    assert 0.0 <= score <= 1.0
    for k, v in snap.items():
        np.testing.assert_array_equal(v, before[k])
    one = [
        key_recall(
            type(task)(task.lag, task.keys, task.inputs[b : b + 1], task.targets[b : b + 1]),
            trainer.model,
            snap,
        )
        for b in range(task.lines)
    ]  # line by line, each from its own zero state
    assert score == pytest.approx(float(np.mean(one)), abs=1e-12)


# -- how far back the recall's gradient reaches ----------------------------------------------


@pytest.mark.parametrize("cell_name", ["rnn", "lstm", "gru"])
def test_the_recall_gradients_are_the_probes_looking_back_from_the_recalled_key(
    cell_name: str,
) -> None:
    """If this fails, the reach printed for the long-lag lesson is not the exact gradient of
    log p(key after '=') with respect to each input: a line mixed up with another in the
    batch, the wrong output differentiated, or a step shifted. Checked line by line against
    the probe's looking back, which is itself checked against finite differences."""
    from rnn_tui.engine.probe import looking_back, probe_model
    from rnn_tui.engine.recall import recall_gradients

    corpus = _corpus(lines=200, lag=9)
    task = recall_task(corpus)
    assert task is not None
    cell = make_cell(cell_name, corpus.vocab.size, 6, "float64")
    params = cell.init_params(np.random.default_rng(5), rec_gain=1.4)
    g = recall_gradients(task, cell, params, lines=5)  # (5, T)
    assert g.shape == (5, task.lag + 2)
    pm = probe_model(params, Config(cell=cell_name, hidden=6, dtype="float64"), corpus.vocab.chars)
    for b in range(5):
        line = np.append(task.inputs[b], task.targets[b])  # key, filler, '=', key
        want = looking_back(pm, line, len(line) - 1)  # (T,) from the recalled key
        np.testing.assert_allclose(g[b], want, rtol=1e-9, atol=0)


def test_a_model_without_recurrence_reaches_nothing_and_one_with_it_reaches_the_key() -> None:
    """If this fails, the reach says a model carries the key when no path from the key to
    the recall exists (W_hh = 0 cuts every path: exactly 0), or says nothing reaches when a
    path does."""
    from rnn_tui.engine.recall import recall_reach

    corpus = _corpus(lines=200, lag=5)
    task = recall_task(corpus)
    assert task is not None
    cell = make_cell("rnn", corpus.vocab.size, 8, "float64")
    params = cell.init_params(np.random.default_rng(2))
    cut = {**params, "Whh": np.zeros_like(params["Whh"])}
    assert recall_reach(task, cell, cut) == 0.0
    assert recall_reach(task, cell, params) > 1e-6
