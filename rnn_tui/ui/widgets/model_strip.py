"""The strip above the panes: the lesson of a preset, and what the model computes, as formulas.

    lesson: recall the key 80 steps back; ...                      (only with --preset)
    model  h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)   p = softmax(W_hy h_t + b_y)   loss = -ln p(next)

Each formula comes in a long and a short spelling; the strip uses the longest that fits the
width, so a class reads the same equations at 80 columns as at 200.
"""

from __future__ import annotations

from itertools import product

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from rnn_tui.textsafe import sanitize

STATE_UPDATE: dict[str, tuple[str, ...]] = {
    "rnn": (
        "h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)",
        "h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)",
        "h_t=tanh(W_hh h_{t-1}+W_xh x_t+b)",
    ),
    "lstm": (
        "c_t = f_t*c_{t-1} + i_t*g_t   h_t = o_t*tanh(c_t)   (f,i,o: sigmoid gates, g = tanh(...))",
        "c_t = f_t*c_{t-1} + i_t*g_t   h_t = o_t*tanh(c_t)",
        "c_t=f*c_{t-1}+i*g  h_t=o*tanh(c_t)",
    ),
    "gru": (
        "h_t = (1-z_t)*n_t + z_t*h_{t-1}   n_t = tanh(W_n x_t + r_t*(U_n h_{t-1}) + b_n)",
        "h_t = (1-z_t)*n_t + z_t*h_{t-1}   (z_t: update gate, n_t: candidate)",
        "h_t = (1-z_t)*n_t + z_t*h_{t-1}",
        "h_t=(1-z)*n_t+z*h_{t-1}",
    ),
}
"""How each cell turns the previous state and the input x_t (one-hot) into h_t, long to short."""

READOUT: tuple[str, ...] = (
    "p = softmax(W_hy h_t + b_y)   loss = -ln p(next char)",
    "p = softmax(W_hy h_t + b_y)   loss -ln p(next)",
    "p=softmax(W_hy h_t+b_y)  loss -ln p(next)",
)
"""The readout and the loss, the same for every cell, long to short."""

TALL = 36  # from this window height on, two runs' formulas may take a line each
GAPS = ("   ", "  ", " ")  # between formulas: the widest that fits


def _line(parts: list[tuple[str, str]], readout: str, label: str, gap: str) -> Text:
    """One formula line: an optional dim label, each (cell name or "", update), the readout."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if label:
        text.append(label, Style(dim=True))
    pieces: list[Text] = []
    for cell, spelling in parts:
        piece = Text(f"{cell}: ", Style(bold=True)) if cell else Text()
        pieces.append(piece + spelling)
    if readout:
        pieces.append(Text(readout))
    return text + Text(gap).join(pieces)


def _compact(spelling: str) -> bool:
    """Whether a spelling is the compact kind, with no spaces around = and +."""
    return " = " not in spelling and " + " not in spelling and "= -" not in spelling


def _best_fit(cells: list[str], readouts: tuple[str, ...], width: int, named: bool) -> Text | None:
    """The most detailed line of `cells` (and one of `readouts`) that fits `width`, or None.

    Most detailed: the longest spellings first, then the "model" label, then the widest gaps.
    `named`: each update is preceded by its cell's name (two runs side by side).
    """
    labels = ("",) if named else ("model ", "")
    best: tuple[tuple[int, int, int], Text] | None = None
    for *spellings, readout in product(*(STATE_UPDATE.get(c, (c,)) for c in cells), readouts):
        if len({_compact(s) for s in [*spellings, readout] if s}) > 1:
            continue  # one line, one typography: all spaced out or all compact
        detail = sum(map(len, spellings)) + len(readout)
        for label in labels:
            for gap in GAPS:
                score = (detail, len(label), len(gap))
                if best is not None and score <= best[0]:
                    continue
                parts = [(c if named else "", s) for c, s in zip(cells, spellings, strict=True)]
                line = _line(parts, readout, label, gap)
                if line.cell_len <= width:
                    best = (score, line)
    return best[1] if best else None


def formula_lines(cells: list[str], width: int, max_lines: int = 2) -> list[Text]:
    """The formulas of `cells` (one name, or two side by side) for `width` columns.

    One line where one fits. Two runs that do not fit on one line get a line each when
    `max_lines` allows, the readout after the last update or, if that is too wide, after the
    first; else one line of the two updates without the readout they share. If nothing fits,
    the shortest spelling is cut with an ellipsis.
    """
    named = len(cells) > 1
    one = _best_fit(cells, READOUT, width, named)
    if one is not None:
        return [one]
    if named and max_lines < len(cells):
        one = _best_fit(cells, ("",), width, named)
        if one is not None:
            return [one]
    if named:
        for with_readout in (len(cells) - 1, 0):
            lines = [
                _best_fit([c], READOUT if i == with_readout else ("",), width, True)
                for i, c in enumerate(cells)
            ]
            if all(line is not None for line in lines):
                return lines  # type: ignore[return-value]
    short = _line([("", STATE_UPDATE.get(c, (c,))[-1]) for c in cells], READOUT[-1], "", " ")
    short.truncate(max(0, width), overflow="ellipsis")
    return [short]


class ModelStrip(Widget):
    """One or two lines above the panes: the preset's lesson (if any) and the cells' formulas."""

    DEFAULT_CSS = """
    ModelStrip {
        height: auto;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, cells: list[str], lesson: str = "", id: str | None = None) -> None:  # noqa: A002
        """`cells`: the cell name of each run; `lesson`: a preset's one line, or empty."""
        super().__init__(id=id)
        self.cells = list(cells)
        self.lesson = sanitize(lesson.replace("\n", " "))

    def show(self, cells: list[str]) -> None:
        """Follow the runs' cells (`l` switches them); redraws only on a change."""
        if list(cells) != self.cells:
            self.cells = list(cells)
            self.refresh()

    def _formula_lines(self, width: int) -> list[Text]:
        """The formula, on two lines (one per run) only in a window tall enough to spare one."""
        try:
            tall = self.app.size.height >= TALL
        except Exception:  # not mounted in an app: as in a tall window
            tall = True
        return formula_lines(self.cells, width, 2 if tall else 1)

    def _lesson_lines(self, width: int) -> list[Text]:
        """The lesson, on one line where it fits and on two (no more) where it does not."""
        if not self.lesson:
            return []
        text = Text(self.lesson, Style(bold=True), end="")
        lines = list(text.wrap(Console(width=max(1, width)), max(1, width)))[:2]
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return lines

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        """The formula's lines (one, or one per run when narrow), and a lesson's (one or two)."""
        return len(self._formula_lines(width)) + len(self._lesson_lines(width))

    def render(self) -> Text:
        """The lesson in bold, then the formula line that fits the width."""
        width = max(1, self.size.width)
        lines = [*self._lesson_lines(width), *self._formula_lines(width)]
        return Text("\n", end="", no_wrap=True).join(lines)
