"""The training step's speed paths against the plain computations they replace: the in-place
Adam update, the sigmoid from a negated pre-activation, the one-call gate fill, the in-place
softmax, the step test of `output_steps`, and d_in written grouped by input id. Each must give
what the plain formula gives, in float64, to a stated tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.engine.model import base, make_cell
from rnn_tui.engine.model.base import (
    ByInput,
    gate_inputs,
    output_steps,
    scatter_rows,
    sigmoid_of_negated,
    softmax_xent,
    squared_norms,
    transposed,
)
from rnn_tui.engine.optim import OPTIMIZERS, Adam

CELLS = ("rnn", "lstm", "gru")


def test_in_place_adam_equals_the_formula_on_several_parameters() -> None:
    """If this fails, the in-place Adam (shared scratch, no temporaries) takes another step
    than m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps)
    on some parameter, or moves a parameter to a new array the trainer does not hold."""
    rng = np.random.default_rng(0)
    shapes = {"W": (3, 4), "b": (3,), "U": (4, 4)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    held = dict(params)  # the arrays the caller holds
    want = {k: p.copy() for k, p in params.items()}
    m = {k: np.zeros(s) for k, s in shapes.items()}
    v = {k: np.zeros(s) for k, s in shapes.items()}
    opt = Adam(params)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    for t in range(1, 4):
        grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
        opt.update(params, grads, lr)
        step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for k, g in grads.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            want[k] = want[k] - step * m[k] / (np.sqrt(v[k]) + eps)
            np.testing.assert_allclose(params[k], want[k], rtol=1e-12, atol=0, err_msg=k)
            np.testing.assert_allclose(opt.state[f"m.{k}"], m[k], rtol=1e-12, atol=0)
            np.testing.assert_allclose(opt.state[f"v.{k}"], v[k], rtol=1e-12, atol=0)
    assert all(params[k] is held[k] for k in shapes)


def test_adam_keeps_float32_in_float32() -> None:
    """If this fails, a Python float in the in-place update upcasts float32 training."""
    params = {"W": np.ones((2, 3), np.float32)}
    opt = Adam(params)
    opt.update(params, {"W": np.full((2, 3), 0.5, np.float32)}, 0.01)
    assert params["W"].dtype == np.float32
    assert all(a.dtype == np.float32 for k, a in opt.state.items() if k != "t")
    np.testing.assert_allclose(params["W"], 1 - 0.01, rtol=1e-6)  # the first step is lr


def test_sigmoid_of_negated_is_the_logistic_function() -> None:
    """If this fails, the gates computed from -a are not sigmoid(a), or a gate far below 0
    gives NaN instead of 0."""
    a = np.concatenate([np.linspace(-30, 30, 121), [-800.0, 800.0]])
    s = -a
    with np.errstate(over="ignore"):
        sigmoid_of_negated(s, np.array(1.0))
    e = np.exp(np.minimum(a, 0))  # the logistic function, other ways: accurate for a < 0 ...
    want = np.where(a < 0, e / (1 + e), 0.5 * (1 + np.tanh(0.5 * a)))  # ... and for a >= 0
    np.testing.assert_allclose(s, want, rtol=1e-14, atol=1e-300)
    assert s[-2] == 0.0 and s[-1] == 1.0


def test_gate_inputs_equals_a_lookup_per_gate() -> None:
    """If this fails, the one-call fill puts another character's W_x column (or another
    gate's block) into a step's pre-activations."""
    rng = np.random.default_rng(1)
    V, G, H, T, B = 7, 3, 5, 4, 2
    table = rng.standard_normal((V, G * H))
    Xt = rng.integers(0, V, (T, B))
    gm = gate_inputs(table, Xt, G)
    assert gm.shape == (G, T, B, H)
    for k in range(G):
        np.testing.assert_array_equal(gm[k], table[:, k * H : (k + 1) * H][Xt])


def test_in_place_softmax_equals_the_formula() -> None:
    """If this fails, the loss or its gradient differs from mean -log softmax(y)[target] and
    (softmax - onehot) / N, so training follows another loss."""
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((4, 3, 6)) * 5
    Y = rng.integers(0, 6, (4, 3))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want_loss = -np.mean(np.log(np.take_along_axis(p, Y[..., None], -1)))
    want_d = (p - np.eye(6)[Y]) / Y.size
    loss, d = softmax_xent(logits.copy(), Y)
    assert loss == pytest.approx(want_loss, rel=1e-13)
    np.testing.assert_allclose(d, want_d, rtol=1e-12, atol=1e-17)


def test_output_steps_looks_past_a_zero_first_entry() -> None:
    """If this fails, a step whose output gradient starts with 0 is skipped although it has
    one, and its gradient never reaches the weights."""
    dh_out = np.zeros((4, 2, 3))
    dh_out[1, 0, 0] = 1.0  # nonzero first entry
    dh_out[2, 1, 2] = -2.0  # zero first entry, nonzero later
    np.testing.assert_array_equal(output_steps(dh_out), [False, True, True, False])


def test_by_input_sums_equal_a_scatter() -> None:
    """If this fails, dW_x from grouped rows differs from adding each row into its id's row."""
    rng = np.random.default_rng(3)
    Xt = rng.integers(0, 9, (6, 4))  # (T, B); id 8 may be missing, some repeat
    rows = rng.standard_normal((24, 5))  # time-major rows
    by_id = ByInput.of(Xt)
    want = np.zeros((10, 5))
    np.add.at(want, Xt.reshape(-1), rows)
    np.testing.assert_allclose(by_id.sums(by_id.rows(rows), 10), want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(scatter_rows(Xt.reshape(-1), rows, 10), want, rtol=1e-13)
    np.testing.assert_array_equal(by_id.rows(rows)[by_id.at.reshape(-1)], rows)


@pytest.mark.parametrize("profile", [True, False])
@pytest.mark.parametrize("cell", CELLS)
def test_grouped_backward_equals_the_time_ordered_one(cell: str, profile: bool) -> None:
    """If this fails, a backward loop that writes d_in grouped by input id puts some step's
    gradient in another row, or gets another dW_h, than the time-ordered loop."""
    rng = np.random.default_rng(4)
    T, B = 6, 3
    model = make_cell(cell, 7, 5, "float64")
    params = model.init_params(rng, 1.2)
    for p in params.values():
        p += rng.standard_normal(p.shape) * 0.1
    Xt = rng.integers(0, 7, (T, B))
    trace = model._run(params, Xt, model.init_state(B), None)
    dh_out = rng.standard_normal((T, B, 5))
    plain = model._backward(params, trace, dh_out.copy(), profile)
    by_id = ByInput.of(Xt)
    grouped = model._backward(params, trace, dh_out.copy(), profile, by_id=by_id)
    np.testing.assert_array_equal(grouped.d_in, by_id.rows(plain.d_in.reshape(T, B, -1)))
    assert plain.dWh is not None and grouped.dWh is not None
    np.testing.assert_allclose(grouped.dWh, plain.dWh, rtol=1e-12, atol=1e-15)
    assert (plain.dh_sq is None) == (grouped.dh_sq is None) == (not profile)
    if profile:  # the profile's norms are the same, step by step
        np.testing.assert_array_equal(grouped.dh_sq, plain.dh_sq)
        assert (grouped.dc_sq is None) == (plain.dc_sq is None) == (cell != "lstm")
        if cell == "lstm":
            np.testing.assert_array_equal(grouped.dc_sq, plain.dc_sq)


def test_transposed_equals_the_transpose_with_row_scales() -> None:
    """If this fails, the padded copy behind `Cell.loop_weights` hands the forward loop
    another W_h^T than the transposed (row-scaled) weights, block by block."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((12, 8)).astype(np.float32)
    scale = rng.choice([-1.0, 1.0], 12).astype(np.float32)
    t = transposed(a, scale)
    assert t.flags.c_contiguous and t.shape == (1, 8, 12)
    np.testing.assert_array_equal(t[0], (a * scale[:, None]).T)
    np.testing.assert_array_equal(transposed(a)[0], a.T)
    three = transposed(a, scale, blocks=3)  # three blocks of 4 rows, each transposed
    assert three.flags.c_contiguous and three.shape == (3, 8, 4)
    for k in range(3):
        np.testing.assert_array_equal(
            three[k], (a[4 * k : 4 * k + 4] * scale[4 * k : 4 * k + 4, None]).T
        )


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_into_is_the_in_place_update_and_leaves_its_inputs(name: str) -> None:
    """If this fails, the update the trainer takes (written into spare arrays) is not the
    in-place update, or it changes the weights and state it starts from, which the trainer
    keeps when the update overflows."""
    rng = np.random.default_rng(6)
    shapes = {"W": (3, 4), "b": (3,)}
    start = {k: rng.standard_normal(s) for k, s in shapes.items()}
    params = {k: p.copy() for k, p in start.items()}
    plain, spare = OPTIMIZERS[name](params), OPTIMIZERS[name](start)
    for _ in range(3):  # moments and sums that are not zero
        grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
        plain.update(params, grads, 0.01)
        spare.update(start, {k: g.copy() for k, g in grads.items()}, 0.01)
    before = {k: v.copy() for k, v in spare.state.items()}
    kept = {k: p.copy() for k, p in start.items()}
    out = {k: np.full(s, np.nan) for k, s in shapes.items()}  # written whole, or NaN stays
    out_state = {k: np.full_like(v, -1) for k, v in spare.state.items()}
    grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
    plain.update(params, grads, 0.01)
    spare.update_into(start, grads, 0.01, out, out_state)
    for k in shapes:
        np.testing.assert_array_equal(out[k], params[k], err_msg=k)  # the same bits
        np.testing.assert_array_equal(start[k], kept[k], err_msg=k)  # the input unchanged
    assert out_state.keys() == plain.state.keys() == before.keys()
    for k, v in out_state.items():
        np.testing.assert_array_equal(v, plain.state[k], err_msg=k)
        np.testing.assert_array_equal(spare.state[k], before[k], err_msg=k)


@pytest.mark.parametrize("fast", [True, False])
def test_squared_norms_equal_the_sum_of_squares(monkeypatch, fast: bool) -> None:
    """If this fails, the gradient pane's per-step norms (np.vecdot, or the einsum where numpy
    has none) are not sqrt(sum of squares) of each stream's row."""
    if not fast:
        monkeypatch.setattr(base, "_vecdot", None)  # the einsum (numpy before 2.0)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2, 3, 5))
    want = np.array([[[sum(float(v) ** 2 for v in row) for row in k] for k in t] for t in x])
    got = squared_norms(x)
    assert got.shape == (4, 2, 3)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(squared_norms(x[:, 0]), want[:, 0], rtol=1e-13)  # strided rows
    into = np.full((4, 2, 3), np.nan)[::-1]  # a backward loop's rows, newest first
    squared_norms(x[::-1], out=into)
    np.testing.assert_allclose(into, want[::-1], rtol=1e-13)


