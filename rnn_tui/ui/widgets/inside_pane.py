"""Inside the cell: the gradient pane's place shows the recurrent matrix's eigenvalues, or
how saturated the gates are (`w` cycles gradients, spectrum, gates).

Spectrum, top to bottom::

    ρ 1.08 spectral radius  ‖W_hh‖₂ 2.31 spectral norm  5 of 64 outside
    outside the circle: repeated ×W_hh grows them (gradients can explode); inside: they shrink
    ┌──────────────┐   a plotext scatter: 2 x 2 braille dots per eigenvalue, the unit
    │   ⢀⡠⠤⠶⠤⢄    │   circle over them, equal scales on both axes (a circle looks round)
    ...

Gates (LSTM, GRU), one block per gate::

    forget f   shut 12% (<0.1)  open 48% (>0.9)  mean 0.81
    0 ▁▁▁▂▂▃▃▅▅██ 1          10 bins on [0, 1], the saturated end bins in bold

The numbers come from `rnn_tui.engine.inside`, computed in a worker thread (`ui/inside.py`);
this widget only draws them. The points and bars carry no colour of a meaning of their own:
they are drawn in the theme's text colour, the circle in its primary colour (a frame's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.color import Color

from rnn_tui.engine.inside import HIGH, LOW, GateStat, GateStats, Spectrum
from rnn_tui.ui.widgets.colours import RGB, rgb_style
from rnn_tui.ui.widgets.drawn import DrawnPane, ansi_lines, flow, join_lines
from rnn_tui.ui.widgets.grad_style import EIGHTHS
from rnn_tui.ui.widgets.spelled import spelled

SPECTRUM, GATES = "spectrum", "gates"
MIN_PLOT = (16, 5)  # (width, height) below which the spectrum shows its numbers only
ROOMY_PLOT = 7  # plot rows from which the meaning line is worth its row
CIRCLE_POINTS = 240  # points of the unit circle, joined by lines
MATRIX = {"rnn": "W_hh", "lstm": "W_hg", "gru": "U_n"}  # the recurrent matrix, by cell
MATRIX_WHAT = {
    "rnn": "",
    "lstm": "the candidate g's recurrent block",
    "gru": "the candidate n's recurrent block",
}
NO_GATES = "a vanilla RNN has no gates: its whole state goes through W_hh and tanh at every step"


@dataclass(frozen=True)
class InsideShown:
    """What one lane's inside view shows."""

    view: str = SPECTRUM  # SPECTRUM or GATES
    cell: str = ""  # "rnn", "lstm", "gru"; "" before any weights
    step: int = -1  # the training step of the weights; -1: none yet
    spectrum: Spectrum | None = None
    gates: GateStats | None = None
    lim: float = 0.0  # the scatter's half-width at least (shared by two lanes); 0: its own
    message: str = ""  # shown instead of the data when it says something went wrong


