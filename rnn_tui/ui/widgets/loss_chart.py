"""Loss curve widget: smoothed training loss and held-out loss against step, drawn with plotext,
under a dotted line at ln V, the loss of guessing uniformly among the V characters.

Flat reference lines, once the trainer has worked them out (`protocol.Baselines`): the counting
baseline, the held-out loss of the best n-gram model of the corpus ("counting: 5-gram 1.35"),
so a class sees when the network beats counting; and on a long-lag corpus its two floors,
2 ln K / L for a model that counts but forgets the key and ln K / L for one that recalls it
(rnn_tui.engine.floors), all in the palette's `counting` colour, each labelled at its left end
where the curves, falling from ln V, have long left.

With the floors the y axis is logarithmic. The floors (0.050 and 0.025 nats/char at lag 80) lie
a factor of two apart, a hundred times below ln V: on a linear axis from 0 to ln V they share
the bottom row, and a zoomed axis would lose ln V and the start of the curves. On a log axis a
factor of two is always the same height, so the floors, the counting line and ln V each get
their own row, and the last hundredths of a nat, where the LSTM and the RNN part, are as tall
as the first nats.

Each curve has the colour of its meaning (`colours.Palette`): the training loss, the held-out loss,
or in compare mode the run. The held-out curve is always drawn in beads (•), the training curve
as a solid line, so that a run's two curves are told apart without a second colour. On a light
ground the solid line is drawn in quarter blocks, which a projector does not wash out.

Only plotext's public API is used: ``plotext.figure`` (its one master figure), ``plotext.terminal``,
``plotext.marker``, ``plotext.pixel`` and ``plotext.colorize``. plotext 6 has no public way to make a second figure, so
every chart shares the master: it is cleared completely and drawn in one go inside each build, on
the UI thread, so no chart ever sees what another left in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Text

from rnn_tui.engine.model import LN2
from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.colours import RGB, Palette, rgb_style
from rnn_tui.ui.widgets.drawn import DrawnPane, ansi_lines, flow, join_lines
from rnn_tui.ui.widgets.loss_axes import (
    axis_end,
    downsample,
    finite_pairs,
    format_loss_tick,
    format_step,
    log_ticks,
    nice_ticks,
)

MIN_PLOT_WIDTH = 20
MIN_PLOT_HEIGHT = 6

WAITING_TEXT = "waiting for the first step"
TRAIN_GLYPH = "━"  # the legend's sample of a training curve: a solid line
HELD_OUT_GLYPH = "•"  # the held-out curve's bead, in the chart and in the legend
BRAILLE_DOT_ROWS = "⠁⠂⠄⡀"  # one braille dot in a cell's left column, top row to bottom


def uniform_loss(vocab_size: int | None) -> float | None:
    """ln V: the loss, in nats/char, of a model that gives each of V characters 1/V. None when
    V is unknown."""
    return math.log(vocab_size) if vocab_size is not None and vocab_size >= 1 else None


def uniform_label(value: float, room: int) -> str:
    """The label written on the ln V line, as long as `room` cells allow."""
    long = f"uniform guess ln V = {value:.2f}"
    return long if len(long) + 4 <= room else f"ln V = {value:.2f}"


def counting_label(n: int, value: float, room: int) -> str:
    """The label written on the counting-baseline line, as long as `room` cells allow."""
    long = f"counting: {n}-gram {format_level(value)}"
    return long if len(long) + 4 <= room else f"{n}-gram {format_level(value)}"


def floor_label(recalls: bool, value: float, room: int) -> str:
    """The label of a long-lag floor: the model that recalls the key, or the one that forgets."""
    word = "recalls" if recalls else "forgets"
    long = f"{word} the key {format_level(value)}"
    return long if len(long) + 4 <= room else f"{word} {format_level(value)}"


def format_level(v: float) -> str:
    """A reference loss with two significant decimals at least: 1.35, 0.113 -> 0.11, 0.050."""
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


@dataclass(frozen=True)
class _Reference:
    """A flat labelled line across the chart: a loss level to compare the curves with."""

    value: float  # nats/char
    label: str  # written on the line
    role: str  # its colour's role in the palette
    right: bool  # the label at the right end (ln V, above the curves' start) or the left


@dataclass(frozen=True)
class _Series:
    """One curve: its legend label, finite points, colour role, and its latest raw value."""

    label: str
    xs: np.ndarray
    ys: np.ndarray
    role: str  # its colour's role in the palette: "train", "held_out", "runs[0]", ...
    held_out: bool  # drawn in beads, not as a solid line
    raw_last: float | None  # the last value as given (may be NaN: shown in the bad colour)
    with_unit: bool = False  # say "nats/char" after the value in the title

    @classmethod
    def make(
        cls,
        label: str,
        steps: np.ndarray,
        values: np.ndarray,
        role: str,
        held_out: bool,
        with_unit: bool = False,
    ) -> _Series:
        arr = np.asarray(values, dtype=np.float64).ravel()
        xs, ys = finite_pairs(steps, arr)
        last = float(arr[-1]) if arr.size else None
        return cls(label, xs, ys, role, held_out, last, with_unit)

    def rgb(self, colours: Palette) -> RGB:
        """The curve's colour in `colours`."""
        return colours.roles()[self.role]

    @property
    def glyph(self) -> str:
        """How the legend shows the curve's line: solid, or beads."""
        return HELD_OUT_GLYPH if self.held_out else TRAIN_GLYPH


