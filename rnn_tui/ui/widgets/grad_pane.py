"""Gradient pane: per-timestep gradient magnitudes of backprop-through-time, on a log scale.

Layout, top to bottom (the header and key shorten themselves in a small pane)::

    ratio g_last[1]/g_last[T] = 3.2e-05  |g| 0.84 (norm of all gradients)  clip at 5
    clipped 37% of the last 100 steps
    █ grad_t (sum of all T losses)  ⠶ grad_last_t (loss at t=T only)
    1e0 ┤ ▂▄▆███...   muted bars: grad_t; bold braille line: grad_last_t;
    1e-4┤ ...         LSTM: a thin braille line, the gradient at the cell state
        t=1   truncated BPTT: T = 32, state carried across windows   t=32
    ▼ step 1  grad_last_t over the whole run, down to the newest step
        ▀▀▀▀...       heat strip: one row per stretch of training, same columns as the bars
    ▲ step 10,000  1e-8 ▆▆▆▆ 1e0  same log scale as the bars

Everything is drawn by hand with Rich styles (no plotext), so a redraw costs a few ms.

The pieces live next door: `grad_scale` (decades, column grouping, number labels),
`grad_style` (glyphs, line builder), `grad_bars` (profile and time axis) and `grad_heat`
(heat strip). This module lays them out; their names stay importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.colours import Palette, rgb_style
from rnn_tui.ui.widgets.drawn import DrawnPane, flow, join_lines
from rnn_tui.ui.widgets.grad_bars import bar_rows, x_axis
from rnn_tui.ui.widgets.grad_heat import HEAT_PALETTE, N_HEAT, heat_index, heat_rows
from rnn_tui.ui.widgets.grad_scale import (
    BAD,
    MIN_DECADES,
    OK,
    ZERO,
    column_edges,
    decade_range,
    format_decade,
    format_sci,
    group_columns,
)
from rnn_tui.ui.widgets.grad_style import (
    BAD_CHAR,
    BAR_GLYPH,
    CELL_GLYPH,
    EIGHTHS,
    LAST_GLYPH,
    ZERO_CHAR,
)

__all__ = [
    "BAD",
    "BAD_CHAR",
    "EIGHTHS",
    "HEAT_PALETTE",
    "MIN_BARS",
    "MIN_DECADES",
    "MIN_HEIGHT",
    "MIN_WIDTH",
    "N_HEAT",
    "OK",
    "ZERO",
    "ZERO_CHAR",
    "GradPane",
    "bar_rows",
    "bptt_text",
    "decade_range",
    "format_decade",
    "format_sci",
    "group_columns",
    "heat_index",
    "heat_rows",
    "x_axis",
]

MIN_WIDTH = 16
MIN_HEIGHT = 5
MIN_BARS = 5  # the header and key shorten until the profile keeps this many rows
HEAT_SHARE = 0.45  # at most this share of the rows under the header goes to the heat strip


def steady(new: np.ndarray, old: np.ndarray | None, band: float) -> np.ndarray:
    """``new: (T,)`` with each entry that moved less than ``band`` decades from ``old: (T,)``
    (both finite and positive) kept at its old value: the profile as drawn. With ``band`` one
    braille dot (a quarter of a row), a wobble finer than the line can show repaints nothing
    and a bar is at most two eighths of a row off (issue 16: less output)."""
    if old is None or old.shape != new.shape or band <= 0:
        return new
    both = np.isfinite(new) & np.isfinite(old) & (new > 0) & (old > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.abs(np.log10(np.where(both, new, 1.0) / np.where(both, old, 1.0)))
    return np.where(both & (moved < band), old, new)


def bptt_text(t_steps: int, reset_at: str, short: bool = False) -> str:
    """What one window of training is: ``truncated BPTT: T = 32, state carried across
    windows`` (or reset at each line, when the run resets its state after a newline)."""
    if short:
        return f"truncated BPTT, T = {t_steps}"
    if reset_at == "\n":
        state = "state reset at each line"
    elif reset_at:
        shown = sanitize(reset_at.replace("\n", "↵"))
        state = f"state reset after any of {shown}"
    else:
        state = "state carried across windows"
    return f"truncated BPTT: T = {t_steps}, {state}"


class GradPane(DrawnPane):
    """BPTT gradient magnitudes per timestep (log scale) plus a heat strip of their history.

    Feed it with :meth:`set_data`; it redraws only when data or size changed.
    """

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        """Create an empty pane (it shows a waiting message until data arrives)."""
        super().__init__(name=name, id=id, classes=classes)
        self._grad_t = np.zeros(0)
        self._grad_last_t = np.zeros(0)
        self._cell_grad: np.ndarray | None = None
        self._history = np.zeros((0, 0))
        self._history_steps = np.zeros((0, 2), np.int64)
        self._clip: float | None = None
        self._clip_share: float | None = None
        self._clip_steps = 0
        self._grad_norm = float("nan")
        self._extra = ""
        self._reset_at: str | None = None
        self._has_data = False
        self._range: tuple[int, int] | None = None
        self._scale: tuple[int, int] | None = None
        # The profiles as drawn (see `steady`) and the decades one braille dot (a quarter of a
        # row) spans in the last layout; the header's numbers use the exact profiles.
        self._drawn: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._band = 0.0

    def set_data(
        self,
        grad_t: np.ndarray,
        grad_last_t: np.ndarray,
        history: np.ndarray,
        clip: float | None,
        clip_share: float | None,
        grad_norm: float,
        extra: str = "",
        scale: tuple[int, int] | None = None,
        clip_steps: int = 0,
        *,
        history_steps: np.ndarray | None = None,
        cell_grad: np.ndarray | None = None,
        reset_at: str | None = None,
    ) -> None:
        """Replace the displayed gradients.

        Args:
            grad_t: (T,) norm of the gradient of the window's T losses, summed, at h_t;
                index 0 is t=1 (oldest).
            grad_last_t: (T,) norm of the gradient of the last step's loss alone at h_t, on
                the same scale: it is one term of grad_t's sum, and equals grad_t at t=T.
            history: (K, T) ``grad_last_t`` rows over the run, its first row first; K may be 0.
            clip: gradient-norm clipping threshold, or ``None`` when clipping is off.
            clip_share: the share (0..1) of the last `clip_steps` updates that were clipped;
                None when not known.
            grad_norm: global norm of the latest parameter gradient.
            extra: short plain text appended to the header.
            scale: fixed (lo, hi) decade exponents for the bars and the heat strip, so two
                panes side by side share one log scale (see `decade_range`); None adapts to
                the profiles. The strip always uses the bars' scale; older values outside it
                take its end colours, and its legend then says "≤" or "≥".
            clip_steps: how many recent steps `clip_share` counts.
            history_steps: (K, 2) the first and last training step of each history row;
                None: one step per row, numbered from 1.
            cell_grad: (T,) the LSTM's cell-state gradient, norm of the gradient of the
                window's T losses, summed, at c_t (grad_t's loss, at c_t instead of h_t);
                None for cells without one.
            reset_at: the characters after which the run resets its state ("" for none);
                None leaves out the line that says so.
        """
        g = np.array(grad_t, dtype=np.float64).ravel()
        gl = np.array(grad_last_t, dtype=np.float64).ravel()
        t = max(g.size, gl.size)
        g = np.pad(g, (0, t - g.size), constant_values=np.nan)  # the shorter one: NaN-padded
        gl = np.pad(gl, (0, t - gl.size), constant_values=np.nan)
        cg = None
        if cell_grad is not None:
            cg = np.array(cell_grad, dtype=np.float64).ravel()[:t]
            cg = np.pad(cg, (0, t - cg.size), constant_values=np.nan)
        h = np.array(history, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != t:
            h = np.zeros((0, t))
        hs = None if history_steps is None else np.array(history_steps, dtype=np.int64)
        if hs is None or hs.shape != (h.shape[0], 2):
            hs = np.repeat(np.arange(1, h.shape[0] + 1)[:, None], 2, axis=1)
        self._grad_t, self._grad_last_t, self._cell_grad = g, gl, cg
        self._history, self._history_steps = h, hs
        self._clip = None if clip is None else float(clip)
        self._clip_share = None if clip_share is None else float(clip_share)
        self._clip_steps = int(clip_steps)
        self._grad_norm = float(grad_norm)
        self._extra = sanitize(str(extra).replace("\n", " "))
        self._reset_at = reset_at
        self._has_data = t > 0
        self._scale = scale
        own = decade_range(g, gl, *([] if cg is None else [cg]))  # the strip saturates
        self._range = scale if scale is not None else self._next_range(own)
        d = self._drawn
        self._drawn = (
            steady(g, None if d is None else d[0], self._band),
            steady(gl, None if d is None else d[1], self._band),
            None if cg is None else steady(cg, None if d is None else d[2], self._band),
        )
        self.changed()

    def clear(self) -> None:
        """Back to the waiting message: the run has taken no step yet (after a reset)."""
        if self._has_data:
            self._has_data, self._drawn, self._range = False, None, None
            self.changed()

    def _next_range(self, new: tuple[int, int] | None) -> tuple[int, int] | None:
        """The bar scale's decade range, with hysteresis so it does not flicker.

        It grows at once to take in new values, but only shrinks when the data has left more
        than one decade unused at that end.
        """
        old = self._range
        if new is None or old is None:
            return new if new is not None else old
        lo, hi = old
        new_lo, new_hi = new
        lo = new_lo if (new_lo < lo or new_lo > lo + 1) else lo
        hi = new_hi if (new_hi > hi or new_hi < hi - 1) else hi
        if hi - lo < MIN_DECADES:
            lo = hi - MIN_DECADES
        return lo, hi

    # ------------------------------------------------------------- pieces

    def _ratio_text(self, short: bool = False) -> Text:
        """``ratio g_last[1]/g_last[T] = ...`` token (``ratio ...`` when short)."""
        gl = self._grad_last_t
        first, last = float(gl[0]), float(gl[-1])
        t = Text("ratio " if short else "ratio g_last[1]/g_last[T] = ")
        if first == 0 and math.isfinite(last) and last != 0:  # underflowed on the way back
            t.append("0", Style(bold=True))
            t.append(" (too small for float32)" if not short else " (underflow)")
        elif math.isfinite(first) and math.isfinite(last) and last != 0:
            t.append(format_sci(first / last), Style(bold=True))
        else:
            t.append("n/a", rgb_style(self.colours.bad, bold=True))
        return t

    def _header_tokens(
        self, with_extra: bool = True, short: bool = False, width: int | None = None
    ) -> list[Text]:
        """Header tokens: ratio, |g|, clip setting, how often clipping fired, extra. Given a
        `width`, a ratio that would not fit it whole comes in its short form: "ratio 0
        (underflow)" reads where a cut "= 0 (too sm..." would leave the reader guessing."""
        ratio = self._ratio_text(short)
        if width is not None and ratio.cell_len > width:
            ratio = self._ratio_text(short=True)
        toks = [ratio]
        gn = Text("|g| ")
        bad = not math.isfinite(self._grad_norm)
        number = rgb_style(self.colours.bad, bold=True) if bad else Style(bold=True)
        gn.append(format_sci(self._grad_norm), number)
        if not short:
            gn.append(" (norm of all gradients)")
        toks.append(gn)
        toks.append(Text("clipping off" if self._clip is None else f"clip at {self._clip:g}"))
        toks.extend(self._clipped_tokens(short))
        if self._extra and with_extra:
            toks.append(Text(self._extra))  # e.g. the spectral norm: data, not a footnote
        return toks

    def _clipped_tokens(self, short: bool = False) -> list[Text]:
        """``clipped 37% of the last 100 steps``, when clipping is on and steps were counted."""
        share = self._clip_share
        if self._clip is None or share is None or self._clip_steps <= 0:
            return []
        fired = Text("clipped ")
        pct = f"{100 * share:.0f}%"
        red = rgb_style(self.colours.bad, bold=True)
        fired.append(pct, red if share > 0 else Style(bold=True))
        if not short:
            steps = "step" if self._clip_steps == 1 else f"{self._clip_steps} steps"
            fired.append(f" of the last {steps}")
        return [fired]

    def _key_tokens(self, short: bool = False) -> list[Text]:
        """Key tokens: the bars, the grad_last_t line and, for the LSTM, the cell-state line."""
        c = self.colours
        k1 = Text()
        k1.append(BAR_GLYPH, rgb_style(c.grad_t))
        k1.append(" grad_t" if short else " grad_t (sum of all T losses)")
        k2 = Text()
        k2.append(LAST_GLYPH, rgb_style(c.grad_last, bold=True))
        k2.append(" grad_last_t" if short else " grad_last_t (loss at t=T only)")
        toks = [k1, k2]
        if self._cell_grad is not None:
            k3 = Text()
            k3.append(CELL_GLYPH, rgb_style(c.cell_grad))
            k3.append(" dL/dc_t" if short else " dL/dc_t (cell state, all T losses)")
            toks.append(k3)
        return toks

    def _mark_tokens(
        self, group: int, any_bad: bool, any_zero: bool, short: bool = False
    ) -> list[Text]:
        """What else the key must say: column grouping (0: the axis says it), "!" and "0"."""
        toks = []
        if group > 1:
            note = f"{group} steps/col" if short else f"each column = {group} steps"
            toks.append(Text(note, Style(italic=True)))
        if any_bad:
            toks.append(Text(f"{BAD_CHAR} = nan/inf", rgb_style(self.colours.bad, bold=True)))
        if any_zero:
            toks.append(Text(f"{ZERO_CHAR} = zero", Style(dim=True)))
        return toks

    def _variants(
        self, width: int, marks: list[Text], short_marks: list[Text]
    ) -> Iterator[list[Text]]:
        """Header-and-key lines, from the richest to the most compact, made as asked. The
        compact ones are packed (a short token fills a gap in an earlier line) and offered
        only if no token is cut; the last is offered anyway."""
        head = partial(self._header_tokens, width=width)
        full, short = self._key_tokens(), self._key_tokens(short=True)
        yield flow(head(), width) + flow(full + marks, width)
        yield flow(head(False), width) + flow(full + marks, width)
        yield flow(head(False) + full + marks, width)
        ratio, norm, clip, *clipped = head(False)
        ratio_s, norm_s, _, *clipped_s = head(False, short=True)
        compact = [
            [ratio, norm, clip, *clipped, *short, *marks],
            [ratio, norm_s, clip, *clipped, *short, *marks],
            [ratio_s, norm_s, clip, *clipped_s, *short, *short_marks],
            [ratio_s, norm_s, *(clipped_s or [clip]), *short, *short_marks],
        ]
        for tokens in compact:
            if max(t.cell_len for t in tokens) <= width:
                yield pack(tokens, width)
        yield pack([ratio_s, norm_s, *(clipped_s or [clip]), *short_marks], width)

    # ------------------------------------------------------------- drawing

    def build_text(self, width: int, height: int) -> Text:
        """Build the pane for a ``width`` x ``height`` cell area (no caching)."""
        return join_lines(self.build_lines(width, height))

    def build_lines(self, width: int, height: int) -> list[Text]:
        """The pane's rows for a ``width`` x ``height`` cell area (no caching)."""
        if width <= 0 or height <= 0:
            return []
        if not self._has_data:
            return [Text("waiting for gradients"[:width], Style(dim=True, italic=True))]

        t_steps = self._grad_t.size
        lo, hi = self._range if self._range is not None else (-2, 0)
        label_w = max(len(format_decade(lo)), len(format_decade(hi))) + 1
        avail = width - label_w

        if width < MIN_WIDTH or height < MIN_HEIGHT or avail < 4:
            # Too small for bars: the numbers only.
            return flow(self._header_tokens(width=width), width)[:height]

        group = 1 if t_steps <= avail else math.ceil(t_steps / avail)
        ncols = math.ceil(t_steps / group)
        edges = column_edges(ncols, avail)  # the columns share the whole width
        widths = np.diff(edges)

        g, gl, cg = (
            self._drawn if self._drawn is not None else (self._grad_t, self._grad_last_t, None)
        )
        bars = group_columns(g, group)
        last = group_columns(gl, group)
        cell = None if cg is None else group_columns(cg, group)
        statuses = [bars[1], last[1]] + ([] if cell is None else [cell[1]])
        any_bad = any(bool((s == BAD).any()) for s in statuses)
        any_zero = bool((bars[1] == ZERO).any() or (last[1] == ZERO).any())

        # The axis row carries one note if it fits: the grouping and the BPTT window together,
        # the grouping alone, or the BPTT window.
        notes = []
        group_long = f"each column = {group} steps" if group > 1 else ""
        bptt = None if self._reset_at is None else bptt_text(t_steps, self._reset_at)
        if group_long and bptt:
            notes += [f"{group_long} · {b}" for b in (bptt, bptt_text(t_steps, "", short=True))]
        if group_long:
            notes += [group_long, f"{group} steps/col"]
        elif bptt:
            notes += [bptt, bptt_text(t_steps, "", short=True)]
        axis_room = avail - len("t=1") - len(f"t={t_steps}")
        on_axis = [n for n in notes if len(n) + 4 <= axis_room]
        key_group = 0 if any("column" in n for n in on_axis) else group  # 0: on the axis

        # Vertical budget: the richest header/key that leaves the profile MIN_BARS rows.
        marks = self._mark_tokens(key_group, any_bad, any_zero)
        short_marks = self._mark_tokens(key_group, any_bad, any_zero, short=True)
        for header in self._variants(width, marks, short_marks):
            remain = height - len(header) - 1  # 1 = the axis row
            if remain >= MIN_BARS:
                break
        hist = self._history
        strip = 0  # lines of heat strip, besides its two labelled lines
        if hist.shape[0] > 0 and remain >= MIN_BARS + 5:
            strip = min(math.ceil(hist.shape[0] / 2), int(remain * HEAT_SHARE) - 2)
        bars_h = remain - (strip + 2 if strip >= 2 else 0)
        if bars_h < 1:
            return header[:height]

        self._band = (hi - lo) / (4 * bars_h)  # one braille dot, for the next data
        colours: Palette = self.colours
        lines: list[Text] = list(header)
        lines += bar_rows(bars, last, cell, lo, hi, bars_h, label_w, widths, colours)
        lines.append(x_axis(t_steps, edges, label_w, on_axis))
        if strip >= 2:
            lines += heat_rows(
                hist, self._history_steps, group, strip, label_w, widths, (lo, hi), colours
            )
        return lines[:height]


def pack(tokens: list[Text], width: int, sep: str = "  ") -> list[Text]:
    """Like `flow`, but each token goes into the first line with room for it, so short tokens
    fill the gaps that long ones leave; lines are cut to `width` with an ellipsis."""
    lines: list[Text] = []
    for tok in tokens:
        if not tok.cell_len:
            continue
        for line in lines:
            if line.cell_len + len(sep) + tok.cell_len <= width:
                line.append(sep)
                line.append_text(tok)
                break
        else:
            lines.append(tok.copy())
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return lines
