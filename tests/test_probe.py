"""The probe: surprisal, top-5 and looking back, checked against a plain forward pass written
here from the cells' equations, and against central differences of it."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from gradcheck import max_rel_error, numerical_grad

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.model.reference import loss_and_grads as reference_loss
from rnn_tui.engine.probe import (
    EMPTY_HINT,
    PROBE_LIMIT,
    UNKNOWN,
    input_gradients,
    looking_back,
    probe,
    probe_model,
)
from rnn_tui.errors import UserError

VOCAB = ("\n", " ", "a", "b", "c", "d")
H = 5
CELLS = ("rnn", "lstm", "gru")
TEXT = "abc dab\ncab €dd a\ndcba"  # a reset character twice, one unknown character
FD_TEXT = "ab\ncd €a\ndbca"  # shorter, for central differences (their cost grows as length^2)


def weights(cell: str, seed: int = 0) -> dict[str, np.ndarray]:
    """float64 weights large enough that every path matters, biases not zero."""
    model = make_cell(cell, len(VOCAB), H, "float64")
    rng = np.random.default_rng(seed)
    p = model.init_params(rng, rec_gain=1.5)
    p[model.names[0]] *= 10  # inputs that move the state
    p[model.names[2]] += rng.standard_normal(p[model.names[2]].shape) * 0.5
    p["by"] += rng.standard_normal(len(VOCAB)) * 0.5
    return p


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def plain_logp(cell: str, p: dict[str, np.ndarray], X: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """log softmax of the readout after each step, (T, V), for continuous inputs X: (T, V),
    one step at a time from the zero state, the state zeroed before step t where reset[t]."""
    h, c = np.zeros(H), np.zeros(H)
    out = []
    for x, r in zip(X, reset, strict=True):
        if r:
            h, c = np.zeros(H), np.zeros(H)
        if cell == "rnn":
            h = np.tanh(p["Wxh"] @ x + p["Whh"] @ h + p["bh"])
        elif cell == "lstm":
            a = p["Wx"] @ x + p["Wh"] @ h + p["b"]
            i, f, o = sigmoid(a[:H]), sigmoid(a[H : 2 * H]), sigmoid(a[2 * H : 3 * H])
            c = f * c + i * np.tanh(a[3 * H :])  # c_t = f c_{t-1} + i g, g = tanh(a_g)
            h = o * np.tanh(c)
        else:
            ax, uh = p["Wx"] @ x + p["b"], p["Wh"] @ h
            z = sigmoid(ax[:H] + uh[:H])
            r_ = sigmoid(ax[H : 2 * H] + uh[H : 2 * H])
            n = np.tanh(ax[2 * H :] + r_ * uh[2 * H :])
            h = (1 - z) * n + z * h
        y = p["Why"] @ h + p["by"]
        out.append(y - y.max() - np.log(np.exp(y - y.max()).sum()))
    return np.array(out)


def known_inputs(text: str, reset_at: str) -> tuple[list[int], list[int], np.ndarray]:
    """Positions and ids of the known characters of `text`, and the reset before each."""
    pos = [i for i, ch in enumerate(text) if ch in VOCAB]
    ids = [VOCAB.index(text[i]) for i in pos]
    reset = np.array([m > 0 and VOCAB[ids[m - 1]] in reset_at for m in range(len(ids))])
    return pos, ids, reset


def onehot(ids: list[int]) -> np.ndarray:
    return np.eye(len(VOCAB))[ids]


def test_plain_rnn_agrees_with_the_reference_model() -> None:
    """If this fails, the test's own plain forward pass is wrong, and every check below with it."""
    p = weights("rnn")
    ids = [VOCAB.index(ch) for ch in "abc dab\ncab"]
    logp = plain_logp("rnn", p, onehot(ids[:-1]), np.zeros(len(ids) - 1, bool))
    mine = -np.mean(logp[np.arange(len(ids) - 1), ids[1:]])
    ref, _, _ = reference_loss(p, ids[:-1], ids[1:], np.zeros((H, 1)))
    assert abs(mine - ref) <= 1e-12 * ref


