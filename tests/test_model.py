"""The vanilla RNN's forward and backward pass, checked against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import max_rel_error, numerical_grad

from rnn_tui.engine.model import make_cell
from rnn_tui.engine.model import reference as ref
from rnn_tui.engine.model.base import cross_entropy

TOL = 1e-6  # largest relative error accepted for any gradient entry


def small_problem(seed: int, cell: str = "rnn", V: int = 6, H: int = 5, B: int = 3, T: int = 7):
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


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_parameter_gradients_match_finite_differences(seed: int) -> None:
    """If this fails, training follows a wrong gradient: the loss stalls or rises."""
    model, params, X, Y, state = small_problem(seed)
    out = model.loss_and_grads(params, X, Y, state)
    assert set(out.grads) == set(params)
    for name, p in params.items():
        numeric = numerical_grad(lambda: model.loss(params, X, Y, state), p)
        err = max_rel_error(out.grads[name], numeric)
        assert err <= TOL, f"d{name}: max relative error {err:.2e}"


def _suffix_losses(model, params, X, Y, b: int, t: int, h: np.ndarray) -> tuple[float, float]:
    """Stream b's losses as functions of its state h_t (0-based t), by rerunning the window's
    tail from h: (S_b = the sum of its losses over the window's T steps, l_bT = the last step's
    loss). Only the steps from t on depend on h_t."""
    T = X.shape[1]
    Why, by = params["Why"], params["by"]
    own = cross_entropy((h @ Why.T + by)[None], Y[b : b + 1, t : t + 1])  # step t's own output
    if t == T - 1:
        return own, own
    logits, _ = model.forward(params, X[b : b + 1, t + 1 :], (h,))
    tail = cross_entropy(logits, Y[b : b + 1, t + 1 :]) * (T - 1 - t)  # sum over later steps
    last = cross_entropy(logits[:, -1:], Y[b : b + 1, -1:])
    return own + tail, last


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_timestep_gradient_norms_match_finite_differences(seed: int) -> None:
    """If this fails, the gradient pane draws a profile that is not the network's: a class
    would be shown vanishing or exploding gradients that are not there."""
    model, params, X, Y, state = small_problem(seed)
    B, T = X.shape
    prof = model.loss_and_grads(params, X, Y, state).profile
    assert prof is not None
    hs = model._run(params, X.T, state).hs  # time-major: hs[t + 1] = h_t (0-based t)
    want_total, want_last = np.zeros(T), np.zeros(T)
    for t in range(T):
        for b in range(B):
            h = hs[t + 1, b : b + 1].copy()  # (1, H)
            g_total = numerical_grad(
                lambda b=b, t=t, h=h: _suffix_losses(model, params, X, Y, b, t, h)[0], h
            )
            g_last = numerical_grad(
                lambda b=b, t=t, h=h: _suffix_losses(model, params, X, Y, b, t, h)[1], h
            )
            want_total[t] += np.linalg.norm(g_total) / B
            want_last[t] += np.linalg.norm(g_last) / B
    assert max_rel_error(prof.grad_t, want_total) <= TOL
    assert max_rel_error(prof.grad_last_t, want_last) <= TOL
    assert prof.last_ratio == pytest.approx(want_last[0] / want_last[-1], rel=1e-6)


def test_batched_model_matches_plain_reference() -> None:
    """If this fails, the fast batched code and the textbook loop disagree on loss, gradients
    or the carried state: one of them is wrong."""
    model, params, X, Y, state = small_problem(7, B=1, T=11)
    out = model.loss_and_grads(params, X, Y, state)
    loss, grads, h_last = ref.loss_and_grads(params, list(X[0]), list(Y[0]), state[0].T)
    assert out.loss == pytest.approx(loss, rel=1e-12)
    for name in params:
        np.testing.assert_allclose(out.grads[name], grads[name], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(out.state[0][0], h_last[:, 0], rtol=1e-12)


def test_streams_are_independent() -> None:
    """If this fails, one stream's text leaks into another's hidden state, and samples learn
    from characters that never followed each other."""
    model, params, X, Y, state = small_problem(3, B=4)
    logits, _ = model.forward(params, X, state)
    for b in range(4):
        alone, _ = model.forward(params, X[b : b + 1], (state[0][b : b + 1],))
        np.testing.assert_allclose(logits[b], alone[0], rtol=1e-12)


def test_float32_stays_float32() -> None:
    """If this fails, float32 silently upcasts to float64 and training runs at half speed."""
    rng = np.random.default_rng(0)
    model = make_cell("rnn", 10, 16, "float32")
    params = model.init_params(rng)
    X = rng.integers(0, 10, (4, 9))
    out = model.loss_and_grads(params, X, X, model.init_state(4))
    assert all(g.dtype == np.float32 for g in out.grads.values())
    assert out.state[0].dtype == np.float32
    logits, st = model.step(params, X[:, 0], out.state)
    assert logits.dtype == np.float32 and st[0].dtype == np.float32


def test_loss_is_safe_for_huge_logits() -> None:
    """If this fails, a confident model overflows exp() and the loss turns into inf or NaN."""
    logits = np.array([[[1e4, -1e4, 0.0]]])
    assert cross_entropy(logits, np.array([[0]])) == pytest.approx(0.0, abs=1e-12)
    assert cross_entropy(logits, np.array([[1]])) == pytest.approx(2e4, rel=1e-12)


def test_vanishing_profile_for_small_recurrent_weights() -> None:
    """If this fails, the textbook case does not show: with a small W_hh the last step's
    gradient must fade by orders of magnitude over a long window."""
    rng = np.random.default_rng(0)
    model = make_cell("rnn", 8, 32, "float64")
    params = model.init_params(rng, rec_gain=0.3)
    X = rng.integers(0, 8, (2, 40))
    prof = model.loss_and_grads(params, X, X, model.init_state(2)).profile
    assert prof is not None and prof.last_ratio < 1e-12
    assert np.all(np.diff(np.log(prof.grad_last_t)) > 0)  # grows toward the last step


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_with_state_resets(seed: int) -> None:
    """If this fails, `--reset-at` trains on a wrong gradient: resetting the state at line
    starts must cut the gradient there too."""
    model, params, X, Y, state = small_problem(seed, T=9)
    reset = np.zeros(X.shape, bool)
    reset[0, 3] = reset[1, 0] = reset[2, 5] = reset[2, 6] = True
    out = model.loss_and_grads(params, X, Y, state, reset=reset)
    assert out.loss == pytest.approx(model.loss(params, X, Y, state, reset))
    for name, p in params.items():
        numeric = numerical_grad(lambda: model.loss(params, X, Y, state, reset), p)
        assert max_rel_error(out.grads[name], numeric) <= TOL, name
    # Nothing before a reset hears from the last step: stream 0's profile beyond step 3 is 0.
    one = model.loss_and_grads(params, X[:1], Y[:1], (state[0][:1],), reset=reset[:1]).profile
    assert one is not None
    assert np.all(one.grad_last_t[:3] == 0) and np.all(one.grad_last_t[3:] > 0)


def test_reset_equals_starting_from_zero() -> None:
    """If this fails, a reset leaves some trace of the previous line in the state."""
    model, params, X, Y, state = small_problem(4, B=2, T=8)
    reset = np.zeros(X.shape, bool)
    reset[:, 4] = True
    logits, _ = model.forward(params, X, state, reset)
    fresh, _ = model.forward(params, X[:, 4:], model.init_state(2))
    np.testing.assert_allclose(logits[:, 4:], fresh, rtol=1e-12)


@pytest.mark.parametrize(
    "logits",
    [
        [1.0, np.inf, 0.0],
        [np.nan, 2.0, 1.0],
        [np.inf, np.inf, -np.inf],
        [np.nan, np.nan, np.nan],
    ],
)
def test_sampling_distribution_survives_non_finite_logits(logits) -> None:
    """If this fails, one overflowing logit makes numpy raise "probabilities contain NaN" in the
    sampler and the app crashes."""
    from rnn_tui.engine.sampling import distribution

    z = np.array(logits, np.float32)
    p = distribution(z, temperature=0.8)
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-12
    if np.isposinf(z).any():  # the overflowing logits share all the mass
        assert p[np.isposinf(z)].sum() == pytest.approx(1.0)
    np.random.default_rng(0).choice(len(p), p=p)


def test_draw_is_the_draw_numpy_choice_makes() -> None:
    """If this fails, a seed no longer gives the text it gave (saved samples, recordings and
    tests read differently), or the sampler picks a character of probability 0 (top-k)."""
    from rnn_tui.engine.sampling import distribution, draw

    source = np.random.default_rng(7)
    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    for n in range(3000):
        logits = source.standard_normal(65) * source.uniform(0.1, 8)
        top_k = [0, 1, 5][n % 3]
        p = distribution(logits.astype(np.float32), temperature=0.8, top_k=top_k)
        i = draw(p, ours)
        assert i == numpys.choice(len(p), p=p), n
        assert p[i] > 0
    assert ours.random() == numpys.random()  # both used one number a draw


def test_last_ratio_is_first_over_last_and_nan_without_a_last() -> None:
    """If this fails, the gradient pane and the headless log report another ratio than
    grad_last_t[1] / grad_last_t[T], or divide by zero on an all-zero profile."""
    from rnn_tui.engine.model import last_ratio

    assert last_ratio(np.array([1e-3, 0.5, 2.0])) == pytest.approx(5e-4, rel=1e-15)
    assert np.isnan(last_ratio(np.zeros(4)))
