"""Central-difference gradient checking shared by the model tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """d f / d x by fourth-order central differences, perturbing `x` in place entry by entry.

    (-f(x+2e) + 8 f(x+e) - 8 f(x-e) + f(x-2e)) / 12e has error O(e^4): with e = 1e-3 both
    the truncation error and float64 round-off stay near 1e-12, far below the 1e-6 tolerance.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        f_at = []
        for k in (2, 1, -1, -2):
            x[i] = old + k * eps
            f_at.append(f())
        x[i] = old
        grad[i] = (-f_at[0] + 8 * f_at[1] - 8 * f_at[2] + f_at[3]) / (12 * eps)
    return grad


def max_rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> float:
    """max_i |a_i - n_i| / max(|a_i| + |n_i|, floor): the worst entry's relative error.

    The floor keeps entries that are zero in both (an unused input column) from dividing 0 by 0.
    """
    denom = np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return float(np.max(np.abs(analytic - numeric) / denom))
