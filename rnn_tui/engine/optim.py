"""Gradient clipping and the two optimizers, updating parameters in place.

Optimizer state is a flat `dict[str, ndarray]` so a checkpoint can store it as it is.
"""

from __future__ import annotations

import math

import numpy as np

from rnn_tui.engine.model.base import Params


def global_norm(grads: Params) -> float:
    """sqrt(sum of every squared gradient entry)."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_grads(grads: Params, mode: str, threshold: float, norm: float) -> bool:
    """Clip `grads` in place; return whether clipping changed anything.

    mode "norm": if the global norm exceeds `threshold`, scale every gradient by threshold/norm
    (the direction is kept). mode "value": clamp each entry to [-threshold, threshold]
    (min-char-rnn's way; the direction changes). mode "off": nothing.
    """
    if mode == "norm":
        if norm > threshold:
            scale = threshold / norm
            for g in grads.values():
                g *= scale  # same direction, length `threshold`
            return True
        return False
    if mode == "value":
        clipped = False
        for g in grads.values():
            clipped = clipped or bool(np.abs(g).max() > threshold)
            np.clip(g, -threshold, threshold, out=g)  # each entry into [-c, c]
        return clipped
    return False


def lr_in_force(lr: float, step: int, boost: float, steps: int) -> float:
    """The learning rate of step `step` (the first is 1): `boost` x `lr` at step 1, falling in a
    straight line to `lr` at step `steps` + 1, and `lr` from then on.

    Early on the loss surface is smooth and the weights far from anything useful, so larger
    steps are safe and quick; the rate the user set (or the lesson chose) takes over after."""
    if step > steps or boost == 1:
        return lr
    return lr * (1 + (boost - 1) * (steps + 1 - step) / steps)  # boost x lr at step 1


class Optimizer:
    """Base: `update(params, grads, lr)` changes params in place; `state` is saved in checkpoints.

    `update_into` is the same update written elsewhere: it reads `params` and `self.state`
    and writes the new weights into `out` and the new state into `out_state` (arrays of the
    same names and shapes), leaving the old ones as they were, so a caller can look at the
    result before taking it (the trainer keeps no update that overflowed). Every output
    array is written whole, and the arithmetic is the in-place update's, pass for pass: both
    give the same bits."""

    name = "?"

    def __init__(self, params: Params) -> None:
        self.state: dict[str, np.ndarray] = {}

    def update(self, params: Params, grads: Params, lr: float) -> None:
        self.update_into(params, grads, lr, params, self.state)

    def update_into(
        self,
        params: Params,
        grads: Params,
        lr: float,
        out: Params,
        out_state: dict[str, np.ndarray],
    ) -> None:
        raise NotImplementedError

    def state_follows_weights(self, grad_norm: float) -> bool:
        """Whether an update from a finite state, with gradients of global norm at most
        `grad_norm`, surely leaves a finite state whenever its new weights are finite (then a
        caller need only check the weights). False unless the optimizer proves it."""
        return False

    def state_problem(self, state: dict[str, np.ndarray], steps: int) -> str:
        """What makes a saved `state` (names and shapes already checked) impossible after
        `steps` updates; "" if nothing does."""
        return ""

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Take a saved state; keys and shapes must match this optimizer's own."""
        for k, v in self.state.items():
            if k not in state or state[k].shape != v.shape:
                raise ValueError(f"optimizer state {k} is missing or has another shape")
            v[...] = state[k]


class SGD(Optimizer):
    """Plain gradient descent, p -= lr * g: a large gradient makes an equally large step, which
    is what makes exploding gradients dangerous and clipping necessary."""

    name = "sgd"

    def state_follows_weights(self, grad_norm: float) -> bool:
        return True  # no state

    def update_into(
        self,
        params: Params,
        grads: Params,
        lr: float,
        out: Params,
        out_state: dict[str, np.ndarray],
    ) -> None:
        for k, p in params.items():
            np.subtract(p, lr * grads[k], out=out[k])  # a step along the negative gradient


class Adagrad(Optimizer):
    """p -= lr * g / sqrt(sum of past g^2 + eps): each weight's step shrinks as it is used."""

    name = "adagrad"

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.state = {f"mem.{k}": np.zeros_like(p) for k, p in params.items()}

    def state_problem(self, state: dict[str, np.ndarray], steps: int) -> str:
        return _negative(state, "mem.")  # sums of squares

    def update_into(
        self,
        params: Params,
        grads: Params,
        lr: float,
        out: Params,
        out_state: dict[str, np.ndarray],
    ) -> None:
        for k, p in params.items():
            g, mem = grads[k], out_state[f"mem.{k}"]
            np.add(self.state[f"mem.{k}"], g * g, out=mem)  # running sum of squared gradients
            np.subtract(p, lr * g / np.sqrt(mem + 1e-8), out=out[k])  # step lr / sqrt(mem)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum on g and g^2, with bias correction.

    Every pass over a parameter writes into the moments, the parameter or one scratch array
    kept per parameter: no temporaries, so an update costs 12 passes per parameter."""

    name = "adam"
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.state = {f"m.{k}": np.zeros_like(p) for k, p in params.items()}
        self.state |= {f"v.{k}": np.zeros_like(p) for k, p in params.items()}
        self.state["t"] = np.zeros((), np.int64)  # updates taken so far
        self._tmp = {k: np.empty_like(p) for k, p in params.items()}  # scratch, not state

    def state_follows_weights(self, grad_norm: float) -> bool:
        """True up to a norm of 1e17, so every |g| <= 1e17 and g^2 <= 1e34. From finite m and
        v (|m|, v <= 3.4e38, the float32 limit) the new moments are then finite, whatever the
        weights do: |b1 m + (1 - b1) g| <= 0.9 * 3.4e38 + 1e16 and b2 v + (1 - b2) g^2 <= 0.999 *
        3.4e38 + 1e31, both below 3.4e38 even after rounding (no inf, and finite operands give
        no NaN). Only the step m / (sqrt(v) + eps) can overflow, and it lands in the weights.
        The bound leaves room for the float32 rounding of the norm itself (a few percent at
        worst); beyond it, g^2 may reach the limit and the state must be checked."""
        return grad_norm <= 1e17

    def state_problem(self, state: dict[str, np.ndarray], steps: int) -> str:
        t = int(state["t"])
        if not 0 <= t <= steps:  # one update per step at most (fewer after a weights-only load)
            return f"optimizer state t = {t} does not fit {steps:,} steps"
        return _negative(state, "v.")  # moving averages of squares

    def update_into(
        self,
        params: Params,
        grads: Params,
        lr: float,
        out: Params,
        out_state: dict[str, np.ndarray],
    ) -> None:
        b1, b2 = self.beta1, self.beta2
        old = self.state
        t = int(old["t"]) + 1
        out_state["t"][...] = t
        step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)  # bias correction folded into the step
        for k, p in params.items():
            g, m, v = grads[k], out_state[f"m.{k}"], out_state[f"v.{k}"]
            tmp = self._tmp[k]
            np.multiply(old[f"m.{k}"], b1, out=m)
            m += np.multiply(g, 1 - b1, out=tmp)  # m = b1 m + (1 - b1) g
            np.multiply(old[f"v.{k}"], b2, out=v)
            np.multiply(g, g, out=tmp)  # g^2
            tmp *= 1 - b2
            v += tmp  # v = b2 v + (1 - b2) g^2
            np.sqrt(v, out=tmp)
            tmp += self.eps  # sqrt(v) + eps, eps for safety
            np.divide(m, tmp, out=tmp)
            tmp *= step
            np.subtract(p, tmp, out=out[k])  # p - lr * m_hat / sqrt(v_hat)


def _negative(state: dict[str, np.ndarray], prefix: str) -> str:
    """Which state array under `prefix`, a running sum or mean of squares, holds a negative
    value (its square root would be NaN on the next update); "" if none."""
    for k, v in state.items():
        if k.startswith(prefix) and bool((v < 0).any()):
            return f"optimizer state {k} holds negative values, which squares cannot be"
    return ""


OPTIMIZERS: dict[str, type[Optimizer]] = {"adagrad": Adagrad, "adam": Adam, "sgd": SGD}
