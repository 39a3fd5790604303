"""Gradient pane: per-timestep gradient magnitudes of backprop-through-time, on a log scale.

Layout, top to bottom::

    ratio g_last[1]/g_last[T] = 3.2e-05  |g| = 0.84  clip 5.0  CLIPPED
    █ grad_t  ━ grad_last_t  each column = 3 steps
    1e0 ┤ ▂▄▆███...          bars: grad_t (blue); ━ marker: grad_last_t (orange)
    1e-4┤ ...
        t=1           t=50
    old ▀▀▀▀...              heat strip of grad_last_t history, newest row at the BOTTOM
    now ▀▀▀▀...
    heat 1e-8 ▆▆▆▆ 1e0

Everything is drawn by hand with Rich styles (no plotext), so a redraw costs a few ms.
"""

from __future__ import annotations

import math

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Span, Text

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.drawn import DrawnPane, flow

BAR_RGB = (50, 110, 190)
"""grad_t bars (a muted blue, so the orange grad_last_t marks stand out on top of them)."""
LAST_RGB = (255, 150, 40)
"""grad_last_t marker (orange)."""
BAD_RGB = (255, 0, 255)
"""Non-finite values in the heat strip (magenta, outside the heat palette)."""
ZERO_RGB = (40, 40, 40)
"""Exact zeros in the heat strip (near black)."""

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
EIGHTHS = " ▁▂▃▄▅▆▇█"
MARKER_CHAR = "━"
BAD_CHAR = "!"
ZERO_CHAR = "0"

# Column status codes.
OK, ZERO, BAD = 0, 1, 2

MIN_WIDTH = 16
MIN_HEIGHT = 5
MIN_DECADES = 2


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


def _color(rgb: tuple[int, int, int]) -> Color:
    """Rich true colour."""
    return Color.from_rgb(*rgb)


_STYLE_CACHE: dict[tuple[object, object, bool], Style] = {}


def _style(
    fg: tuple[int, int, int] | None, bg: tuple[int, int, int] | None = None, bold: bool = False
) -> Style:
    """Cached Rich style for a (fg, bg) pair of RGB tuples."""
    key = (fg, bg, bold)
    style = _STYLE_CACHE.get(key)
    if style is None:
        style = Style(
            color=_color(fg) if fg else None, bgcolor=_color(bg) if bg else None, bold=bold
        )
        _STYLE_CACHE[key] = style
    return style


