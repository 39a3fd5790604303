"""The gated cells (LSTM and GRU): gradients against finite differences, the per-timestep
profile, the textbook equations, float32, resets, training, and checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY
from gradcheck import max_rel_error, numerical_grad

from rnn_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, load_corpus
from rnn_tui.engine.model import Cell, Params, State, make_cell
from rnn_tui.engine.model.base import cross_entropy
from rnn_tui.engine.resume import trainer_from_checkpoint
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError

TOL = 1e-6  # largest relative error accepted for any gradient entry
CELLS = ("lstm", "gru")


def small_problem(
    seed: int, cell: str, V: int = 6, H: int = 5, B: int = 3, T: int = 7
) -> tuple[Cell, Params, np.ndarray, np.ndarray, State]:
    """A small float64 model with non-trivial weights, a batch and a random starting state."""
    rng = np.random.default_rng(seed)
    model = make_cell(cell, V, H, "float64")
    params = model.init_params(rng, 1.2)
    for v in params.values():
        v += rng.standard_normal(v.shape) * 0.1  # biases too, so no gradient is special
    X = rng.integers(0, V, (B, T))
    Y = rng.integers(0, V, (B, T))
    state = tuple(rng.standard_normal((B, H)) * 0.5 for _ in range(model.n_state))
    return model, params, X, Y, state


def sig(a: np.ndarray) -> np.ndarray:
    """The logistic function, written plainly (float64 tests only)."""
    return 1 / (1 + np.exp(-a))


def textbook_logits(cell: str, params: Params, X: np.ndarray, state: State) -> np.ndarray:
    """Logits (B, T, V) from the documented equations, one step at a time, with one matrix per
    gate cut out of the fused parameters (LSTM gate order i, f, o, g; GRU z, r, n)."""
    n_gates = 4 if cell == "lstm" else 3
    W = np.split(params["Wx"], n_gates)  # (H, V) each
    U = np.split(params["Wh"], n_gates)  # (H, H) each
    b = np.split(params["b"], n_gates)  # (H,) each
    h, c = state[0], state[-1]
    out = []
    for t in range(X.shape[1]):
        x = X[:, t]
        if cell == "lstm":
            i = sig(W[0][:, x].T + h @ U[0].T + b[0])
            f = sig(W[1][:, x].T + h @ U[1].T + b[1])
            o = sig(W[2][:, x].T + h @ U[2].T + b[2])
            g = np.tanh(W[3][:, x].T + h @ U[3].T + b[3])
            c = f * c + i * g
            h = o * np.tanh(c)
        else:
            z = sig(W[0][:, x].T + h @ U[0].T + b[0])
            r = sig(W[1][:, x].T + h @ U[1].T + b[1])
            n = np.tanh(W[2][:, x].T + r * (h @ U[2].T) + b[2])
            h = (1 - z) * n + z * h
        out.append(h @ params["Why"].T + params["by"])
    return np.stack(out, axis=1)


@pytest.mark.parametrize("cell", CELLS)
def test_forward_matches_textbook_equations(cell: str) -> None:
    """If this fails, the fast fused code computes some other network than the LSTM / GRU the
    help screen describes (a wrong gate order, a missing bias, r applied in the wrong place)."""
    model, params, X, _, state = small_problem(5, cell)
    logits, _ = model.forward(params, X, state)
    np.testing.assert_allclose(logits, textbook_logits(cell, params, X, state), rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parameter_gradients_match_finite_differences(cell: str, seed: int) -> None:
    """If this fails, training the gated cell follows a wrong gradient: the loss stalls or rises."""
    model, params, X, Y, state = small_problem(seed, cell)
    out = model.loss_and_grads(params, X, Y, state)
    assert set(out.grads) == set(params)
    assert out.loss == pytest.approx(model.loss(params, X, Y, state), rel=1e-14)
    for name, p in params.items():
        numeric = numerical_grad(lambda: model.loss(params, X, Y, state), p)
        err = max_rel_error(out.grads[name], numeric)
        assert err <= TOL, f"d{name}: max relative error {err:.2e}"


@pytest.mark.parametrize("cell", CELLS)
def test_profile_flag_does_not_change_gradients(cell: str) -> None:
    """If this fails, the gradients depend on whether the gradient pane is being fed, so a
    run with the pane hidden would train differently."""
    model, params, X, Y, state = small_problem(4, cell)
    with_prof = model.loss_and_grads(params, X, Y, state, profile=True)
    without = model.loss_and_grads(params, X, Y, state, profile=False)
    assert without.profile is None and with_prof.profile is not None
    for name in params:
        np.testing.assert_allclose(without.grads[name], with_prof.grads[name], rtol=1e-13)


def _states(model: Cell, params: Params, X: np.ndarray, state: State, b: int) -> list[State]:
    """Stream b's state before each step and after the last: [0] = the initial state,
    [t + 1] = the state after 0-based step t, by carrying the state through one-step windows."""
    states = [tuple(s[b : b + 1] for s in state)]
    for t in range(X.shape[1]):
        _, st = model.forward(params, X[b : b + 1, t : t + 1], states[-1])
        states.append(st)
    return states


def _suffix_losses(
    model: Cell, params: Params, X: np.ndarray, Y: np.ndarray, b: int, t: int, state: State
) -> tuple[float, float]:
    """Stream b's losses as functions of its state after 0-based step t, by rerunning the
    window's tail from `state`: (S_b = the sum of its losses over the window's T steps, l_bT =
    the last step's loss). Step t's own output reads h_t = state[0]; only the steps from t on
    depend on the state after step t."""
    T = X.shape[1]
    Why, by = params["Why"], params["by"]
    own = cross_entropy((state[0] @ Why.T + by)[None], Y[b : b + 1, t : t + 1])
    if t == T - 1:
        return own, own
    logits, _ = model.forward(params, X[b : b + 1, t + 1 :], state)
    tail = cross_entropy(logits, Y[b : b + 1, t + 1 :]) * (T - 1 - t)  # sum over later steps
    last = cross_entropy(logits[:, -1:], Y[b : b + 1, -1:])
    return own + tail, last


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_timestep_gradient_norms_match_finite_differences(cell: str, seed: int) -> None:
    """If this fails, the gradient pane draws a profile that is not the network's: a class
    would be shown vanishing or exploding gradients that are not there.

    dS_b/dh_t is the total gradient reaching h_t (through its output and the next step's gates),
    so it is checked by perturbing h_t with the rest of the state (the LSTM's c_t) held fixed:
    h_t does not feed c_t, only later steps."""
    model, params, X, Y, state = small_problem(seed, cell)
    B, T = X.shape
    prof = model.loss_and_grads(params, X, Y, state).profile
    assert prof is not None
    want_total, want_last = np.zeros(T), np.zeros(T)
    for b in range(B):
        states = _states(model, params, X, state, b)
        for t in range(T):
            h, rest = states[t + 1][0].copy(), states[t + 1][1:]  # h: (1, H)

            def f(i: int, b: int = b, t: int = t, h: np.ndarray = h, rest: State = rest) -> float:
                return _suffix_losses(model, params, X, Y, b, t, (h, *rest))[i]

            want_total[t] += np.linalg.norm(numerical_grad(lambda: f(0), h)) / B
            want_last[t] += np.linalg.norm(numerical_grad(lambda: f(1), h)) / B
    assert max_rel_error(prof.grad_t, want_total) <= TOL
    assert max_rel_error(prof.grad_last_t, want_last) <= TOL
    assert prof.last_ratio == pytest.approx(want_last[0] / want_last[-1], rel=1e-6)
    assert (prof.cell_grad_t is None) == (cell == "gru")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_cell_gradient_profile_matches_finite_differences(seed: int) -> None:
    """If this fails, the pane's cell-state curve (the LSTM's memory lane) is not the network's.

    dS_b/dc_t is the total gradient reaching c_t: everything downstream of c_t follows a change
    of it, everything upstream stays. Downstream of c_t are h_t = o_t tanh(c_t) (with o_t fixed:
    it is computed from h_{t-1} and x_t, before c_t), h_t's own output, and every later step,
    which reads both h_t and c_t. So the function checked is: from h_{t-1} and x_t take o_t,
    set c_t to the perturbed value, h_t = o_t tanh(c_t), then run the window's tail from
    (h_t, c_t). Perturbing c_t after h_t were computed would miss the path through h_t."""
    model, params, X, Y, state = small_problem(seed, "lstm")
    B, T = X.shape
    H = model.H
    prof = model.loss_and_grads(params, X, Y, state).profile
    assert prof is not None and prof.cell_grad_t is not None
    want = np.zeros(T)
    for b in range(B):
        states = _states(model, params, X, state, b)
        for t in range(T):
            h_prev = states[t][0]  # (1, H): h_{t-1}
            x = X[b, t]
            a_o = params["Wx"][2 * H : 3 * H, x] + h_prev @ params["Wh"][2 * H : 3 * H].T
            o = sig(a_o + params["b"][2 * H : 3 * H])  # o_t: (1, H), upstream of c_t
            c = states[t + 1][1].copy()  # c_t, to be perturbed

            def loss_of_c(b: int = b, t: int = t, o: np.ndarray = o, c: np.ndarray = c) -> float:
                return _suffix_losses(model, params, X, Y, b, t, (o * np.tanh(c), c))[0]

            np.testing.assert_allclose(o * np.tanh(c), states[t + 1][0], rtol=1e-12)
            want[t] += np.linalg.norm(numerical_grad(loss_of_c, c)) / B
    assert max_rel_error(prof.cell_grad_t, want) <= TOL


@pytest.mark.parametrize("cell", ("rnn", *CELLS))
@pytest.mark.parametrize("with_resets", [False, True])
def test_both_profiles_meet_at_the_last_step(cell: str, with_resets: bool) -> None:
    """If this fails, the gradient pane draws its two measures on two scales: at t = T only the
    last step's loss reaches h_T, so the whole window's gradient and the last step's must be
    the same number there, and the blue bar must end exactly at the orange mark."""
    model, params, X, Y, state = small_problem(5, cell, T=9)
    reset = None
    if with_resets:
        reset = np.zeros(X.shape, bool)
        reset[0, 3] = reset[1, 0] = reset[2, 8] = True  # stream 2: reset before the last step
    prof = model.loss_and_grads(params, X, Y, state, reset=reset).profile
    assert prof is not None
    assert prof.grad_t.dtype == prof.grad_last_t.dtype == np.float64
    assert prof.grad_last_t[-1] > 0
    assert prof.grad_t[-1] == pytest.approx(prof.grad_last_t[-1], rel=1e-14)
    assert np.all(prof.grad_t[:-1] != prof.grad_last_t[:-1])  # earlier steps: more losses


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_with_state_resets(cell: str) -> None:
    """If this fails, `--reset-at` trains a gated cell on a wrong gradient: resetting the state
    (h and c) at line starts must cut the gradient there too."""
    model, params, X, Y, state = small_problem(2, cell, T=9)
    reset = np.zeros(X.shape, bool)
    reset[0, 3] = reset[1, 0] = reset[2, 5] = reset[2, 6] = True
    out = model.loss_and_grads(params, X, Y, state, reset=reset)
    assert out.loss == pytest.approx(model.loss(params, X, Y, state, reset), rel=1e-14)
    for name, p in params.items():
        numeric = numerical_grad(lambda: model.loss(params, X, Y, state, reset), p)
        assert max_rel_error(out.grads[name], numeric) <= TOL, name
    # Nothing before a reset hears from the last step: stream 0's profile before step 3 is 0.
    one = model.loss_and_grads(
        params, X[:1], Y[:1], tuple(s[:1] for s in state), reset=reset[:1]
    ).profile
    assert one is not None
    assert np.all(one.grad_last_t[:3] == 0) and np.all(one.grad_last_t[3:] > 0)


@pytest.mark.parametrize("cell", CELLS)
def test_reset_equals_starting_from_zero(cell: str) -> None:
    """If this fails, a reset leaves some trace of the previous line in the state (for the
    LSTM: in the cell c)."""
    model, params, X, _, state = small_problem(4, cell, B=2, T=8)
    reset = np.zeros(X.shape, bool)
    reset[:, 4] = True
    logits, _ = model.forward(params, X, state, reset)
    fresh, _ = model.forward(params, X[:, 4:], model.init_state(2))
    np.testing.assert_allclose(logits[:, 4:], fresh, rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_sampling_step_matches_the_trained_forward_pass(cell: str) -> None:
    """If this fails, samples come from a different network than the one being trained."""
    model, params, X, _, state = small_problem(6, cell)
    logits, final = model.forward(params, X, state)
    st = state
    for t in range(X.shape[1]):
        step_logits, st = model.step(params, X[:, t], st)
        np.testing.assert_allclose(step_logits, logits[:, t], rtol=1e-12)
    for a, b in zip(st, final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_streams_are_independent(cell: str) -> None:
    """If this fails, one stream's text leaks into another's state, and samples learn from
    characters that never followed each other."""
    model, params, X, _, state = small_problem(3, cell, B=4)
    logits, _ = model.forward(params, X, state)
    for b in range(4):
        alone, _ = model.forward(params, X[b : b + 1], tuple(s[b : b + 1] for s in state))
        np.testing.assert_allclose(logits[b], alone[0], rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32(cell: str) -> None:
    """If this fails, float32 silently upcasts to float64 and training runs at half speed."""
    rng = np.random.default_rng(0)
    model = make_cell(cell, 10, 16, "float32")
    params = model.init_params(rng)
    assert all(p.dtype == np.float32 for p in params.values())
    X = rng.integers(0, 10, (4, 9))
    out = model.loss_and_grads(params, X, X, model.init_state(4))
    assert all(g.dtype == np.float32 for g in out.grads.values())
    assert len(out.state) == model.n_state
    assert all(s.dtype == np.float32 for s in out.state)
    logits, st = model.forward(params, X, out.state)
    assert logits.dtype == np.float32 and all(s.dtype == np.float32 for s in st)
    logits, st = model.step(params, X[:, 0], out.state)
    assert logits.dtype == np.float32 and all(s.dtype == np.float32 for s in st)


@pytest.mark.parametrize("cell", CELLS)
def test_huge_weights_do_not_overflow(cell: str) -> None:
    """If this fails, a sigmoid computed as 1 / (1 + exp(-a)) overflows in float32 once the
    weights grow, and the terminal fills with RuntimeWarnings (or the loss turns NaN)."""
    rng = np.random.default_rng(1)
    model = make_cell(cell, 7, 8, "float32")
    params = model.init_params(rng)
    for name in ("Wx", "Wh", "b"):
        params[name] *= 1e3  # pre-activations in the thousands: exp(-a) would be inf
    X = rng.integers(0, 7, (3, 12))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = model.loss_and_grads(params, X, X, model.init_state(3))
        logits, _ = model.step(params, X[:, 0], out.state)
    assert math.isfinite(out.loss) and np.all(np.isfinite(logits))
    assert all(np.all(np.isfinite(g)) for g in out.grads.values())


def test_lstm_forget_bias_starts_at_one() -> None:
    """If this fails, a fresh LSTM forgets half its cell every step (f = 0.5 instead of 0.73)
    and the gradient pane shows its memory fading much faster than it should."""
    H = 6
    model = make_cell("lstm", 5, H, "float64")
    b = model.init_params(np.random.default_rng(0))["b"]
    np.testing.assert_array_equal(b[H : 2 * H], 1.0)  # forget gate
    np.testing.assert_array_equal(np.r_[b[:H], b[2 * H :]], 0.0)  # i, o, g
    trainer = Trainer(load_corpus(TINY), Config(cell="lstm", hidden=H, seq_len=8, batch=4))
    np.testing.assert_array_equal(trainer.params["b"][H : 2 * H], 1.0)  # what training gets


def test_lstm_keeps_the_gradient_alive_where_the_rnn_loses_it() -> None:
    """If this fails, the lesson the LSTM is there to show is gone: over a 60-step window with
    the same small recurrent weights, the vanilla RNN's last-step gradient vanishes to nothing
    while the LSTM's, carried by the cell through the forget gates, survives."""
    ratios = {}
    for cell in ("rnn", "lstm"):
        rng = np.random.default_rng(0)
        model = make_cell(cell, 8, 32, "float64")
        params = model.init_params(rng, rec_gain=0.3)
        X = rng.integers(0, 8, (2, 60))
        prof = model.loss_and_grads(params, X, X, model.init_state(2)).profile
        assert prof is not None and np.all(np.isfinite(prof.grad_last_t))
        ratios[cell] = prof.last_ratio
    assert ratios["rnn"] < 1e-25  # measured 2e-33
    assert ratios["lstm"] > 1e-10  # measured 3e-8
    assert ratios["lstm"] > 1e15 * ratios["rnn"]


@pytest.fixture(scope="module")
def tiny() -> Corpus:
    return load_corpus(TINY)


@pytest.mark.parametrize("cell", CELLS)
def test_training_drives_the_loss_well_below_uniform(tiny: Corpus, cell: str) -> None:
    """If this fails, `--cell lstm` / `--cell gru` does not learn: a class would watch a flat
    loss curve."""
    trainer = Trainer(tiny, Config(cell=cell, hidden=64, seq_len=16, batch=16))
    uniform = math.log(tiny.vocab.size)  # loss of guessing every character equally
    first = trainer.step()
    for _ in range(250):
        record = trainer.step()
    assert first.loss == pytest.approx(uniform, rel=0.1)
    assert record.smooth_loss < 0.7 * uniform  # measured 0.57 (lstm), 0.53 (gru)
    assert not record.diverged
    assert (record.cell_grad_t is not None) == (cell == "lstm")


def test_checkpoint_of_one_cell_refuses_another(tiny: Corpus, tmp_path: Path) -> None:
    """If this fails, loading an LSTM checkpoint into a GRU either crashes with a traceback or,
    worse, silently trains garbage; and an LSTM run cannot be resumed as an LSTM."""
    config = Config(cell="lstm", hidden=16, seq_len=8, batch=4)
    trainer = Trainer(tiny, config)
    for _ in range(3):
        trainer.step()
    path = save_checkpoint(tmp_path / "lstm", trainer)
    ckpt = load_checkpoint(path)
    assert ckpt.config.cell == "lstm"
    with pytest.raises(UserError) as err:
        trainer_from_checkpoint(tiny, ckpt, path, ckpt.config.with_(cell="gru"))
    message = str(err.value)
    assert "\n" not in message and "lstm" in message and "gru" in message
    resumed = trainer_from_checkpoint(tiny, ckpt, path)
    for name, value in trainer.params.items():
        np.testing.assert_array_equal(resumed.params[name], value)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("V", "H"), [(1, 4), (5, 1)])
def test_a_forward_pass_leaves_the_weights_alone(cell: str, V: int, H: int) -> None:
    """If this fails, a forward pass writes into W_x (when W_x^T is contiguous already, as for
    one hidden unit or one character), and training or probing such a model corrupts it."""
    model = make_cell(cell, V, H, np.float64)
    params = model.init_params(np.random.default_rng(0))
    before = {k: v.copy() for k, v in params.items()}
    X = np.zeros((2, 3), np.int64)  # (B, T) character ids
    model.forward(params, X, model.init_state(2))
    for k, v in params.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
