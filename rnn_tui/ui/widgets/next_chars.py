"""One line under a sample: the likeliest next characters and their probabilities.

In the theme's text colour, not dimmed: it is read from the back of a classroom too.
"""

from __future__ import annotations

from textual.app import RenderResult
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.drawn import changed_upto, content_strip

SHOWN = {" ": "␣", "\n": "↵"}  # characters that would be invisible on their own


class NextChars(Widget):
    """`next: e 41% ▇  ␣ 22% ▄  a 9% ▂ ...` for the character being typed. A new line is
    repainted from the left edge to its last changed cell: the blank rest of a wide pane is
    not sent again four times a second."""

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

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.shown = Content("")
        """The line shown now."""

    def render(self) -> RenderResult:
        return self.shown

    def render_line(self, y: int) -> Strip:
        """The line, drawn straight from its runs (`content_strip`)."""
        if y > 0:
            return Strip.blank(self.size.width, self.visual_style.rich_style)
        return content_strip(self, self.shown, self.content_region.width)

    def clear(self) -> None:
        """No line: the weights it came from are gone (a reset)."""
        if self.shown.plain:
            self.shown = Content("")
            self.refresh()

    def show(self, top: list[tuple[str, float]], chosen: str | None = None) -> None:
        """`top`: (character, probability) pairs, likeliest first; `chosen`: the one drawn."""
        parts: list[str | tuple[str, str]] = [("next: ", "$text-muted")]
        for ch, p in top:
            label = SHOWN.get(ch) or sanitize(ch)
            parts.append((label, "bold reverse" if ch == chosen else "bold"))
            bar = self.BARS[min(len(self.BARS) - 1, round(p * (len(self.BARS) - 1)))]
            parts.append(f" {p:4.0%} {bar}  ")
        # Content, not markup: a corpus character such as "[" is shown as it is.
        old, new = self.shown, Content.assemble(*parts)
        self.shown = new
        if old.plain != new.plain:
            self.refresh(Region(0, 0, changed_upto(old.plain, new.plain), 1))
        elif old.spans != new.spans:  # the same text, another character chosen
            self.refresh()
