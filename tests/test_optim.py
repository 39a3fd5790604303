"""The optimizers and gradient clipping against their textbook formulas, worked out by hand.

Every expected value below is computed here from the published update rule (or written out
as a literal), never by calling the code under test, on a tiny 2x2 parameter in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnn_tui.engine.optim import SGD, Adagrad, Adam, clip_grads, global_norm

W0 = np.array([[0.5, -1.0], [2.0, 0.25]])  # the parameter before any update
G1 = np.array([[0.1, -0.4], [1.5, -2.0]])  # the gradient at the first step
G2 = np.array([[-0.3, 0.2], [0.5, 1.0]])  # and at the second
LR = 0.01


def fresh() -> dict[str, np.ndarray]:
    return {"W": W0.copy()}


def test_sgd_steps_along_the_negative_gradient() -> None:
    """If this fails, plain SGD does not take the step p - lr * g."""
    params = fresh()
    SGD(params).update(params, {"W": G1.copy()}, LR)
    want = np.array([[0.5 - 0.001, -1.0 + 0.004], [2.0 - 0.015, 0.25 + 0.02]])
    np.testing.assert_allclose(params["W"], want, rtol=0, atol=1e-15)


def test_adagrad_divides_by_the_root_of_the_summed_squares() -> None:
    """If this fails, Adagrad's per-weight step is not lr * g / sqrt(sum of past g^2 + eps)
    (Duchi et al. 2011, with eps inside the root as in min-char-rnn)."""
    params = fresh()
    opt = Adagrad(params)
    eps = 1e-8
    w = W0.copy()
    mem = np.zeros((2, 2))
    for g in (G1, G2):
        opt.update(params, {"W": g.copy()}, LR)
        mem = mem + g**2  # G_t = sum_{s <= t} g_s^2
        w = w - LR * g / np.sqrt(mem + eps)
        np.testing.assert_allclose(opt.state["mem.W"], mem, rtol=1e-15)
        np.testing.assert_allclose(params["W"], w, rtol=1e-14)
    # The first step's size is lr * g / |g| = lr for every nonzero entry, whatever g's scale.
    first = fresh()
    Adagrad(first).update(first, {"W": G1.copy()}, LR)
    np.testing.assert_allclose(np.abs(first["W"] - W0), LR, rtol=1e-6)


@pytest.mark.parametrize(("eps", "rtol"), [(0.0, 1e-12), (1e-8, 1e-5)])
def test_adam_matches_the_paper_for_two_steps(eps: float, rtol: float) -> None:
    """If this fails, Adam's moments, bias correction or step differ from Kingma & Ba (2015),
    Algorithm 1: m_t = b1 m + (1-b1) g, v_t = b2 v + (1-b2) g^2, m_hat = m_t / (1-b1^t),
    v_hat = v_t / (1-b2^t), p -= lr * m_hat / (sqrt(v_hat) + eps).

    The code folds the bias correction into the step size (the paper's section 2 variant),
    which is the same update with eps scaled by sqrt(1 - b2^t): exact without eps, and within
    eps / sqrt(v_hat) * 30 (about 3e-6 here) of Algorithm 1 with the default eps."""
    b1, b2 = 0.9, 0.999
    params = fresh()
    opt = Adam(params)
    opt.eps = eps
    w = W0.copy()
    m = np.zeros((2, 2))
    v = np.zeros((2, 2))
    for t, g in enumerate((G1, G2), start=1):
        before = params["W"].copy()
        opt.update(params, {"W": g.copy()}, LR)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        step = LR * m_hat / (np.sqrt(v_hat) + eps)
        w = w - step
        np.testing.assert_allclose(opt.state["m.W"], m, rtol=1e-15)
        np.testing.assert_allclose(opt.state["v.W"], v, rtol=1e-15)
        assert int(opt.state["t"]) == t
        np.testing.assert_allclose(before - params["W"], step, rtol=rtol)
        np.testing.assert_allclose(params["W"], w, rtol=rtol)
    # At t = 1 the bias-corrected step is lr * g / |g|: each weight moves by lr.
    first = fresh()
    Adam(first).update(first, {"W": G1.copy()}, LR)
    np.testing.assert_allclose(W0 - first["W"], LR * np.sign(G1), rtol=1e-5)


def grads_pair() -> dict[str, np.ndarray]:
    return {"W": np.array([[3.0, -4.0], [0.0, 12.0]]), "b": np.array([0.0, -84.0])}


def test_global_norm_is_the_root_of_all_squares() -> None:
    # 3^2 + 4^2 + 12^2 + 84^2 = 9 + 16 + 144 + 7056 = 7225 = 85^2
    assert global_norm(grads_pair()) == pytest.approx(85.0, rel=1e-15)


def test_norm_clipping_scales_to_the_threshold_and_keeps_the_direction() -> None:
    """If this fails, clipping by norm does not leave a gradient of length `threshold` pointing
    the same way (every entry times threshold / norm)."""
    grads = grads_pair()
    assert clip_grads(grads, "norm", 5.0, 85.0) is True
    squares = sum(float((g**2).sum()) for g in grads.values())
    assert math.sqrt(squares) == pytest.approx(5.0, rel=1e-12)
    scale = 5.0 / 85.0
    np.testing.assert_allclose(grads["W"], [[3 * scale, -4 * scale], [0.0, 12 * scale]])
    np.testing.assert_allclose(grads["b"], [0.0, -84 * scale])


def test_value_clipping_clamps_each_entry() -> None:
    """If this fails, value clipping does not put each entry into [-c, c] on its own."""
    grads = grads_pair()
    assert clip_grads(grads, "value", 3.5, 85.0) is True
    np.testing.assert_array_equal(grads["W"], [[3.0, -3.5], [0.0, 3.5]])
    np.testing.assert_array_equal(grads["b"], [0.0, -3.5])


@pytest.mark.parametrize("mode", ["norm", "value", "off"])
def test_no_clipping_below_the_threshold(mode: str) -> None:
    """If this fails, a gradient already within the threshold is changed or reported clipped."""
    grads = grads_pair()
    assert clip_grads(grads, mode, 100.0, 85.0) is False
    np.testing.assert_array_equal(grads["W"], [[3.0, -4.0], [0.0, 12.0]])
    np.testing.assert_array_equal(grads["b"], [0.0, -84.0])


def test_clipping_off_ignores_the_threshold() -> None:
    grads = grads_pair()
    assert clip_grads(grads, "off", 1.0, 85.0) is False
    np.testing.assert_array_equal(grads["b"], [0.0, -84.0])
