"""The loss chart's arithmetic, apart from its drawing: where its axes end, their round ticks
and labels, and the few points of a long history it draws (`loss_chart.LossChart`)."""

from __future__ import annotations

import math

import numpy as np


def log_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Round tick values for a log axis inside [lo, hi] (both > 0): 1, 2, 5 x 10^k, or only the
    powers of ten (every other one, and so on) when those are too many for ``max_ticks``."""
    if not (lo > 0 and hi > lo and math.isfinite(hi)):
        return []
    k_lo, k_hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mults, every in (((1, 2, 5), 1), ((1, 3), 1), ((1,), 1), ((1,), 2), ((1,), 3)):
        ticks = [
            float(f"{m}e{k}")  # exact decimal values: 0.05, not 0.05000000000000001
            for k in range(k_lo, k_hi + 1)
            if k % every == 0
            for m in mults
            if lo <= m * 10.0**k <= hi
        ]
        if len(ticks) <= max(2, max_ticks):
            return ticks
    return ticks


def finite_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the (x, y) pairs where both are finite; arrays are truncated to equal length."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def downsample(
    x: np.ndarray,
    y: np.ndarray,
    max_points: int,
    lo: float | None = None,
    hi: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a series with increasing ``x`` to at most ``max_points`` (+1) points for drawing.

    The points are averaged in ``max_points`` buckets of equal width along x, over [``lo``,
    ``hi``] (the first and last x by default), so the whole history stays visible and its shape
    is kept; the very last point is appended unchanged, so the curve always ends at the latest
    value. On a fixed axis a bucket, once past, never changes: as new points come only the
    newest bucket moves, and the rest of the drawn curve (and what it sends) stays put.
    """
    n = x.size
    max_points = max(2, int(max_points))
    if n <= max_points:
        return x, y
    lo = float(x[0]) if lo is None else lo
    hi = float(x[-1]) if hi is None else hi
    span = hi - lo if hi > lo else 1.0
    # Bucket of each point but the last: x[:n-1] is sorted, so the buckets are too.
    b = np.clip(((x[: n - 1] - lo) / span * max_points).astype(np.int64), 0, max_points - 1)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])  # first point of each bucket
    counts = np.diff(np.append(starts, n - 1))
    xs = np.add.reduceat(x[: n - 1], starts) / counts
    ys = np.add.reduceat(y[: n - 1], starts) / counts
    return np.append(xs, x[-1]), np.append(ys, y[-1])


AXIS_ENDS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)  # x 10^k: the step axis's ends


def axis_end(v: float) -> float:
    """The step axis's right end for a run at step `v`: the first of 1, 1.2, 1.5, 2, 2.5, 3, 4,
    5, 6, 8 x 10^k at or above it. The curve fills three quarters of the width at least, and the
    axis (with every point already drawn) stays where it is until the run passes its end,
    instead of moving at every redraw."""
    if not (math.isfinite(v) and v > 0):
        return v
    k = math.floor(math.log10(v))
    for m in (*AXIS_ENDS, 10.0):
        end = float(f"{m}e{k}")  # exact decimal values: 1200, not 1200.0000000000002
        if end >= v * (1 - 1e-12):
            return end
    return float(f"1e{k + 1}")


def nice_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Round tick positions (1, 2, 2.5, 5 x 10^k steps) inside [lo, hi].

    Returns the densest such set with at most ``max_ticks`` (at least 2) ticks.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    max_ticks = max(2, int(max_ticks))
    mag = 10.0 ** math.floor(math.log10((hi - lo) / max_ticks))
    ticks: list[float] = []
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0):
        step = mult * mag
        first = math.ceil(lo / step - 1e-9)
        last = math.floor(hi / step + 1e-9)
        if last - first + 1 <= max_ticks:
            ticks = [round(k * step, 12) for k in range(first, last + 1)]
            break
    return ticks


def format_step(v: float) -> str:
    """Short label for a step count: 950, 1.5k, 12k, 3.2M."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}"


def format_loss_tick(v: float, step: float) -> str:
    """Label for a loss tick with just enough decimals for the tick spacing."""
    if step >= 1:
        return f"{v:.0f}"
    if step >= 0.1:
        return f"{v:.1f}"
    if step >= 0.01:
        return f"{v:.2f}"
    return f"{v:.3g}"
