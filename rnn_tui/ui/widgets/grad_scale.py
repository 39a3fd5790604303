"""Log-scale arithmetic of the gradient pane: decade ranges, column grouping, number labels.

Pure NumPy and string helpers with no drawing in them; `grad_pane`, `grad_bars` and
`grad_heat` build their pictures on top of these.
"""

from __future__ import annotations

import math

import numpy as np

# Column status codes.
OK, ZERO, BAD = 0, 1, 2

MIN_DECADES = 2


def format_decade(d: int) -> str:
    """Tick label for 10**d: 1e-3, 1e0, 1e2."""
    return f"1e{d}"


def format_sci(x: float) -> str:
    """Compact number: 0.84, 12.3, 3.2e-05; nan/inf spelled out."""
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    if 1e-2 <= abs(x) < 1e3:
        return f"{x:.3g}"
    return f"{x:.1e}"


def group_columns(values: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce the last axis in groups of ``group`` timesteps for display.

    Returns ``(log10_max, status)`` with the same leading shape and ``ceil(T / group)`` columns:
    log10 of the largest positive finite value of each group, and a status per column: ``BAD``
    if any value in the group is NaN/inf, else ``ZERO`` if none is positive, else ``OK``.
    """
    v = np.asarray(values, dtype=np.float64)
    t = v.shape[-1]
    ncols = max(1, math.ceil(t / group)) if t else 0
    pad = ncols * group - t
    if pad:
        pad_width = [(0, 0)] * (v.ndim - 1) + [(0, pad)]
        v = np.pad(v, pad_width, constant_values=0.0)
    v = v.reshape(*v.shape[:-1], ncols, group)
    finite = np.isfinite(v)
    bad = (~finite).any(axis=-1)
    pos = np.where(finite & (v > 0), v, 0.0).max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(pos > 0, np.log10(np.where(pos > 0, pos, 1.0)), -np.inf)
    status = np.where(bad, BAD, np.where(pos > 0, OK, ZERO)).astype(np.int8)
    return logv, status


def decade_range(*arrays: np.ndarray, min_decades: int = MIN_DECADES) -> tuple[int, int] | None:
    """Whole-decade (lo, hi) exponents spanning all positive finite values, at least
    ``min_decades`` wide; ``None`` if there is no positive finite value."""
    mins, maxs = [], []
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        good = a[np.isfinite(a) & (a > 0)]
        if good.size:
            mins.append(float(good.min()))
            maxs.append(float(good.max()))
    if not mins:
        return None
    lo = math.floor(math.log10(min(mins)))
    hi = math.ceil(math.log10(max(maxs)))
    if hi == lo:
        hi += 1
    if hi - lo < min_decades:
        lo = hi - min_decades
    return lo, hi


def column_edges(ncols: int, width: int) -> np.ndarray:
    """(ncols + 1,) cell offsets that share ``width`` cells among ``ncols`` columns as evenly as
    whole cells allow (widths differ by at most one), so the columns fill the width."""
    return (np.arange(ncols + 1) * width) // max(1, ncols)


def merge_rows(values: np.ndarray, weights: np.ndarray, n_out: int) -> np.ndarray:
    """Merge the K rows of ``values: (K, T)`` into ``min(K, n_out)`` rows of neighbours.

    Each merged row is the weighted geometric mean of its rows' positive values (each row
    weighted by ``weights: (K,)``, e.g. how many training steps it stands for); 0 where none
    of them is positive, NaN where any is NaN/inf. Returns (min(K, n_out), T).
    """
    v = np.asarray(values, dtype=np.float64)
    k = v.shape[0]
    if k <= n_out:
        return v.copy()
    bounds = np.round(np.linspace(0, k, n_out + 1)).astype(np.int64)  # group i: rows b[i]..b[i+1]
    return merge_groups(v, weights, bounds[:-1])


def merge_groups(values: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """`merge_rows`' means over the groups of rows of ``values: (K, T)`` that begin at
    ``starts`` (ascending, the first 0; each group runs to the next start), all in one pass
    over the rows; a group of one row is that row, as it is. Returns (len(starts), T)."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)[:, None] * np.ones_like(v)  # (K, T) weights
    finite = np.isfinite(v)
    pos = finite & (v > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = np.where(pos, np.log10(np.where(pos, v, 1.0)) * w, 0.0)  # w * log10 v
    wpos = np.where(pos, w, 0.0)  # the weights of the positive values
    log_sum = np.add.reduceat(logw, starts, axis=0)  # (groups, T)
    w_sum = np.add.reduceat(wpos, starts, axis=0)
    n_bad = np.add.reduceat((~finite).astype(np.int64), starts, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(w_sum > 0, 10.0 ** (log_sum / np.where(w_sum > 0, w_sum, 1.0)), 0.0)
    out[n_bad > 0] = np.nan
    alone = np.diff(starts, append=v.shape[0]) == 1  # groups of one row: no mean to take
    out[alone] = v[starts[alone]]
    return out