@pytest.mark.parametrize("reset_at", ["", "\n"])
@pytest.mark.parametrize("cell", CELLS)
def test_surprisal_is_minus_log2_of_the_plain_softmax(cell: str, reset_at: str) -> None:
    """If this fails, the bits shown for a character are not the model's -log2 p of it."""
    p = weights(cell)
    pm = probe_model(p, Config(cell=cell, hidden=H, dtype="float64", reset_at=reset_at), VOCAB)
    r = probe(pm, TEXT)
    pos, ids, reset = known_inputs(TEXT, reset_at)
    logp = plain_logp(cell, p, onehot(ids), reset)  # row m predicts the known character m+1
    want = np.full(len(TEXT), np.nan)
    want[pos[1:]] = -logp[np.arange(len(ids) - 1), ids[1:]] / math.log(2)
    assert np.array_equal(np.isnan(r.surprisal), np.isnan(want))
    assert max_rel_error(r.surprisal[pos[1:]], want[pos[1:]]) <= 1e-12
    assert abs(r.bits_per_char - np.nanmean(want)) <= 1e-12 * r.bits_per_char


@pytest.mark.parametrize("cell", CELLS)
def test_top5_are_the_likeliest_in_order(cell: str) -> None:
    """If this fails, the guesses listed are not the model's five likeliest, or out of order."""
    p = weights(cell, seed=3)
    pm = probe_model(p, Config(cell=cell, hidden=H, dtype="float64"), VOCAB)
    r = probe(pm, TEXT)
    pos, ids, reset = known_inputs(TEXT, "")
    probs = np.exp(plain_logp(cell, p, onehot(ids), reset))  # (M, V)
    assert r.top_ids.shape == (len(TEXT), 5)
    for i in range(len(TEXT)):
        read = sum(1 for q in pos if q < i)  # known characters before position i
        if read == 0:
            assert not r.predicted[i] and r.top(i) == [] and (r.top_ids[i] == UNKNOWN).all()
            continue
        want = np.argsort(-probs[read - 1], kind="stable")[:5]
        assert list(r.top_ids[i]) == list(want)
        assert np.allclose(r.top_probs[i], probs[read - 1][want], rtol=1e-12, atol=0)
        assert np.all(np.diff(r.top_probs[i]) <= 0) and r.top_probs[i].sum() <= 1 + 1e-12


@pytest.mark.parametrize("reset_at", ["", "\n"])
@pytest.mark.parametrize("cell", CELLS)
def test_looking_back_equals_central_differences(cell: str, reset_at: str) -> None:
    """If this fails, the looking-back profile is not the exact gradient of log p(c_j) with
    respect to each earlier input, so it misreports how far back the model looks."""
    p = weights(cell, seed=1)
    pm = probe_model(p, Config(cell=cell, hidden=H, dtype="float64", reset_at=reset_at), VOCAB)
    r = probe(pm, FD_TEXT)
    for j in (r.last_scored, FD_TEXT.index("a", 1)):  # the end, and just after the unknown
        pos, ids, reset = known_inputs(FD_TEXT[:j], reset_at)
        X = onehot(ids)  # (M, V) the inputs before c_j, perturbed as continuous vectors
        target = VOCAB.index(FD_TEXT[j])

        def log_p() -> float:
            return float(plain_logp(cell, p, X, reset)[-1, target])  # noqa: B023

        numeric = numerical_grad(log_p, X)  # (M, V)
        grads = input_gradients(pm, r.ids, j)  # (j, V)
        norms = looking_back(pm, r.ids, j)  # (j,)
        assert grads.shape == (j, len(VOCAB)) and norms.shape == (j,)
        unknown = [i for i in range(j) if i not in pos]
        assert np.isnan(grads[unknown]).all() and np.isnan(norms[unknown]).all()
        # Nothing before the last reset reaches c_j: its gradient is exactly 0 (central
        # differences give 0 up to their own round-off, ~1e-13, so they are compared after it).
        last = int(np.flatnonzero(reset)[-1]) if reset.any() else 0
        assert (grads[pos[:last]] == 0).all() and (norms[pos[:last]] == 0).all()
        assert np.abs(numeric[:last]).max(initial=0) <= 1e-12
        before = log_p()
        X[:last] = np.random.default_rng(2).standard_normal(X[:last].shape)
        assert log_p() == before  # the plain model agrees: those inputs do not matter at all
        reached = pos[last:]
        assert max_rel_error(grads[reached], numeric[last:]) <= 1e-6
        assert max_rel_error(norms[reached], np.linalg.norm(numeric[last:], axis=1)) <= 1e-6
        assert norms[pos[-1]] > 0  # the last input always reaches c_j


