"""Gradient pane: per-timestep gradient magnitudes of backprop-through-time, on a log scale.

Layout, top to bottom::

    ratio g_last[1]/g_last[T] = 3.2e-05  |g| 0.84 (norm of all gradients)  clip at 5
    clipped 37% of the last 100 steps
    █ grad_t (sum of all T losses)  ━ grad_last_t (loss at t=T only)  each column = 3 steps
    1e0 ┤ ▂▄▆███...          bars: grad_t (blue); ━ marker: grad_last_t (orange)
    1e-4┤ ...
        t=1           t=50
    old ▀▀▀▀...              heat strip of grad_last_t history, newest row at the BOTTOM
    now ▀▀▀▀...
    heat 1e-8 ▆▆▆▆ 1e0

Everything is drawn by hand with Rich styles (no plotext), so a redraw costs a few ms.

The pieces live next door: `grad_scale` (decades, column grouping, number labels),
`grad_style` (colours, glyphs, line builder), `grad_bars` (bar profile and time axis) and
`grad_heat` (heat strip). This module lays them out; their names stay importable from here.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.colours import BAD_RGB, BAR_RGB, LAST_RGB, ZERO_RGB, rgb_style
from rnn_tui.ui.widgets.drawn import DrawnPane, flow
from rnn_tui.ui.widgets.grad_bars import bar_rows, x_axis
from rnn_tui.ui.widgets.grad_heat import (
    HEAT_PALETTE,
    N_HEAT,
    heat_index,
    heat_rows,
)
from rnn_tui.ui.widgets.grad_scale import (
    BAD,
    MIN_DECADES,
    OK,
    ZERO,
    decade_range,
    format_decade,
    format_sci,
    group_columns,
)
from rnn_tui.ui.widgets.grad_style import (
    BAD_CHAR,
    EIGHTHS,
    MARKER_CHAR,
    ZERO_CHAR,
    LineBuilder,
)

__all__ = [
    "BAD",
    "BAD_CHAR",
    "BAD_RGB",
    "BAR_RGB",
    "EIGHTHS",
    "HEAT_PALETTE",
    "LAST_RGB",
    "MARKER_CHAR",
    "MIN_DECADES",
    "MIN_HEIGHT",
    "MIN_WIDTH",
    "N_HEAT",
    "OK",
    "ZERO",
    "ZERO_CHAR",
    "ZERO_RGB",
    "GradPane",
    "LineBuilder",
    "bar_rows",
    "decade_range",
    "format_decade",
    "format_sci",
    "group_columns",
    "heat_index",
    "heat_rows",
    "rgb_style",
    "x_axis",
]

MIN_WIDTH = 16
MIN_HEIGHT = 5


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
        self._history = np.zeros((0, 0))
        self._clip: float | None = None
        self._clip_share: float | None = None
        self._clip_steps = 0
        self._grad_norm = float("nan")
        self._extra = ""
        self._has_data = False
        self._range: tuple[int, int] | None = None
        self._scale: tuple[int, int] | None = None

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
    ) -> None:
        """Replace the displayed gradients.

        Args:
            grad_t: (T,) norm of the gradient of the window's T losses, summed, at h_t;
                index 0 is t=1 (oldest).
            grad_last_t: (T,) norm of the gradient of the last step's loss alone at h_t, on
                the same scale: it is one term of grad_t's sum, and equals grad_t at t=T.
            history: (K, T) recent ``grad_last_t`` rows, oldest row first; K may be 0.
            clip: gradient-norm clipping threshold, or ``None`` when clipping is off.
            clip_share: the share (0..1) of the last `clip_steps` updates that were clipped;
                None when not known.
            grad_norm: global norm of the latest parameter gradient.
            extra: short plain text appended to the header.
            scale: fixed (lo, hi) decade exponents for the bars and the heat strip, so two
                panes side by side share one log scale (see `decade_range`); None adapts.
            clip_steps: how many recent steps `clip_share` counts.
        """
        g = np.array(grad_t, dtype=np.float64).ravel()
        gl = np.array(grad_last_t, dtype=np.float64).ravel()
        t = max(g.size, gl.size)
        g = np.pad(g, (0, t - g.size), constant_values=np.nan)  # the shorter one: NaN-padded
        gl = np.pad(gl, (0, t - gl.size), constant_values=np.nan)
        h = np.array(history, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != t:
            h = np.zeros((0, t))
        self._grad_t, self._grad_last_t, self._history = g, gl, h
        self._clip = None if clip is None else float(clip)
        self._clip_share = None if clip_share is None else float(clip_share)
        self._clip_steps = int(clip_steps)
        self._grad_norm = float(grad_norm)
        self._extra = sanitize(str(extra).replace("\n", " "))
        self._has_data = t > 0
        self._scale = scale
        self._range = scale if scale is not None else self._next_range(decade_range(g, gl))
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

    def _ratio_text(self) -> Text:
        """``ratio g_last[1]/g_last[T] = ...`` token."""
        gl = self._grad_last_t
        first, last = float(gl[0]), float(gl[-1])
        t = Text("ratio g_last[1]/g_last[T] = ")
        if math.isfinite(first) and math.isfinite(last) and last != 0:
            t.append(format_sci(first / last), Style(bold=True))
        else:
            t.append("n/a", Style(color="red", bold=True))
        return t

    def _header_tokens(self, with_extra: bool = True) -> list[Text]:
        """Header tokens: ratio, |g|, clip setting, how often clipping fired, extra."""
        toks = [self._ratio_text()]
        gn = Text("|g| ")
        bad = not math.isfinite(self._grad_norm)
        gn.append(format_sci(self._grad_norm), Style(bold=True, color="red" if bad else None))
        gn.append(" (norm of all gradients)")
        toks.append(gn)
        toks.append(Text("clipping off" if self._clip is None else f"clip at {self._clip:g}"))
        share = self._clip_share
        if self._clip is not None and share is not None and self._clip_steps > 0:
            fired = Text("clipped ")
            pct = f"{100 * share:.0f}%"
            fired.append(pct, Style(color="red", bold=True) if share > 0 else Style(bold=True))
            steps = "step" if self._clip_steps == 1 else f"{self._clip_steps} steps"
            fired.append(f" of the last {steps}")
            toks.append(fired)
        if self._extra and with_extra:
            toks.append(Text(self._extra, Style(dim=True)))
        return toks

    def _key_tokens(
        self, group: int, any_bad: bool, any_zero: bool, legend: bool = True
    ) -> list[Text]:
        """Key tokens explaining bars, marker, column grouping and special markers."""
        k1 = Text()
        k1.append("█", rgb_style(BAR_RGB))
        k1.append(" grad_t (sum of all T losses)")
        k2 = Text()
        k2.append(MARKER_CHAR, rgb_style(LAST_RGB, bold=True))
        k2.append(" grad_last_t (loss at t=T only)")
        toks = [k1, k2] if legend else []
        if group > 1:
            toks.append(Text(f"each column = {group} steps", Style(italic=True)))
        if any_bad:
            toks.append(Text(f"{BAD_CHAR} = nan/inf", Style(color="red", bold=True)))
        if any_zero:
            toks.append(Text(f"{ZERO_CHAR} = zero", Style(dim=True)))
        return toks

    # ------------------------------------------------------------- drawing

    def build_text(self, width: int, height: int) -> Text:
        """Build the pane for a ``width`` x ``height`` cell area (no caching)."""
        out = Text(no_wrap=True, overflow="crop", end="")
        if width <= 0 or height <= 0:
            return out
        if not self._has_data:
            out.append("waiting for gradients"[:width], Style(dim=True, italic=True))
            return out

        t_steps = self._grad_t.size
        lo, hi = self._range if self._range is not None else (-2, 0)
        label_w = max(len(format_decade(lo)), len(format_decade(hi))) + 1
        avail = width - label_w

        if width < MIN_WIDTH or height < MIN_HEIGHT or avail < 4:
            # Too small for bars: the numbers only.
            lines = flow(self._header_tokens(), width)[:height]
            return Text("\n", end="", no_wrap=True, overflow="crop").join(lines)

        group = 1 if t_steps <= avail else math.ceil(t_steps / avail)
        ncols = math.ceil(t_steps / group)
        cell_w = max(1, min(3, avail // ncols)) if group == 1 else 1

        bar_log, bar_status = group_columns(self._grad_t, group)
        last_log, last_status = group_columns(self._grad_last_t, group)
        hist = self._history
        any_bad = bool((bar_status == BAD).any() or (last_status == BAD).any())
        any_zero = bool((bar_status == ZERO).any() or (last_status == ZERO).any())
        # Vertical budget: use the most detailed header/key that leaves >= 3 rows of bars.
        flags = (group, any_bad, any_zero)
        variants = [
            (flow(self._header_tokens(), width), flow(self._key_tokens(*flags), width)),
            (flow(self._header_tokens(False), width), flow(self._key_tokens(*flags), width)),
            (flow(self._header_tokens(False) + self._key_tokens(*flags), width), []),
            (flow(self._header_tokens(False) + self._key_tokens(*flags, legend=False), width), []),
        ]
        for header, key in variants:
            remain = height - len(header) - len(key) - 1  # 1 = x-axis row
            if remain >= 3:
                break
        heat_h = 0
        if hist.shape[0] > 0 and remain >= 8:  # the heat strip only if bars keep >= 4 rows
            heat_h = min(math.ceil(hist.shape[0] / 2), (remain - 1) // 2)
        bars_h = remain - (heat_h + 1 if heat_h else 0)
        if bars_h < 1:
            lines = header[:height]
            return Text("\n", end="", no_wrap=True, overflow="crop").join(lines)

        lines: list[Text] = [*header, *key]
        lines.extend(
            bar_rows(bar_log, bar_status, last_log, last_status, lo, hi, bars_h, label_w, cell_w)
        )
        lines.append(x_axis(t_steps, ncols * cell_w, label_w))
        if heat_h:
            lines.extend(heat_rows(hist, group, heat_h, label_w, cell_w, self._scale))
        out = Text("\n", end="", no_wrap=True, overflow="crop").join(lines[:height])
        return out
