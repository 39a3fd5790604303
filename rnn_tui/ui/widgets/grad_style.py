"""Glyphs and the span-merging line builder shared by the gradient pane's pieces."""

from __future__ import annotations

from rich.style import Style
from rich.text import Span, Text

EIGHTHS = " ▁▂▃▄▅▆▇█"
MARKER_CHAR = "━"
BAD_CHAR = "!"
ZERO_CHAR = "0"


class LineBuilder:
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