def test_bits_per_char_is_the_training_loss_in_bits() -> None:
    """If this fails, a probe of a text and the loss training reports for it disagree."""
    cell = "gru"
    p = weights(cell)
    model = make_cell(cell, len(VOCAB), H, "float64")
    text = "abc dab\ncab dd a\ndcba"
    ids = np.array([[VOCAB.index(ch) for ch in text]])
    reset = np.isin(ids[:, :-2], [0])  # (1, T): zero before step t after a newline at t-1
    reset = np.concatenate([np.zeros((1, 1), bool), reset], axis=1)
    nats = model.loss(p, ids[:, :-1], ids[:, 1:], model.init_state(1), reset)
    pm = probe_model(p, Config(cell=cell, hidden=H, dtype="float64", reset_at="\n"), VOCAB)
    assert abs(probe(pm, text).bits_per_char - nats / math.log(2)) <= 1e-12


def test_unknown_characters_are_skipped_not_scored() -> None:
    """If this fails, a character the model does not know crashes the probe, gets a score, or
    changes what the model makes of the characters around it."""
    pm = probe_model(weights("lstm"), Config(cell="lstm", hidden=H, dtype="float64"), VOCAB)
    r = probe(pm, "ab€\x1b[x]c")
    clean = probe(pm, "abc")
    unknown = [2, 3, 4, 5, 6]  # €, ESC, [, x, ]
    assert list(r.ids[unknown]) == [UNKNOWN] * 5 and not r.known[unknown].any()
    assert np.isnan(r.surprisal[unknown]).all() and not r.scored[unknown].any()
    assert np.array_equal(r.surprisal[[0, 1, 7]], clean.surprisal, equal_nan=True)
    assert r.bits_per_char == clean.bits_per_char
    assert np.isnan(looking_back(pm, r.ids, 7)[unknown]).all()
    with pytest.raises(ValueError, match="not scored"):
        looking_back(pm, r.ids, 3)  # an unknown character has no log p to look back from
    nothing = probe(pm, "€€€")
    assert math.isnan(nothing.bits_per_char) and nothing.last_scored is None
    assert not nothing.predicted.any()


def test_first_character_is_not_scored() -> None:
    """If this fails, the first character gets a score the model never learnt to give."""
    pm = probe_model(weights("rnn"), Config(cell="rnn", hidden=H, dtype="float64"), VOCAB)
    r = probe(pm, "a")
    assert not r.predicted[0] and math.isnan(r.surprisal[0]) and r.last_scored is None
    with pytest.raises(ValueError, match="not scored"):
        looking_back(pm, r.ids, 0)


def test_long_text_keeps_its_end() -> None:
    """If this fails, a long text is probed from its start (or whole) instead of its last
    PROBE_LIMIT characters, and the user is not told."""
    assert PROBE_LIMIT >= 2000
    pm = probe_model(weights("gru"), Config(cell="gru", hidden=H, dtype="float64"), VOCAB)
    text = "abcd \n" * 5 + "dcba"
    r = probe(pm, text, limit=10)
    assert r.text == text[-10:] and r.cut == len(text) - 10
    assert np.array_equal(r.surprisal, probe(pm, text[-10:]).surprisal, equal_nan=True)
    whole = probe(pm, "a" * (PROBE_LIMIT + 7))
    assert len(whole.text) == PROBE_LIMIT and whole.cut == 7