def textbook_pre_activation_grads(
    cell: str, params: dict[str, np.ndarray], trace, dh_out: np.ndarray
) -> np.ndarray:
    """dL/da_t of every step, (T, B, G, H), by the textbook BPTT equations one step at a time
    from the trace's gates (the cells' docstrings), each local derivative written out."""
    Wh = params["Wh"]
    T, B, H = dh_out.shape
    gates = [trace.gates[:, :, j] for j in range(trace.gates.shape[2])]
    da_all = np.zeros(trace.gates.shape)
    dh, dc_next = dh_out[-1].copy(), np.zeros((B, H))
    for t in range(T - 1, -1, -1):
        if cell == "lstm":
            i, f, o, g = (x[t] for x in gates)
            tc = np.tanh(trace.cs[t + 1])  # tanh(c_t)
            dc = dh * o * (1 - tc**2) + dc_next
            da = [dc * g * i * (1 - i), dc * trace.cprev[t] * f * (1 - f),
                  dh * tc * o * (1 - o), dc * i * (1 - g**2)]  # fmt: skip
            dh_prev = np.concatenate(da, axis=1) @ Wh
            dc_next = dc * f
        else:
            z, r, n = (x[t] for x in gates)
            da_n = dh * (1 - z) * (1 - n**2)
            un = trace.hprev[t] @ Wh[2 * H :].T  # U_n h_{t-1}
            da = [dh * (trace.hprev[t] - n) * z * (1 - z), da_n * un * r * (1 - r), da_n]
            dh_prev = np.concatenate([da[0], da[1], r * da_n], axis=1) @ Wh + z * dh
        da_all[t] = np.stack(da, axis=1)
        if t:
            dh = dh_out[t - 1] + dh_prev
    return da_all


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_backward_local_derivatives_equal_the_textbook_ones(cell: str) -> None:
    """If this fails, the local derivatives a forward loop writes for the backward pass from
    its step's values (i g, f c_{t-1}, h_t, r_t U_n h, h_{t-1} - n_t) are not the textbook
    sigmoid'(a) = s (1 - s), tanh'(a) = 1 - tanh(a)^2 ones, and training follows another
    gradient."""
    rng = np.random.default_rng(8)
    T, B, V, H = 5, 3, 6, 4
    model = make_cell(cell, V, H, "float64")
    params = model.init_params(rng, 1.5)
    for p in params.values():
        p += rng.standard_normal(p.shape) * 0.3  # biases too: no gate sits at 0.5
    Xt = rng.integers(0, V, (T, B))
    state = tuple(rng.standard_normal((B, H)) for _ in range(model.n_state))
    trace = model._run(params, Xt, state, None)
    dh_out = rng.standard_normal((T, B, H))
    back = model._backward(params, trace, dh_out.copy(), False)
    want = textbook_pre_activation_grads(cell, params, trace, dh_out)
    np.testing.assert_allclose(back.d_in.reshape(want.shape), want, rtol=1e-12, atol=1e-15)