def sci(x: float) -> str:
    """A number as the pane writes it: 1.08, 23.4, 1.2e+03, or n/a."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.2g}"


class InsidePane(DrawnPane):
    """The spectrum or the gates of one lane's model; feed it with `show`."""

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.data = InsideShown(message="waiting for the trainer's first weights")

    def show(self, data: InsideShown) -> None:
        """Replace what is drawn."""
        self.data = data
        self.changed()

    def _ink(self) -> RGB:
        """The theme's text colour: the points and bars are drawn in it."""
        try:
            c = self.rich_style.color
            if c is not None:
                t = c.get_truecolor()
                return (t.red, t.green, t.blue)
        except Exception:  # no app (some tests): the palette's usual text colour
            pass
        return (0, 0, 0) if self.colours.name == "light" else (224, 224, 224)

    def _ring(self) -> RGB:
        """The unit circle's colour: the theme's primary colour, that of the panes' frames
        (the circle is a reference, like a frame, not data); grey without an app."""
        try:
            t = Color.parse(self.app.current_theme.primary).rgb
            return (t[0], t[1], t[2])
        except Exception:  # no app (some tests)
            return self.colours.uniform

    # ------------------------------------------------------------------ drawing

    def build_text(self, width: int, height: int) -> Text:
        return join_lines(self.build_lines(width, height))

    def build_lines(self, width: int, height: int) -> list[Text]:
        if width <= 0 or height <= 0:
            return []
        d = self.data
        if d.message:
            return flow([Text(d.message, Style(dim=True, italic=True))], width)[:height]
        if d.view == GATES:
            return self._gates_lines(width, height)
        return self._spectrum_lines(width, height)

    # -- spectrum

    def _spectrum_tokens(self, short: bool) -> list[Text]:
        s, d = self.data.spectrum, self.data
        if s is None:
            return [Text("no spectrum yet", Style(dim=True, italic=True))]
        matrix = MATRIX.get(d.cell, "W")
        bold = Style(bold=True)
        bad = rgb_style(self.colours.bad, bold=True)
        rho = Text(spelled(self, "ρ "))
        rho.append(sci(s.radius), bold if math.isfinite(s.radius) else bad)
        rho.append("" if short else " spectral radius")
        norm = Text(f"‖{matrix}‖₂ ")
        norm.append(sci(s.norm), bold if math.isfinite(s.norm) else bad)
        norm.append("" if short else " spectral norm")
        n = s.eigenvalues.size
        outside = Text(
            spelled(
                self, f"{s.outside}/{n} |λ|>1" if short else f"{s.outside} of {n} outside |λ|=1"
            )
        )
        return [rho, norm, outside]

    def _meaning(self, width: int, rows: int) -> list[Text]:
        """What the picture means, in at most `rows` lines of `width`, as long as they allow."""
        m = MATRIX.get(self.data.cell, "W")
        italic = Style(italic=True)
        for line in (
            f"outside the circle: repeated ×{m} grows a direction (gradients can explode);"
            " inside: it shrinks (they vanish)",
            f"|λ|>1: repeated ×{m} grows (explode) · |λ|<1: shrinks (vanish)",
            "|λ|>1 grows (explode) · |λ|<1 shrinks (vanish)",
            "|λ|>1 grows · |λ|<1 shrinks",
        ):
            words = spelled(self, line).split(" ")
            lines = flow([Text(w, italic) for w in words], width, sep=" ")
            if len(lines) <= rows and all(t.cell_len <= width for t in lines):
                return lines
        return [Text(spelled(self, "|λ|>1 grows"), italic)]

    def _spectrum_lines(self, width: int, height: int) -> list[Text]:
        d = self.data
        s = d.spectrum
        tall = height >= 16  # room for the long header and meaning on two lines each
        head = flow(self._spectrum_tokens(False), width)
        if len(head) > (2 if tall else 1):
            head = flow(self._spectrum_tokens(True), width)
        if len(head) > 1 and not tall:  # no room: the two numbers alone
            head = flow(self._spectrum_tokens(True)[:2], width)
        meaning = self._meaning(width, 2 if tall else 1)
        what = MATRIX_WHAT.get(d.cell, "")
        lines = [*head, *meaning]
        if what and height >= 14:
            lines.append(Text(f"{MATRIX.get(d.cell, 'W')}: {what}", Style(dim=True)))
        if height - len(lines) < ROOMY_PLOT and height - len(head) >= MIN_PLOT[1]:
            lines = head  # a small window: the picture before its caption (the help has it)
        plot_h = height - len(lines)
        if s is None or width < MIN_PLOT[0] or plot_h < MIN_PLOT[1]:
            return [*head, *meaning][:height]
        if not np.isfinite(s.eigenvalues).all():
            lines.append(Text("the weights hold nan/inf: no eigenvalues", Style(italic=True)))
            return lines[:height]
        return [*lines, *self._scatter(s, width, plot_h)]

    def _scatter(self, s: Spectrum, width: int, height: int) -> list[Text]:
        """The eigenvalues and the unit circle, plotext at exactly `width` x `height`."""
        lam = s.eigenvalues
        lim = max(1.15, 1.1 * s.radius, self.data.lim)  # the circle and every point in view
        ticks = [-1.0, 0.0, 1.0] if lim < 2.5 else [-float(int(lim)), 0.0, float(int(lim))]
        label_w = max(len(f"{t:g}") for t in ticks)  # the y labels' column
        canvas_w = max(2, width - label_w - 2)  # the frame takes 2 columns
        canvas_h = max(1, height - 3)  # the frame's two rows and the x labels
        # Equal scales: a braille dot is as wide as it is tall (2 x 4 dots in a cell about
        # twice as tall as it is wide), so each axis spans its dots at one rate.
        per_dot = max(2 * lim / (2 * canvas_w), 2 * lim / (4 * canvas_h))
        x_half, y_half = per_dot * canvas_w, per_dot * 2 * canvas_h

        import plotext as plt  # a fifth of a second: loaded on the first draw

        plt.terminal.limit(False, False)
        fig = plt.figure
        fig.clear()
        fig.theme("simple")
        fig.plot_size(width, height)
        theta = np.linspace(0, 2 * np.pi, CIRCLE_POINTS)
        # Each eigenvalue a square of 2 x 2 braille dots: finer than a whole cell, so the
        # circle still shows between them, and bolder than one dot.
        dx = per_dot * np.array([-0.5, 0.5, -0.5, 0.5])  # the four dots' offsets
        dy = per_dot * np.array([-0.5, -0.5, 0.5, 0.5])
        xs = (lam.real[:, None] + dx).ravel()  # (4H,)
        ys = (lam.imag[:, None] + dy).ravel()
        dots = plt.marker("braille", plt.pixel(foreground=self._ink(), style="bold"))
        fig.draw(fig.signal(xs.tolist(), ys.tolist(), marker=dots))
        # The circle last, so that it stays whole: a cell it crosses takes its colour, dots and
        # all. Two dots thick where there is room, one in a small plot.
        ring = plt.marker("braille", plt.pixel(foreground=self._ring()))
        radii = (1 - 0.5 * per_dot, 1 + 0.5 * per_dot) if canvas_h >= 12 else (1.0,)
        for r in radii:
            fig.draw(
                fig.signal(
                    (r * np.cos(theta)).tolist(), (r * np.sin(theta)).tolist(), marker=ring
                ).lines()
            )
        fig.ruler("x").lim(-x_half, x_half)
        fig.ruler("y").lim(-y_half, y_half)
        for axis, half in (("x", x_half), ("y", y_half)):
            shown = [t for t in ticks if abs(t) <= half]
            fig.ruler(axis).ticks(shown, [f"{t:g}" for t in shown])
        ansi = fig.build().string().rstrip("\n")
        return ansi_lines(ansi)

    # -- gates

    def _gates_lines(self, width: int, height: int) -> list[Text]:
        d = self.data
        if d.cell == "rnn":
            words = [Text(w, Style(italic=True)) for w in NO_GATES.split(" ")]
            return flow(words, width, sep=" ")[:height]
        g = d.gates
        if g is None or not g.gates:
            return [Text("no gates measured yet", Style(dim=True, italic=True))]
        head = Text(f"gates over {g.steps:,} held-out characters", Style(italic=True))
        meaning = [
            "near 0 a gate blocks, near 1 it passes: saturated gates switch rather than mix",
            "near 0 a gate blocks, near 1 it passes, rather than mix",
            "near 0 a gate blocks, near 1 it passes",
            "near 0 blocks · near 1 passes",
        ]
        if d.cell == "lstm":
            meaning = [
                "forget gate near 1: the cell, and its gradient, carried on to the next step",
                "forget gate near 1 carries the cell and its gradient on",
                "forget near 1 carries the gradient",
            ]
        lines = [head.copy()]
        lines[0].truncate(width, overflow="ellipsis")
        fits = [m for m in meaning if len(m) <= width]
        room = height - 1 - len(g.gates)  # what is left after one line per gate
        if fits and room >= len(g.gates) + 1:
            lines.append(Text(fits[0], Style(italic=True)))
            room -= 1
        bar_rows = max(0, min(4, room // len(g.gates)))
        for stat in g.gates:
            lines.append(self._gate_line(stat, width))
            if bar_rows:
                lines += self._hist_rows(stat, width, bar_rows)
        return lines[:height]

    def _gate_line(self, stat: GateStat, width: int) -> Text:
        """``forget f  shut 12% (<0.1)  open 48% (>0.9)  mean 0.81``, shortened to fit."""
        bold = Style(bold=True)
        low, high = f"{100 * stat.low:.0f}%", f"{100 * stat.high:.0f}%"
        forms = (
            (
                f"{stat.word} {stat.name}",
                "  shut ",
                low,
                f" (<{LOW:g})  open ",
                high,
                f" (>{HIGH:g})  mean {stat.mean:.2f}",
            ),
            (
                f"{stat.word} {stat.name}",
                f"  <{LOW:g} ",
                low,
                f"  >{HIGH:g} ",
                high,
                f"  mean {stat.mean:.2f}",
            ),
            (stat.name, " <.1 ", low, " >.9 ", high, spelled(self, f" μ{stat.mean:.2f}")),
        )
        for name, a, lo, b, hi, rest in forms:
            t = Text()
            t.append(name, bold)
            t.append(a)
            t.append(lo, bold)
            t.append(b)
            t.append(hi, bold)
            t.append(rest)
            if t.cell_len <= width:
                return t
        t.truncate(width, overflow="ellipsis")
        return t

    def _hist_rows(self, stat: GateStat, width: int, rows: int) -> list[Text]:
        """The gate's histogram, `rows` text rows of eighth blocks, the end bins (the shares
        below LOW and above HIGH) in bold; its bars scaled to the fullest bin."""
        n = stat.hist.size
        inner = width - 4  # "0 " before, " 1" after
        if inner < n:
            return []
        w = inner // n  # cells per bin
        top = float(stat.hist.max()) or 1.0
        levels = np.round(stat.hist / top * rows * 8).astype(int)  # eighths of the whole height
        ink = rgb_style(self._ink())
        ends = rgb_style(self._ink(), bold=True)
        out = []
        for r in range(rows - 1, -1, -1):  # from the top row down
            line = Text("0 " if r == 0 else "  ", Style(dim=True))
            for k, level in enumerate(levels):
                part = int(min(8, max(0, level - 8 * r)))  # this row's eighths of bin k
                glyph = EIGHTHS[part] if part else ("▁" if r == 0 and stat.hist[k] > 0 else " ")
                line.append(glyph * w, ends if k in (0, n - 1) else ink)
            if r == 0:
                line.append(" 1", Style(dim=True))
            out.append(line)
        return out