class _Line:
    """Builds one line of Text, merging consecutive cells that share a style into one span.

    Much cheaper than one ``Text.append`` per cell when a pane has thousands of cells.
    """

    __slots__ = ("parts", "spans", "pos", "style", "start")

    def __init__(self) -> None:
        """Start an empty line."""
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0
        self.style: Style | None = None
        self.start = 0

    def add(self, s: str, style: Style | None) -> None:
        """Append ``s`` drawn in ``style`` (``None`` = the widget's own style)."""
        if style is not self.style:
            self._close()
            self.style = style
            self.start = self.pos
        self.parts.append(s)
        self.pos += len(s)

    def _close(self) -> None:
        """Record the span of the current run."""
        if self.style is not None and self.pos > self.start:
            self.spans.append(Span(self.start, self.pos, self.style))

    def text(self) -> Text:
        """The finished line."""
        self._close()
        self.style = None
        return Text("".join(self.parts), spans=self.spans, no_wrap=True, overflow="crop", end="")


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
        self._clipped = False
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
        clipped: bool,
        grad_norm: float,
        extra: str = "",
        scale: tuple[int, int] | None = None,
    ) -> None:
        """Replace the displayed gradients.

        Args:
            grad_t: (T,) norm of the total gradient reaching h_t; index 0 is t=1 (oldest).
            grad_last_t: (T,) norm of the last step's loss gradient carried back to h_t.
            history: (K, T) recent ``grad_last_t`` rows, oldest row first; K may be 0.
            clip: gradient-norm clipping threshold, or ``None`` when clipping is off.
            clipped: whether the latest update was clipped.
            grad_norm: global norm of the latest parameter gradient.
            extra: short plain text appended to the header.
            scale: fixed (lo, hi) decade exponents for the bars and the heat strip, so two
                panes side by side share one log scale (see `decade_range`); None adapts.
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
        self._clipped = bool(clipped)
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
        """Header tokens: ratio, |g|, clip setting, CLIPPED flag, extra."""
        toks = [self._ratio_text()]
        gn = Text("|g| = ")
        bad = not math.isfinite(self._grad_norm)
        gn.append(format_sci(self._grad_norm), Style(bold=True, color="red" if bad else None))
        toks.append(gn)
        toks.append(Text("clip off" if self._clip is None else f"clip {self._clip:g}"))
        if self._clipped:
            toks.append(Text(" CLIPPED ", Style(color="red", bold=True, reverse=True)))
        if self._extra and with_extra:
            toks.append(Text(self._extra, Style(dim=True)))
        return toks

    def _key_tokens(
        self, group: int, any_bad: bool, any_zero: bool, legend: bool = True
    ) -> list[Text]:
        """Key tokens explaining bars, marker, column grouping and special markers."""
        k1 = Text()
        k1.append("█", _style(BAR_RGB))
        k1.append(" grad_t")
        k2 = Text()
        k2.append(MARKER_CHAR, _style(LAST_RGB, bold=True))
        k2.append(" grad_last_t")
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
        heat_rows = 0
        if hist.shape[0] > 0 and remain >= 8:  # the heat strip only if bars keep >= 4 rows
            heat_rows = min(math.ceil(hist.shape[0] / 2), (remain - 1) // 2)
        bars_h = remain - (heat_rows + 1 if heat_rows else 0)
        if bars_h < 1:
            lines = header[:height]
            return Text("\n", end="", no_wrap=True, overflow="crop").join(lines)

        lines: list[Text] = [*header, *key]
        lines.extend(
            self._bar_rows(
                bar_log, bar_status, last_log, last_status, lo, hi, bars_h, label_w, cell_w
            )
        )
        lines.append(self._x_axis(t_steps, ncols * cell_w, label_w))
        if heat_rows:
            lines.extend(self._heat_rows(hist, group, heat_rows, label_w, cell_w))
        out = Text("\n", end="", no_wrap=True, overflow="crop").join(lines[:height])
        return out

    def _bar_rows(
        self,
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
        """Bars of grad_t (eighth-block resolution) with a grad_last_t marker, log scale."""
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

        bar_style = _style(BAR_RGB)
        mark_style = _style(LAST_RGB, bold=True)
        mark_on_bar = _style(LAST_RGB, BAR_RGB, bold=True)
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
            line = _Line()
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

    @staticmethod
    def _x_axis(t_steps: int, bars_w: int, label_w: int) -> Text:
        """Row under the bars: t=1 at the left, t=T at the right."""
        left, right = "t=1", f"t={t_steps}"
        line = Text(" " * label_w, no_wrap=True, overflow="crop", end="")
        if len(left) + len(right) + 1 <= bars_w:
            line.append(left + " " * (bars_w - len(left) - len(right)) + right, Style(dim=True))
        else:
            line.append(right.rjust(max(bars_w, len(right))), Style(dim=True))
        return line

    @staticmethod
    def _heat_index(logv: np.ndarray, status: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Index into ``HEAT_PALETTE + [ZERO_RGB, BAD_RGB]`` for every history cell."""
        with np.errstate(invalid="ignore"):
            f = np.clip((logv - lo) / float(hi - lo), 0.0, 1.0)
        idx = np.round(np.nan_to_num(f) * (N_HEAT - 1)).astype(np.int64)
        idx[status == ZERO] = N_HEAT
        idx[status == BAD] = N_HEAT + 1
        return idx

    def _heat_rows(
        self, hist: np.ndarray, group: int, rows: int, label_w: int, cell_w: int
    ) -> list[Text]:
        """Half-block heat strip, two history rows per terminal row, newest at the bottom."""
        shown = hist[-2 * rows :]
        rng = self._scale or decade_range(shown)
        lo, hi = rng if rng is not None else (-2, 0)
        logv, status = group_columns(shown, group)
        k, ncols = logv.shape
        palette = [*HEAT_PALETTE, ZERO_RGB, BAD_RGB]
        idx = self._heat_index(logv, status, lo, hi)
        # Pad at the top so the newest row always sits in the bottom half of the last line.
        pad = 2 * math.ceil(k / 2) - k
        colors: list[list[tuple[int, int, int] | None]] = [[None] * ncols for _ in range(pad)]
        colors.extend([palette[i] for i in row] for row in idx.tolist())
        n_lines = len(colors) // 2
        out: list[Text] = []
        label_style = Style(dim=True)
        for j in range(n_lines):
            line = _Line()
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
                    line.add("▄" * cell_w, _style(cb))
                else:
                    line.add("▀" * cell_w, _style(ct, cb))
            out.append(line.text())

        # Colour scale.
        scale = Text(no_wrap=True, overflow="crop", end="")
        scale.append("heat".ljust(label_w), label_style)
        lo_s, hi_s = format_decade(lo), format_decade(hi)
        n = max(0, min(N_HEAT, ncols * cell_w - len(lo_s) - len(hi_s) - 2))
        scale.append(lo_s + " ", label_style)
        for i in range(n):
            rgb = HEAT_PALETTE[round(i / max(1, n - 1) * (N_HEAT - 1))]
            scale.append("█", _style(rgb))
        scale.append(" " + hi_s, label_style)
        out.append(scale)
        return out
