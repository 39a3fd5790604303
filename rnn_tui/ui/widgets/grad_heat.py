"""The gradient pane's heat strip: the history of grad_last_t, one colour per cell, on a log scale."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.ui.widgets.colours import BAD_RGB, ZERO_RGB, rgb_style
from rnn_tui.ui.widgets.grad_scale import BAD, ZERO, decade_range, format_decade, group_columns
from rnn_tui.ui.widgets.grad_style import LineBuilder

# Viridis-like stops: dark purple (tiny gradient) -> blue -> green -> yellow (large gradient).
_HEAT_STOPS = [
    (68, 1, 84),
    (72, 40, 120),
    (62, 74, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (109, 205, 89),
    (180, 222, 44),
    (253, 231, 37),
]
N_HEAT = 24


def _lerp_palette(stops: list[tuple[int, int, int]], n: int) -> list[tuple[int, int, int]]:
    """Interpolate ``n`` colours evenly along the given colour stops."""
    out = []
    for i in range(n):
        pos = i / (n - 1) * (len(stops) - 1)
        k = min(int(pos), len(stops) - 2)
        f = pos - k
        a, b = stops[k], stops[k + 1]
        out.append(tuple(round(a[j] + (b[j] - a[j]) * f) for j in range(3)))
    return out  # type: ignore[return-value]


HEAT_PALETTE: list[tuple[int, int, int]] = _lerp_palette(_HEAT_STOPS, N_HEAT)


def heat_index(logv: np.ndarray, status: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Index into ``HEAT_PALETTE + [ZERO_RGB, BAD_RGB]`` for every history cell.

    ``logv`` and ``status`` are the (K, C) output of `group_columns`; the result is (K, C) int64.
    """
    with np.errstate(invalid="ignore"):
        f = np.clip((logv - lo) / float(hi - lo), 0.0, 1.0)
    idx = np.round(np.nan_to_num(f) * (N_HEAT - 1)).astype(np.int64)
    idx[status == ZERO] = N_HEAT
    idx[status == BAD] = N_HEAT + 1
    return idx


def heat_rows(
    hist: np.ndarray,
    group: int,
    rows: int,
    label_w: int,
    cell_w: int,
    scale: tuple[int, int] | None = None,
) -> list[Text]:
    """Half-block heat strip, two history rows per terminal row, newest at the bottom.

    ``hist`` is the (K, T) grad_last_t history, oldest row first; its last ``2 * rows`` rows are
    drawn, ``group`` timesteps per column. ``scale`` fixes the (lo, hi) decades (None adapts to
    the rows shown). Returns the strip's lines followed by one line of colour scale.
    """
    shown = hist[-2 * rows :]
    rng = scale or decade_range(shown)
    lo, hi = rng if rng is not None else (-2, 0)
    logv, status = group_columns(shown, group)
    k, ncols = logv.shape
    palette = [*HEAT_PALETTE, ZERO_RGB, BAD_RGB]
    idx = heat_index(logv, status, lo, hi)
    # Pad at the top so the newest row always sits in the bottom half of the last line.
    pad = 2 * math.ceil(k / 2) - k
    colors: list[list[tuple[int, int, int] | None]] = [[None] * ncols for _ in range(pad)]
    colors.extend([palette[i] for i in row] for row in idx.tolist())
    n_lines = len(colors) // 2
    out: list[Text] = []
    label_style = Style(dim=True)
    for j in range(n_lines):
        line = LineBuilder()
        if j == n_lines - 1:
            label = "now"
        elif j == 0:
            label = "old"
        else:
            label = ""
        line.add(label.ljust(label_w)[:label_w], label_style)
        top, bottom = colors[2 * j], colors[2 * j + 1]
        for c in range(ncols):
            ct, cb = top[c], bottom[c]
            if ct is None:
                line.add("▄" * cell_w, rgb_style(cb))
            else:
                line.add("▀" * cell_w, rgb_style(ct, cb))
        out.append(line.text())

    # Colour scale.
    scale_line = Text(no_wrap=True, overflow="crop", end="")
    scale_line.append("heat".ljust(label_w), label_style)
    lo_s, hi_s = format_decade(lo), format_decade(hi)
    n = max(0, min(N_HEAT, ncols * cell_w - len(lo_s) - len(hi_s) - 2))
    scale_line.append(lo_s + " ", label_style)
    for i in range(n):
        rgb = HEAT_PALETTE[round(i / max(1, n - 1) * (N_HEAT - 1))]
        scale_line.append("█", rgb_style(rgb))
    scale_line.append(" " + hi_s, label_style)
    out.append(scale_line)
    return out
