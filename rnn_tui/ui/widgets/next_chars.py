"""One line under a sample: the likeliest next characters and their probabilities.

In the theme's text colour, not dimmed: it is read from the back of a classroom too.
"""

from __future__ import annotations

from textual.content import Content
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
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    BARS = " ▁▂▃▄▅▆▇█"

    def show(self, top: list[tuple[str, float]], chosen: str | None = None) -> None:
        """`top`: (character, probability) pairs, likeliest first; `chosen`: the one drawn."""
        parts: list[str | tuple[str, str]] = [("next: ", "$text-muted")]
        for ch, p in top:
            label = SHOWN.get(ch) or sanitize(ch)
            parts.append((label, "bold reverse" if ch == chosen else "bold"))
            bar = self.BARS[min(len(self.BARS) - 1, round(p * (len(self.BARS) - 1)))]
            parts.append(f" {p:4.0%} {bar}  ")
        # Content, not markup: a corpus character such as "[" is shown as it is.
        self.update(Content.assemble(*parts), layout=False)  # a repaint, never a relayout
