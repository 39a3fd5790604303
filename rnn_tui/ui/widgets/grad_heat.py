"""The gradient pane's heat strip: grad_last_t over the whole run, one colour per cell, on the
bars' log scale. Columns are the bars' columns (t = 1 .. T); rows are training steps, the
run's first step at the top and the newest at the bottom."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.ui.widgets.colours import HEAT_PALETTE, N_HEAT, Palette, rgb_style
from rnn_tui.ui.widgets.grad_scale import (
    BAD,
    OK,
    ZERO,
    format_decade,
    group_columns,
    merge_groups,
)
from rnn_tui.ui.widgets.grad_style import grid_text

CAPTIONS = (  # what the strip is, the longest that fits
    "  grad_last_t over the whole run, down to the newest step",
    "  grad_last_t over the whole run",
    "  grad_last_t history",
)
UPPER = "▀"  # two history rows per text row: upper half (fg) and lower half (bg)


def heat_index(logv: np.ndarray, status: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Index into ``HEAT_PALETTE + [zero, bad]`` for every history cell.

    ``logv`` and ``status`` are the (K, C) output of `group_columns`; the result is (K, C) int64.
    """
    with np.errstate(invalid="ignore"):
        f = np.clip((logv - lo) / float(hi - lo), 0.0, 1.0)
    idx = np.round(np.nan_to_num(f) * (N_HEAT - 1)).astype(np.int64)
    idx[status == ZERO] = N_HEAT
    idx[status == BAD] = N_HEAT + 1
    return idx


def stable_merge(hist: np.ndarray, weights: np.ndarray, n_out: int) -> np.ndarray:
    """Merge the K rows of ``hist: (K, T)`` into at most ``n_out`` rows, in groups of ``g``
    neighbours counted from the first row (the last group may be short), ``g`` the smallest of
    1, 2, 3, 4, 6, 8, 12, 16, ... (a power of two, or three times one) with ``ceil(K / g) <=
    n_out``; each group is `merge_rows`' weighted geometric mean (``weights: (K,)``).

    The groups stay put while rows are added: only the last one changes until ``g`` grows,
    so the strip on screen changes in its newest line, not all over (issue 16: less output).
    The history merges its rows in pairs when full (`rnn_tui.run.history.GradHistory`): ``g``
    then halves (from 4 on) and each group still stands for the same steps, so that merge
    changes nothing on screen either. The strip is redrawn whole about twice each time the run
    doubles in length, and shows two thirds of ``n_out`` rows at least.
    Returns (ceil(K / g), T)."""
    k = hist.shape[0]
    g = group_size(k / max(1, n_out))
    if g == 1:
        return np.array(hist, dtype=np.float64)
    return merge_groups(hist, weights, np.arange(0, k, g))


def group_size(ratio: float) -> int:
    """The smallest of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... at or above `ratio`."""
    g = 1
    while g < ratio:
        if g == 1:
            g = 2
        elif g & (g - 1) == 0:  # a power of two: 2^k -> 3 * 2^(k-1)
            g = g // 2 * 3
        else:  # three times one: 3 * 2^(k-1) -> 2^(k+1)
            g = g // 3 * 4
    return g


def heat_rows(
    hist: np.ndarray,
    steps: np.ndarray,
    group: int,
    lines: int,
    label_w: int,
    widths: np.ndarray,
    scale: tuple[int, int],
    colours: Palette,
) -> list[Text]:
    """The strip: a line naming its first step, ``ceil(K' / 2)`` lines of half blocks (K' =
    min(K, 2 * lines) rows), and a line naming its last step with the colour scale.

    ``hist: (K, T)`` holds grad_last_t rows, the run's first row first; ``steps: (K, 2)`` the
    first and last training step of each. Neighbouring rows are merged (geometric mean, weighted
    by their steps) until they fit in ``lines`` text lines (see `stable_merge`). ``group`` timesteps per column,
    column c ``widths[c]`` cells wide; ``scale`` = (lo, hi), the bars' decades: values beyond
    take the end colours, and the legend marks that end ≤ or ≥.
    """
    lo, hi = scale
    weights = np.maximum(1, steps[:, 1] - steps[:, 0] + 1)
    shown = stable_merge(hist, weights, 2 * lines)
    logv, status = group_columns(shown, group)
    idx = heat_index(logv, status, lo, hi)  # (K', C)
    k, ncols = idx.shape
    n_colours = N_HEAT + 2
    if k % 2:  # an odd count: the last line's lower half stays empty (n_colours: no colour),
        idx = np.vstack([idx, np.full((1, ncols), n_colours)])  # so older lines keep their pairs
    upper, lower = idx[0::2], idx[1::2]
    codes = np.full(upper.shape, ord(UPPER))
    sids = upper * (n_colours + 1) + lower  # one style per (upper, lower) colour pair
    rgbs = [*HEAT_PALETTE, colours.zero, colours.bad, None]

    def style_of(sid: int) -> Style:
        up, low = divmod(sid, n_colours + 1)
        if rgbs[low] is None:  # the upper half alone
            return rgb_style(rgbs[up])
        return rgb_style(rgbs[up], rgbs[low])

    dim = Style(dim=True)
    strip = grid_text(codes, sids, style_of, widths, [" " * label_w] * codes.shape[0], None)
    width = label_w + int(np.sum(widths))
    first, last = int(steps[0, 0]), int(steps[-1, 1])
    caption = Text(no_wrap=True, overflow="crop", end="")
    caption.append(f"▼ step {first:,}", Style(bold=True))
    for note in CAPTIONS:
        if caption.cell_len + len(note) <= width or note == CAPTIONS[-1]:
            caption.append(note, dim)
            break
    caption.truncate(width, overflow="ellipsis")
    ok = status == OK
    below, above = bool((ok & (logv < lo)).any()), bool((ok & (logv > hi)).any())
    return [caption, *strip, _end_line(last, width, lo, hi, below, above)]


def _end_line(last: int, width: int, lo: int, hi: int, below: bool, above: bool) -> Text:
    """``▲ step N  1e-8 ▆▆▆ 1e0  same log scale as the bars``, as much as fits ``width``;
    an end is marked ≤ or ≥ when older values beyond it (``below``, ``above``) share its colour."""
    dim = Style(dim=True)
    line = Text(no_wrap=True, overflow="crop", end="")
    line.append(f"▲ step {last:,}", Style(bold=True))
    lo_s = ("≤" if below else "") + format_decade(lo)
    hi_s = ("≥" if above else "") + format_decade(hi)
    room = width - line.cell_len - len(lo_s) - len(hi_s) - 4
    for note in ("  same log scale as the bars", "  = the bars' scale", ""):
        n = min(N_HEAT, room - len(note))
        if n >= 6 or not note:
            break
    if n >= 2:
        line.append(f"  {lo_s} ", dim)
        for i in range(n):
            line.append("█", rgb_style(HEAT_PALETTE[round(i / (n - 1) * (N_HEAT - 1))]))
        line.append(f" {hi_s}{note}", dim)
    return line
