"""Rich Text that Textual draws as it is, without making it selectable.

A widget that returns a `Text` from `render()` has it converted to Textual `Content`, which gives
every run of every line its own style carrying the run's (x, y) position, so that the text can be
selected with the mouse. Textual turns each distinct style into terminal codes once and keeps the
result in a cache of 16,384 entries. For the panes drawn here (a heat map, a braille chart, a
sample coloured per character) almost every run has a colour and a position of its own, so that
cache fills with styles used once: in a 30-minute soak it was most of the app's 23 MB of growth.

These panes are pictures: there is nothing in them to select. Wrapped in `Drawn`, the Text is
rendered by Rich into segments whose styles are the pane's own small palette, and the cache stays
small.

`DrawnPane` is the base of the gradient pane and the loss chart: it caches the drawn Text until
the data or the size changes. `flow` lays title tokens out in lines for both.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.widget import Widget

from rnn_tui.ui.widgets.colours import Palette, theme_palette


class Drawn:
    """A Rich renderable that renders `text` unchanged (see the module docstring for why)."""

    __slots__ = ("text",)

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text


class DrawnPane(Widget):
    """A pane that draws one Rich Text of its own size, as `Drawn`, and rebuilds it only when
    its data (`changed()`) or its size changed. Subclasses implement `build_text`."""

    DEFAULT_CSS = """
    DrawnPane {
        width: 1fr;
        height: 1fr;
        min-height: 3;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._version = 0  # bumped by every change of the data
        self._cache_key: tuple[int, int, int, str] | None = None  # (version, w, h, palette) drawn
        self._cache_text: Text | None = None
        self.render_count = 0
        """How many times the pane was actually rebuilt (not served from cache)."""

    def changed(self) -> None:
        """Call after new data: the next render rebuilds the text."""
        self._version += 1
        self.refresh()

    def build_text(self, width: int, height: int) -> Text:
        """The whole pane for `width` x `height` cells."""
        raise NotImplementedError

    @property
    def colours(self) -> Palette:
        """The palette for the app's theme now: `LIGHT` on a light ground, else `DARK`."""
        return theme_palette(self)

    def render(self) -> Drawn:
        """The pane as drawn Rich Text (not selectable), rebuilt only if data or size changed."""
        width, height = self.size
        key = (self._version, width, height, self.colours.name)
        if self._cache_key != key or self._cache_text is None:
            self._cache_text = self.build_text(width, height)
            self._cache_key = key
            self.render_count += 1
        return Drawn(self._cache_text)


def flow(tokens: list[Text], width: int, sep: str = "  ") -> list[Text]:
    """Lay tokens out left to right, starting a new line when the next token does not fit;
    each line is cut to `width` with an ellipsis."""
    lines: list[Text] = []
    cur = Text()
    for tok in tokens:
        if not tok.cell_len:
            continue
        if cur.cell_len and cur.cell_len + len(sep) + tok.cell_len > width:
            lines.append(cur)
            cur = Text()
        if cur.cell_len:
            cur.append(sep)
        cur.append_text(tok)
    if cur.cell_len:
        lines.append(cur)
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return lines
