"""The sample text coloured by one hidden unit h_t[i]'s value: blue -1, white 0, red +1.

What Karpathy's char-RNN post showed: single units that track quotes, line length or words.
"""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Span, Text
from textual.widget import Widget

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.colours import contrast
from rnn_tui.ui.widgets.drawn import Drawn, flow

BLUE, WHITE, RED = (40, 90, 230), (245, 245, 245), (225, 40, 40)
GREY = (128, 128, 128)  # NaN or inf
LEVELS = 16  # shades per sign: 33 colours in all, a bounded palette of styles


def colour(level: int) -> tuple[int, int, int]:
    """The shade of `level` in -LEVELS..LEVELS: blue .. white (0) .. red, linear between."""
    end = RED if level > 0 else BLUE
    a = abs(level) / LEVELS
    return tuple(round(w + (e - w) * a) for w, e in zip(WHITE, end, strict=True))  # type: ignore[return-value]


def ink(shade: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on `shade`: white on the deep blue and red ends,
    where black letters are hard to make out on a projector."""
    black, white = (0, 0, 0), (255, 255, 255)
    return black if contrast(black, shade) >= contrast(white, shade) else white


# Each shade, indexed by level + LEVELS; the last entry is for NaN and inf. The probe's
# neuron shading draws with these too, so both views colour a value alike.
SHADES: list[tuple[int, int, int]] = [colour(k) for k in range(-LEVELS, LEVELS + 1)] + [GREY]
# The text on each shade, indexed as SHADES.
PALETTE: list[Style] = [
    Style(color="rgb({},{},{})".format(*ink(rgb)), bgcolor="rgb({},{},{})".format(*rgb))
    for rgb in SHADES
]


def palette_index(values: np.ndarray) -> np.ndarray:
    """`values: (N,)` -> (N,) int indices into PALETTE: clipped to -1..1, rounded to a level."""
    with np.errstate(invalid="ignore"):
        level = np.rint(np.clip(values, -1.0, 1.0) * LEVELS) + LEVELS
    return np.where(np.isfinite(values), level, len(PALETTE) - 1).astype(np.intp)


# What h_t is for each cell: every one of them lies in -1..1.
WHAT_H = {
    "rnn": "the tanh output",
    "lstm": "o_t * tanh(c_t)",
    "gru": "a blend of tanh outputs",
}
KEY_LEVELS = (-16, -12, -8, -4, 0, 4, 8, 12, 16)  # the shades the colour key shows
HEAD_WIDTH = 200  # the header's width before the view has one (laid out again on the next draw)


def title(unit: int, n_units: int, cell: str = "rnn") -> str:
    """`h_t[90] of 128: the tanh output at each character, -1 blue .. +1 red`."""
    what = WHAT_H.get(cell, "the hidden state")
    return f"h_t[{unit}] of {n_units}: {what} at each character, -1 blue .. +1 red"


def colour_key() -> Text:
    """`-1 ▉▉▉▉▉▉▉▉▉ +1`: the shades from -1 through 0 to +1, and grey for NaN/inf."""
    key = Text("-1 ")
    for level in KEY_LEVELS:
        key.append(" ", PALETTE[level + LEVELS])
    key.append(" +1", Style())
    key.append("  0 is white  ")
    key.append(" ", PALETTE[-1])
    key.append(" nan/inf")
    return key


class NeuronView(Widget, can_focus=False):
    """Call `set_data` with the characters of a sample and one unit's value for each."""

    DEFAULT_CSS = """
    NeuronView {
        width: 1fr;
        height: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self._text = Text("the neuron view fills in as the next sample is typed", Style(dim=True))

    def set_data(
        self, chars: list[str], values: np.ndarray, unit: int, n_units: int, cell: str = "rnn"
    ) -> None:
        """`chars`: the sample so far; `values: (len(chars),)` unit `unit`'s value for each.

        Two lines come first: what is shown (the title) and the colour key."""
        text = Text(no_wrap=False, end="")
        text.append(title(unit, n_units, cell), Style(bold=True))
        text.append("\n")
        dim = Style(dim=True)
        head = [colour_key()]
        if len(values):
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            head.append(Text(f"range {lo:+.2f} .. {hi:+.2f}", dim))
        head += [Text(hint, dim) for hint in ("[ ] unit", "m most varying", "v samples")]
        # Laid out here, not wrapped by the renderer: a key stays with what it does.
        for line in flow(head, self.content_size.width or HEAD_WIDTH):
            text.append_text(line)
            text.append("\n")
        parts: list[str] = []
        spans: list[Span] = []
        pos = 0
        safe = sanitize("".join(chars))  # one stand-in per control character: same length
        for ch, k in zip(safe, palette_index(np.asarray(values)).tolist(), strict=True):
            label = "↵" if ch == "\n" else ch
            style = PALETTE[k]
            if spans and spans[-1].style is style:  # one span per run of a shade
                spans[-1] = Span(spans[-1].start, pos + len(label), style)
            else:
                spans.append(Span(pos, pos + len(label), style))
            parts.append(label + "\n" if ch == "\n" else label)
            pos += len(parts[-1])
        text.append_text(Text("".join(parts), spans=spans))
        self._text = text
        self.refresh()

    @property
    def text(self) -> Text:
        """What the view shows now."""
        return self._text

    def render(self) -> Drawn:
        """The coloured sample, drawn as it is (not selectable)."""
        return Drawn(self._text)