def test_empty_text_is_a_one_line_hint() -> None:
    """If this fails, probing nothing crashes instead of saying what to give."""
    pm = probe_model(weights("rnn"), Config(cell="rnn", hidden=H, dtype="float64"), VOCAB)
    with pytest.raises(UserError) as err:
        probe(pm, "")
    assert str(err.value) == EMPTY_HINT and "\n" not in EMPTY_HINT


def test_probe_reads_its_own_copy_of_the_weights() -> None:
    """If this fails, a probe made while training goes on reads weights being changed."""
    p = weights("lstm")
    pm = probe_model(p, Config(cell="lstm", hidden=H, dtype="float64"), VOCAB)
    before = probe(pm, TEXT)
    back = looking_back(pm, before.ids, before.last_scored)
    for a in p.values():
        a += 1.0  # as an optimizer step changes the trainer's arrays in place
    after = probe(pm, TEXT)
    assert np.array_equal(before.surprisal, after.surprisal, equal_nan=True)
    assert np.array_equal(back, looking_back(pm, after.ids, after.last_scored), equal_nan=True)
    assert not any(a.flags.writeable for a in pm.params.values())


def test_float32_model_is_probed_in_its_own_precision() -> None:
    """If this fails, a float32 model (the default) is probed far from its float64 values."""
    p64 = weights("lstm")
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    pm32 = probe_model(p32, Config(cell="lstm", hidden=H, dtype="float32"), VOCAB)
    pm64 = probe_model(
        {k: v.astype(np.float64) for k, v in p32.items()},
        Config(cell="lstm", hidden=H, dtype="float64"),
        VOCAB,
    )
    assert pm32.params["Wx"].dtype == np.float32
    r32, r64 = probe(pm32, TEXT), probe(pm64, TEXT)
    assert np.allclose(r32.surprisal, r64.surprisal, rtol=1e-5, atol=1e-5, equal_nan=True)
    j = r64.last_scored
    g32, g64 = looking_back(pm32, r32.ids, j), looking_back(pm64, r64.ids, j)
    assert np.allclose(g32, g64, rtol=1e-4, atol=1e-6, equal_nan=True)


def test_weights_of_another_model_are_refused() -> None:
    """If this fails, weights that do not fit the settings crash deep inside the cell."""
    with pytest.raises(UserError, match="not a gru model"):
        probe_model(weights("rnn"), Config(cell="gru", hidden=H), VOCAB)


@pytest.mark.parametrize("module", ["rnn_tui.engine.probe", "rnn_tui.run.probe_cli"])
def test_probe_imports_no_ui(module: str) -> None:
    """If this fails, probing drags in Textual or plotext: a UI pane's worker thread and the
    headless `--probe` would both pay for it, and the layers would be broken."""
    ui = "('textual', 'plotext', 'rich')"
    code = f"import sys, {module}; print([m for m in {ui} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reset_at", ["", "\n"])
def test_looking_back_from_the_probes_forward_pass_is_the_same(cell: str, reset_at: str) -> None:
    """If this fails, reusing the probe's forward pass (what the pane does, to stay fast) gives
    another looking-back profile than a fresh forward pass from the zero state."""
    config = Config(cell=cell, hidden=12, dtype="float64", reset_at=reset_at)
    vocab = tuple("abc \n")
    model = make_cell(cell, len(vocab), 12, "float64")
    pm = probe_model(model.init_params(np.random.default_rng(4)), config, vocab)
    r = probe(pm, "ab ca\nbc x abca cab")  # 'x' is unknown
    assert r.trace is not None
    for j in np.flatnonzero(r.scored):
        fresh = looking_back(pm, r.ids, int(j))
        reused = looking_back(pm, r.ids, int(j), r.trace)
        np.testing.assert_array_equal(reused, fresh)
