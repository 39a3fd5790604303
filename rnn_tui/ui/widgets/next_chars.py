"""One line under a sample: the likeliest next characters and their probabilities."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from rnn_tui.textsafe import sanitize

SHOWN = {" ": "␣", "\n": "↵"}  # characters that would be invisible on their own


class NextChars(Static):
    """`next: e 41% ▇  ␣ 22% ▄  a 9% ▂ ...` for the character being typed."""

    DEFAULT_CSS = """
    NextChars {
        height: 1;
        width: 1fr;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    BARS = " ▁▂▃▄▅▆▇█"

    def show(self, top: list[tuple[str, float]], chosen: str | None = None) -> None:
        """`top`: (character, probability) pairs, likeliest first; `chosen`: the one drawn."""
        line = Text("next: ", Style(dim=True), no_wrap=True, end="")
        for ch, p in top:
            label = SHOWN.get(ch) or sanitize(ch)
            style = Style(bold=True, reverse=True) if ch == chosen else Style(bold=True)
            line.append(label, style)
            bar = self.BARS[min(len(self.BARS) - 1, round(p * (len(self.BARS) - 1)))]
            line.append(f" {p:4.0%} {bar}  ")
        self.update(line, layout=False)  # one fixed line: a repaint, never a relayout
