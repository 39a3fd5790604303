"""The cells' loops take shortcuts for speed: no masking when nothing resets, no additions of
all-zero output gradients, no dW_h when only the inputs' gradients are wanted, and the probe
ranks its top-5 by repeated argmax. Each shortcut must give what the long way gives."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import max_rel_error, numerical_grad

from rnn_tui.engine.model import Cell, Params, make_cell
from rnn_tui.engine.model.base import keep_mask, readout
from rnn_tui.engine.probe import top_k

CELLS = ("rnn", "lstm", "gru")


def problem(
    cell: str, seed: int = 0, B: int = 3, T: int = 6
) -> tuple[Cell, Params, np.ndarray, np.ndarray]:
    """A small float64 model with non-trivial weights and biases, and a batch (X, Y): (B, T)."""
    rng = np.random.default_rng(seed)
    model = make_cell(cell, 7, 5, "float64")
    params = model.init_params(rng, 1.2)
    for v in params.values():
        v += rng.standard_normal(v.shape) * 0.1
    return model, params, rng.integers(0, 7, (B, T)), rng.integers(0, 7, (B, T))


@pytest.mark.parametrize("profile", [True, False])
@pytest.mark.parametrize("cell", CELLS)
def test_no_reset_path_equals_the_masked_path(cell: str, profile: bool) -> None:
    """If this fails, training without reset characters (the loops' unmasked path) computes
    other losses, gradients or profiles than the masked path does when no stream resets."""
    model, params, X, Y = problem(cell, seed=1)
    rng = np.random.default_rng(2)
    state = tuple(rng.standard_normal((3, 5)) * 0.5 for _ in range(model.n_state))
    fast = model.loss_and_grads(params, X, Y, state, profile, None)
    masked = model.loss_and_grads(params, X, Y, state, profile, np.zeros(X.shape, bool))
    assert abs(fast.loss - masked.loss) <= 1e-15 * abs(masked.loss)
    for name, g in masked.grads.items():
        np.testing.assert_allclose(fast.grads[name], g, rtol=1e-13, atol=1e-16, err_msg=name)
    for a, b in zip(fast.state, masked.state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)
    if profile:
        assert fast.profile is not None and masked.profile is not None
        np.testing.assert_allclose(fast.profile.grad_t, masked.profile.grad_t, rtol=1e-13)
        np.testing.assert_allclose(fast.profile.grad_last_t, masked.profile.grad_last_t, rtol=1e-13)


@pytest.mark.parametrize("cell", CELLS)
def test_backward_from_one_output_matches_finite_differences(cell: str) -> None:
    """If this fails, a backward pass that skips the all-zero output gradients (as looking
    back does: only the last output is read) gives wrong input gradients."""
    model, params, X, Y = problem(cell, seed=3, B=2, T=5)
    Xt = np.ascontiguousarray(X.T)
    state = model.init_state(2)
    w = np.random.default_rng(4).standard_normal((2, model.H))  # weights on the last h_T

    def f() -> float:  # sum_b w_b . h_T of stream b, a function of W_x's columns
        return float((model._run(params, Xt, state, None).hs[-1] * w).sum())

    trace = model._run(params, Xt, state, None)
    dh_out = np.zeros((5, 2, model.H))
    dh_out[-1] = w  # only the last output is read
    back = model._backward(params, trace, dh_out, False, weights=False)
    assert back.dWh is None
    d_in = back.d_in.reshape(5 * 2, -1)  # (T*B, G*H): d f / d(W_x x_t + b)
    dWx = np.zeros_like(params[model.names[0]])
    np.add.at(dWx.T, Xt.reshape(-1), d_in)  # column x_t of dW_x gets da_t
    numeric = numerical_grad(f, params[model.names[0]])
    assert max_rel_error(dWx, numeric, floor=1e-6) <= 1e-6  # unused columns: 0 vs round-off


@pytest.mark.parametrize("cell", CELLS)
def test_input_gradients_do_not_depend_on_asking_for_weights(cell: str) -> None:
    """If this fails, skipping dW_h (looking back) changes the inputs' gradients, or dW_h
    differs from the full pass's."""
    model, params, X, Y = problem(cell, seed=5)
    reset = np.zeros(X.shape, bool)
    reset[1, 3] = True
    trace = model._run(
        params, np.ascontiguousarray(X.T), model.init_state(3), keep_mask(reset, model.dtype)
    )
    _, _, _, dh_out = readout(params, trace.hs[1:], Y.T)
    both = model._backward(params, trace, dh_out, False)
    inputs_only = model._backward(params, trace, dh_out, False, weights=False)
    assert both.dWh is not None and inputs_only.dWh is None
    np.testing.assert_array_equal(inputs_only.d_in, both.d_in)


@pytest.mark.parametrize("cell", CELLS)
def test_a_forward_only_pass_gives_the_same_states_and_cannot_be_backpropagated(cell: str) -> None:
    """If this fails, skipping the local derivatives (evaluation, `Cell.forward`) changes the
    hidden states, or a backward pass runs on a trace that lacks them and gives garbage."""
    model, params, X, _ = problem(cell, seed=6)
    reset = np.zeros(X.shape, bool)
    reset[0, 2] = True
    Xt, keep = np.ascontiguousarray(X.T), keep_mask(reset, model.dtype)
    full = model._run(params, Xt, model.init_state(3), keep)
    alone = model._run(params, Xt, model.init_state(3), keep, backward=False)
    np.testing.assert_array_equal(alone.hs, full.hs)
    np.testing.assert_array_equal(alone.hprev, full.hprev)
    dh_out = np.ones((X.shape[1], 3, 5))
    if cell == "lstm":  # its loop writes the local derivatives only when asked to
        with pytest.raises(ValueError, match="backward=True"):
            model._backward(params, alone, dh_out, False)
    else:  # the others build them from what every trace keeps
        want = model._backward(params, full, dh_out, False).d_in
        np.testing.assert_array_equal(model._backward(params, alone, dh_out, False).d_in, want)


def test_top_k_is_a_stable_descending_sort() -> None:
    """If this fails, the probe's top-5 lists other characters than the five likeliest, in
    another order, or breaks ties differently from a stable sort (the lower id first)."""
    rng = np.random.default_rng(6)
    x = rng.integers(0, 4, (200, 9)).astype(np.float64)  # many ties
    x[5] = -np.inf  # a row of equal impossibilities
    want = np.argsort(-x, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(top_k(x, 5), want)
    y = rng.standard_normal((50, 30))
    np.testing.assert_array_equal(top_k(y, 3), np.argsort(-y, axis=1, kind="stable")[:, :3])
