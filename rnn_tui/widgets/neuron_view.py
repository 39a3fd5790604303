"""The sample text coloured by one hidden unit's value: blue -1, white 0, red +1.

What Karpathy's char-RNN post showed: single units that track quotes, line length or words.
"""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from rnn_tui.textsafe import sanitize
from rnn_tui.widgets.drawn import Drawn

BLUE, WHITE, RED = (40, 90, 230), (245, 245, 245), (225, 40, 40)
LEVELS = 16  # shades per sign: 33 colours in all, a bounded palette of styles


def colour(v: float) -> tuple[int, int, int]:
    """-1 blue .. 0 white .. +1 red, in LEVELS steps per sign; NaN grey."""
    if not np.isfinite(v):
        return (128, 128, 128)
    v = max(-1.0, min(1.0, float(v)))
    end = RED if v > 0 else BLUE
    a = round(abs(v) * LEVELS) / LEVELS  # quantised: a few dozen styles, not one per character
    return tuple(round(w + (e - w) * a) for w, e in zip(WHITE, end, strict=True))  # type: ignore[return-value]


_STYLES: dict[tuple[int, int, int], Style] = {}


def _style(rgb: tuple[int, int, int]) -> Style:
    """Black text on the colour `rgb`, one Style object per colour."""
    style = _STYLES.get(rgb)
    if style is None:
        style = _STYLES[rgb] = Style(color="black", bgcolor=f"rgb({rgb[0]},{rgb[1]},{rgb[2]})")
    return style


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

    def set_data(self, chars: list[str], values: np.ndarray, unit: int, n_units: int) -> None:
        """`chars`: the sample so far; `values: (len(chars),)` unit `unit`'s value for each."""
        text = Text(no_wrap=False, end="")
        if len(values):
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            text.append(f"unit {unit} of {n_units}", Style(bold=True))
            text.append(f"  range {lo:+.2f} .. {hi:+.2f}", Style(dim=True))
        text.append("  [ ] unit  m most varying  v samples\n", Style(dim=True))
        for ch, v in zip(chars, values, strict=True):
            style = _style(colour(v))
            if ch == "\n":
                text.append("↵", style)
                text.append("\n")
            else:
                text.append(sanitize(ch), style)
        self._text = text
        self.refresh()

    @property
    def text(self) -> Text:
        """What the view shows now."""
        return self._text

    def render(self) -> Drawn:
        """The coloured sample, drawn as it is (not selectable)."""
        return Drawn(self._text)
