"""The gradient pane's profile, on a log scale: grad_t as muted bars (eighth-block tops),
grad_last_t as a bold line of braille dots over them (a quarter of a row fine), and for the
LSTM the cell-state gradient as a thinner dotted line."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.ui.widgets.colours import Palette, rgb_style
from rnn_tui.ui.widgets.grad_scale import BAD, OK, ZERO, format_decade
from rnn_tui.ui.widgets.grad_style import (
    BAD_CHAR,
    BRAILLE,
    CELL_THICK,
    DOT_ROW_BITS,
    EIGHTHS,
    LAST_THICK,
    ZERO_CHAR,
    grid_text,
)

Column = tuple[np.ndarray, np.ndarray]  # (log10 value, status) per column, from group_columns

# Style slots of the bar picture.
_NONE, _BAR, _LAST, _LAST_ON_BAR, _CELL, _CELL_ON_BAR, _BAD, _ZERO = range(8)
_EIGHTHS_CODES = np.array([ord(c) for c in EIGHTHS])


def _styles(colours: Palette) -> list[Style | None]:
    """The picture's styles, indexed by the slots above."""
    return [
        None,
        rgb_style(colours.grad_t),
        rgb_style(colours.grad_last, bold=True),
        rgb_style(colours.grad_last, colours.grad_t, bold=True),
        rgb_style(colours.cell_grad),
        rgb_style(colours.cell_grad, colours.grad_t),
        rgb_style(colours.bad, bold=True),
        Style(dim=True),
    ]


def _frac(col: Column, lo: int, hi: int) -> np.ndarray:
    """(C,) where each column's value sits between the bottom (0) and the top (1)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.clip((col[0] - lo) / float(hi - lo), 0.0, 1.0))


def _line_dots(col: Column, lo: int, hi: int, rows: int, thick: int) -> tuple[np.ndarray, ...]:
    """A line's lowest and highest dot row (counted from the bottom of ``rows`` text rows of 4
    dot rows each) per column, and whether the column has a line at all: (C,) each. The top
    dot is the one the value falls in, so a line on a bar of the same value caps it."""
    dots = rows * 4
    top = np.clip(np.ceil(_frac(col, lo, hi) * dots).astype(np.int64) - 1, 0, dots - 1)
    return np.maximum(top - thick + 1, 0), top, col[1] == OK


def bar_rows(
    bars: Column,
    last: Column,
    cell: Column | None,
    lo: int,
    hi: int,
    rows: int,
    label_w: int,
    widths: np.ndarray,
    colours: Palette,
) -> list[Text]:
    """The profile: grad_t bars with the grad_last_t line (and the cell-state line) on them.

    ``bars``, ``last`` and ``cell`` are the (C,) columns of `group_columns` for grad_t,
    grad_last_t and the LSTM's cell-state gradient (None: no such line); ``lo``..``hi`` are the
    decade exponents of the bottom and top; column c is ``widths[c]`` cells wide. Returns
    ``rows`` lines, each a decade-label gutter of ``label_w`` cells and then the columns.

    Where a line passes a cell, the cell shows the line's dots, on the bar's colour if the bar
    rises above the line's top; so at t = T, where grad_t = grad_last_t, the line caps the bar.
    """
    units = np.where(bars[1] == OK, np.maximum(1, np.round(_frac(bars, lo, hi) * rows * 8)), 0)
    units = units.astype(np.int64)  # (C,) bar height in eighths of a row
    lines = [(_line_dots(last, lo, hi, rows, LAST_THICK), _LAST)]
    if cell is not None:
        lines.append((_line_dots(cell, lo, hi, rows, CELL_THICK), _CELL))

    b = np.arange(rows - 1, -1, -1)[:, None]  # (R, 1) text row counted from the bottom
    fill = np.clip(units[None, :] - 8 * b, 0, 8)  # (R, C) eighths of each cell the bar covers
    codes = np.where(fill > 0, _EIGHTHS_CODES[fill], ord(" "))
    sids = np.where(fill > 0, _BAR, _NONE)
    # Dot row j (0 = top) of text row b is dot row 4b + 3 - j counted from the bottom.
    d = 4 * b[None] + 3 - np.arange(4)[:, None, None]  # (4, R, 1)
    bits_of_j = np.array(DOT_ROW_BITS)[:, None, None]  # (4, 1, 1)
    # The line drawn last wins a shared cell: grad_last_t, the boldest, over the cell line.
    for (low, top, has), slot in reversed(lines):
        on = has & (low <= d) & (d <= top)  # (4, R, C) which dots the line lights
        bits = (on * bits_of_j).sum(axis=0)  # (R, C) braille bits
        hi_dot = np.where(on, 3 - np.arange(4)[:, None, None], -1).max(axis=0)  # top dot, 0..3
        drawn = bits > 0
        on_bar = (fill == 8) | (fill > 2 * (hi_dot + 1))  # the bar rises above the line
        both = drawn & (codes >= BRAILLE) & (codes < BRAILLE + 256)  # two lines: one glyph
        codes = np.where(both, codes | bits, np.where(drawn, BRAILLE | bits, codes))
        sids = np.where(drawn, np.where(on_bar, slot + 1, slot), sids)
    # The bottom row says what cannot be drawn on a log scale.
    bad = (bars[1] == BAD) | (last[1] == BAD) | (cell is not None and cell[1] == BAD)
    zero = ~bad & (fill[-1] == 0) & ((bars[1] == ZERO) | ((last[1] == ZERO) & (codes[-1] == 32)))
    codes[-1] = np.where(bad, ord(BAD_CHAR), np.where(zero, ord(ZERO_CHAR), codes[-1]))
    sids[-1] = np.where(bad, _BAD, np.where(zero, _ZERO, sids[-1]))

    return grid_text(
        codes,
        sids,
        _styles(colours).__getitem__,
        widths,
        _gutters(lo, hi, rows, label_w),
        Style(dim=True),
    )


def _gutters(lo: int, hi: int, rows: int, label_w: int) -> list[str]:
    """The decade labels left of the bars, top row first: every stride-th decade counting down
    from the top one, at most one label per two rows, each on the row its value falls in."""
    span = float(hi - lo)
    labels: dict[int, str] = {}
    decades = list(range(hi, lo - 1, -1))
    stride = max(1, math.ceil(len(decades) / max(1, (rows + 1) // 2)))
    for d in decades[::stride]:
        u = (d - lo) / span * rows * 8
        r = min(rows - 1, max(0, math.ceil(u / 8) - 1))
        if r not in labels:
            labels[r] = format_decade(d)
    out = []
    for i in range(rows):
        label = labels.get(rows - 1 - i)
        out.append(label.rjust(label_w - 1) + "┤" if label else " " * (label_w - 1) + "│")
    return out


def x_axis(t_steps: int, edges: np.ndarray, label_w: int, notes: list[str]) -> Text:
    """Row under the bars: t=1 under the first column, t=T under the last, and in between the
    first of ``notes`` that fits (centred), e.g. the column grouping or the BPTT window."""
    bars_w = int(edges[-1])
    left, right = "t=1", f"t={t_steps}"
    line = Text(" " * label_w, no_wrap=True, overflow="crop", end="")
    dim = Style(dim=True)
    if len(left) + len(right) + 1 > bars_w:
        line.append(right.rjust(max(bars_w, len(right))), dim)
        return line
    inner = bars_w - len(left) - len(right)
    middle = " " * inner
    for note in notes:
        if len(note) + 4 <= inner:
            pad = (inner - len(note)) // 2
            middle = " " * pad + note + " " * (inner - pad - len(note))
            break
    line.append(left + middle + right, dim)
    return line
