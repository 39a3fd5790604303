"""The gradient pane's bar profile: grad_t as log-scale bars, grad_last_t as a marker on them."""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.ui.widgets.colours import BAR_RGB, LAST_RGB, rgb_style
from rnn_tui.ui.widgets.grad_scale import BAD, OK, ZERO, format_decade
from rnn_tui.ui.widgets.grad_style import BAD_CHAR, EIGHTHS, MARKER_CHAR, ZERO_CHAR, LineBuilder


def bar_rows(
    bar_log: np.ndarray,
    bar_status: np.ndarray,
    last_log: np.ndarray,
    last_status: np.ndarray,
    lo: int,
    hi: int,
    rows: int,
    label_w: int,
    cell_w: int,
) -> list[Text]:
    """Bars of grad_t (eighth-block resolution) with a grad_last_t marker, log scale.

    ``bar_log``/``bar_status`` and ``last_log``/``last_status`` are the (C,) columns of
    `group_columns` for grad_t and grad_last_t; ``lo``..``hi`` are the decade exponents of the
    bottom and top. Returns ``rows`` lines, each a decade-label gutter of ``label_w`` cells and
    C columns of ``cell_w`` cells.
    """
    span = float(hi - lo)
    units_total = rows * 8
    with np.errstate(invalid="ignore"):
        frac_bar = np.clip((bar_log - lo) / span, 0.0, 1.0)
        frac_last = np.clip((last_log - lo) / span, 0.0, 1.0)
    units = np.where(bar_status == OK, np.maximum(1, np.round(frac_bar * units_total)), 0)
    units = units.astype(np.int64)
    mark_row = np.minimum(rows - 1, np.floor(np.nan_to_num(frac_last) * rows)).astype(np.int64)

    # Which rows (counted from the bottom) carry a decade label: every stride-th decade
    # counting down from the top one, at most one label per two rows.
    labels: dict[int, str] = {}
    decades = list(range(hi, lo - 1, -1))
    stride = max(1, math.ceil(len(decades) / max(1, (rows + 1) // 2)))
    for d in decades[::stride]:
        u = (d - lo) / span * units_total
        r = min(rows - 1, max(0, math.ceil(u / 8) - 1))
        if r not in labels:
            labels[r] = format_decade(d)

    bar_style = rgb_style(BAR_RGB)
    mark_style = rgb_style(LAST_RGB, bold=True)
    mark_on_bar = rgb_style(LAST_RGB, BAR_RGB, bold=True)
    bad_style = Style(color="red", bold=True)
    zero_style = Style(dim=True)
    axis_style = Style(dim=True)

    out: list[Text] = []
    ncols = units.size
    units_l = units.tolist()
    mark_l = mark_row.tolist()
    bar_st = bar_status.tolist()
    last_st = last_status.tolist()
    for i in range(rows):
        b = rows - 1 - i  # row index from the bottom
        line = LineBuilder()
        label = labels.get(b)
        if label is not None:
            line.add(label.rjust(label_w - 1) + "┤", axis_style)
        else:
            line.add(" " * (label_w - 1) + "│", axis_style)
        base = b * 8
        for c in range(ncols):
            ch = " "
            style: Style | None = None
            bs, ls = bar_st[c], last_st[c]
            if b == 0 and (bs == BAD or ls == BAD):
                ch, style = BAD_CHAR, bad_style
            elif b == 0 and bs == ZERO:
                ch, style = ZERO_CHAR, zero_style
            else:
                fill = min(8, max(0, units_l[c] - base))
                if fill:
                    ch, style = EIGHTHS[fill], bar_style
                if ls == OK and mark_l[c] == b:
                    ch, style = MARKER_CHAR, (mark_on_bar if fill == 8 else mark_style)
                elif ls == ZERO and b == 0 and not fill:
                    ch, style = ZERO_CHAR, zero_style
            line.add(ch * cell_w, style)
        out.append(line.text())
    return out


def x_axis(t_steps: int, bars_w: int, label_w: int) -> Text:
    """Row under the bars: t=1 at the left, t=T at the right."""
    left, right = "t=1", f"t={t_steps}"
    line = Text(" " * label_w, no_wrap=True, overflow="crop", end="")
    if len(left) + len(right) + 1 <= bars_w:
        line.append(left + " " * (bars_w - len(left) - len(right)) + right, Style(dim=True))
    else:
        line.append(right.rjust(max(bars_w, len(right))), Style(dim=True))
    return line