class LossChart(DrawnPane):
    """Live loss curve: smoothed training loss and held-out loss (nats/char) against step.

    Call :meth:`set_data` from the UI thread whenever new numbers arrive; the chart redraws only
    when the data or the widget size changed. Given the vocabulary size V, it also draws a
    labelled dotted line at ln V, which the y range always includes.
    """

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
        vocab_size: int | None = None,
    ) -> None:
        """Create an empty chart (it shows "waiting for the first step" until data arrives).
        `vocab_size`: the corpus's V, for the ln V line; None draws no line."""
        super().__init__(name=name, id=id, classes=classes)
        self.uniform = uniform_loss(vocab_size)  # ln V, nats/char, or None
        self.counting: tuple[int, float] | None = None  # (n, held-out loss) of the n-gram model
        self.floors: tuple[float, float] | None = None  # long-lag (forgets, recalls), nats/char
        self._series: list[_Series] = []  # what is drawn, in drawing order
        self._title_extra = ""
        self._has_any = False

    # ------------------------------------------------------------------ data

    def set_data(
        self,
        steps: np.ndarray,
        train: np.ndarray,
        val_steps: np.ndarray,
        val: np.ndarray,
        title_extra: str = "",
    ) -> None:
        """Replace the plotted data.

        Args:
            steps: step numbers of the training-loss points.
            train: smoothed training loss at those steps, in nats/char.
            val_steps: step numbers at which held-out loss was measured.
            val: held-out loss at those steps, in nats/char.
            title_extra: short text appended to the title line (plain text, never markup).
        """
        self._set_series(
            [
                _Series.make("train", steps, train, "train", False, with_unit=True),
                _Series.make("held-out", val_steps, val, "held_out", True),
            ],
            title_extra,
        )

    def set_runs(
        self,
        runs: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        title_extra: str = "",
    ) -> None:
        """Several runs on one chart (compare mode): each `(name, steps, train, val_steps, val)`
        gets its run's colour (the first two runs only); its held-out curve is drawn in beads."""
        series = []
        for i, (name, steps, train, val_steps, val) in enumerate(runs[:2]):
            role = f"runs[{i}]"
            series.append(_Series.make(f"{name} train", steps, train, role, False))
            series.append(_Series.make(f"{name} held-out", val_steps, val, role, True))
        self._set_series(series, title_extra)

    def set_baselines(
        self,
        ngram_n: int = 0,
        ngram_loss: float | None = None,
        forgets: float | None = None,
        recalls: float | None = None,
    ) -> None:
        """The flat reference lines besides ln V (plain values of `protocol.Baselines`): the
        counting baseline, an n-gram model's held-out loss (drawn when `ngram_loss` is a
        finite number above 0), and a long-lag corpus's two floors (drawn, on a log axis, when
        both are known). Redraws only when they changed."""

        def level(v: float | None) -> float | None:
            return float(v) if v is not None and math.isfinite(v) and v > 0 else None

        loss = level(ngram_loss)
        counting = (int(ngram_n), loss) if loss is not None else None
        low, high = level(recalls), level(forgets)
        floors = (high, low) if low is not None and high is not None else None
        if (counting, floors) != (self.counting, self.floors):
            self.counting, self.floors = counting, floors
            self.changed()

    def _references(self, room: int) -> list[_Reference]:
        """The flat lines to draw, most important first (a label that would share a row
        with one before it is left out): the floors, the counting line, ln V."""
        refs = []
        if self.floors is not None:
            forgets, recalls = self.floors
            refs.append(_Reference(recalls, floor_label(True, recalls, room), "counting", False))
            refs.append(_Reference(forgets, floor_label(False, forgets, room), "counting", False))
        if self.counting is not None:
            n, loss = self.counting
            refs.append(_Reference(loss, counting_label(n, loss, room), "counting", False))
        if self.uniform is not None:
            refs.append(
                _Reference(self.uniform, uniform_label(self.uniform, room), "uniform", True)
            )
        return refs

    def _set_series(self, series: list[_Series], title_extra: str) -> None:
        self._series = series
        self._has_any = any(s.raw_last is not None for s in series)
        self._title_extra = sanitize(str(title_extra).replace("\n", " "))
        self.changed()

    def _title_parts(self, compact: int = 0) -> list[Text]:
        """Title tokens: coloured legend entries with the latest values in nats and bits.

        ``compact`` 0 is the full form ("train 1.83 nats/char (2.64 bits)") plus the extra text;
        1 drops the extra text, 2 also the "nats/char" unit, 3 shortens "bits" to "b", 4 drops
        the bits, 5 keeps only each run's training curve, named by its run ("━ rnn 0.05  ━ lstm
        0.03"): a comparison in a short, narrow chart still names every run's colour.
        """
        parts: list[Text] = []
        colours = self.colours
        bits_word = " bits" if compact < 3 else "b"

        def value_text(v: float | None, with_unit: bool) -> str:
            if v is None:
                return "–"
            if not math.isfinite(v):
                return "nan" if math.isnan(v) else "inf"
            unit = " nats/char" if with_unit and compact < 2 else ""
            return f"{v:.2f}{unit}" + (f" ({v / LN2:.2f}{bits_word})" if compact < 4 else "")

        for series in self._series:
            value, label, rgb = series.raw_last, series.label, series.rgb(colours)
            if value is None or (compact >= 5 and series.held_out and len(self._series) > 2):
                continue
            t = Text()
            t.append(f"{series.glyph} ", rgb_style(rgb, bold=True))
            shown = label.split(" ", 1)[0] if compact >= 5 else label
            t.append(shown + " ", rgb_style(rgb, bold=True))
            bad = not math.isfinite(value)
            t.append(
                value_text(value, series.with_unit),
                rgb_style(colours.bad, bold=True) if bad else Style(bold=True),
            )
            parts.append(t)
        if self._title_extra and compact == 0:
            parts.append(Text(self._title_extra, style=Style(dim=True)))
        return parts

    def _title_lines(self, width: int, max_lines: int) -> list[Text]:
        """The most detailed title that fits in ``max_lines`` lines of ``width`` cells."""
        lines: list[Text] = []
        for compact in (0, 1, 2, 3, 4, 5):
            lines = flow(self._title_parts(compact), width)
            if len(lines) <= max_lines:
                return lines
        return lines[:max_lines]

    def build_text(self, width: int, height: int) -> Text:
        """Build the whole chart for a ``width`` x ``height`` cell area (no caching)."""
        return join_lines(self.build_lines(width, height))

    def build_lines(self, width: int, height: int) -> list[Text]:
        """The chart's rows for a ``width`` x ``height`` cell area (no caching)."""
        if width <= 0 or height <= 0:
            return []
        if not self._has_any:
            return [Text(WAITING_TEXT[:width], Style(dim=True, italic=True))]

        small = width < MIN_PLOT_WIDTH or height < MIN_PLOT_HEIGHT
        # One title line per curve when there are several runs and room; else one or two.
        lines = 1 if small or height < 8 else 2
        if self.floors is not None and height < 14:  # a short chart: its rows go to the floors
            lines = 1
        if len(self._series) > 2 and height >= 14:
            lines = len(self._series)
        title_lines = self._title_lines(width, lines)
        if small:
            # Too small for a plot: just the latest numbers.
            return title_lines[:height]

        plot_h = height - len(title_lines)
        body: list[Text]
        if not any(series.xs.size for series in self._series):
            body = [Text("no finite loss values yet", style=Style(dim=True, italic=True))]
        else:
            body = self._build_plot(width, plot_h)
        return [*title_lines, *body]

    def _build_plot(self, width: int, height: int) -> list[Text]:
        """Draw both curves with plotext at exactly ``width`` x ``height``: the ANSI-parsed
        rows."""
        log = self.floors is not None  # see the module's docstring
        xs_all = np.concatenate([series.xs for series in self._series])
        ys_all = np.concatenate([series.ys for series in self._series])
        refs = self._references(width)
        ys_all = np.append(ys_all, [r.value for r in refs])  # every reference line in view
        if log:  # a loss is >= 0; a zero (or a rounding below it) sits at the axis's bottom
            bottom = 0.8 * min(r.value for r in refs if r.role == "counting")
            ys_all = np.log10(np.maximum(ys_all, bottom))
        x_lo, x_hi = float(xs_all.min()), axis_end(float(xs_all.max()))
        y_lo, y_hi = float(ys_all.min()), float(ys_all.max())
        if x_hi <= x_lo:
            x_lo, x_hi = x_lo - 1.0, x_hi + 1.0
        if y_hi - y_lo < 1e-6:
            y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
        else:
            pad = 0.04 * (y_hi - y_lo)
            y_lo, y_hi = y_lo - pad, y_hi + pad

        def y_of(v: float) -> float:
            """Where a loss goes on the y axis: itself, or its log10 on a log axis."""
            return math.log10(max(v, 10.0**y_lo)) if log else v

        canvas_h = max(1, height - 3)  # frame top/bottom and the x tick labels

        def rows_down(v: float) -> tuple[float, int]:
            """Where a loss's line lies, in canvas rows from the top, and the row plotext
            writes a glyph or text at that height in."""
            at = (y_hi - y_of(v)) / (y_hi - y_lo) * (canvas_h - 1)
            return at, math.floor(at + 0.5)

        max_y_ticks = max(2, min(6, canvas_h // 2 + 1))
        if log:
            y_values = log_ticks(10.0**y_lo, 10.0**y_hi, max_y_ticks)
            y_ticks = [math.log10(v) for v in y_values]
            y_labels = [f"{v:g}" for v in y_values]
        else:
            y_ticks = nice_ticks(y_lo, y_hi, max_y_ticks)
            y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
            y_labels = [format_loss_tick(v, y_step) for v in y_ticks]
        label_w = max((len(s) for s in y_labels), default=3)
        canvas_w = max(2, width - label_w - 2)
        x_ticks = nice_ticks(x_lo, x_hi, max(2, min(8, canvas_w // 10)))
        x_labels = [format_step(v) for v in x_ticks]
        refs = self._references(canvas_w)  # the same lines, labels fitted to the canvas

        import plotext as plt  # a fifth of a second: loaded on the first draw

        # The figure may be as large as the widget, whatever the size of the real terminal.
        plt.terminal.limit(False, False)
        fig = plt.figure
        fig.clear()
        fig.theme("simple")
        fig.plot_size(width, height)
        colours = self.colours
        line = colours.curve_marker  # braille dots, or quarter blocks on a projector's white
        # Braille and quarter-block cells hold 2 dot columns; one point per cell, joined by
        # lines, draws a smooth curve at half the cost of one point per dot column.
        max_points = canvas_w
        # The reference lines, before the curves, which are drawn over them: dotted, on the
        # curves' own scale, with one braille dot per cell or one (heavier) quarter block every
        # other cell.
        for ref in refs:
            ink = plt.pixel(foreground=colours.roles()[ref.role])
            y = y_of(ref.value)
            if line == "braille":  # a line of one-dot glyphs, its dot at the line's height
                at, row = rows_down(ref.value)
                dot = BRAILLE_DOT_ROWS[min(3, int((at - row + 0.5) * 4))]  # its quarter of row
                sig = fig.signal([x_lo, x_hi], [y, y], marker=plt.marker(dot, ink))
                fig.draw(sig.lines())  # two points: a glyph per cell, at a fraction of the cost
            else:
                n = max(2, canvas_w // 2)  # a glyph every other cell
                dots = plt.marker(line, ink)
                fig.draw(fig.signal(np.linspace(x_lo, x_hi, n).tolist(), [y] * n, marker=dots))
        for series in self._series:
            if series.xs.size == 0:
                continue
            dx, dy = downsample(series.xs, series.ys, max_points, x_lo, x_hi)
            if log:
                dy = np.log10(np.maximum(dy, 10.0**y_lo))
            ink = plt.pixel(foreground=series.rgb(colours))
            mark = plt.marker(HELD_OUT_GLYPH if series.held_out else line, ink)
            sig = fig.signal(dx.tolist(), dy.tolist(), marker=mark)
            if dx.size > 1:
                sig.lines()
            fig.draw(sig)
        # Each line's label on its row, in its colour, over the curves (at the left end, a
        # falling curve crosses the row in a cell or two). A row holds one label: one whose row
        # an earlier, more important label has goes on the other row within one row of its
        # line's exact height, if that one is free, and is left out if not.
        taken: set[int] = set()
        for ref in refs:
            at, near = rows_down(ref.value)
            other = near + 1 if at > near else near - 1  # the next nearest
            free = [r for r in (near, other) if 0 <= r < canvas_h and r not in taken]
            if not free or abs(free[0] - at) >= 1:
                continue
            row = free[0]
            taken.add(row)
            ink = plt.pixel(foreground=colours.roles()[ref.role])
            label = plt.colorize(ref.label[: canvas_w - 1], ink)
            y = y_hi - row / max(1, canvas_h - 1) * (y_hi - y_lo)  # that row's centre
            x = x_hi if ref.right else x_lo
            fig.draw(fig.text(x, y, label, alignment="right" if ref.right else "left"))
        fig.ruler("x").lim(x_lo, x_hi)
        fig.ruler("y").lim(y_lo, y_hi)
        fig.ruler("x").ticks(x_ticks, x_labels)
        fig.ruler("y").ticks(y_ticks, y_labels)
        ansi = fig.build().string().rstrip("\n")
        return ansi_lines(ansi)
