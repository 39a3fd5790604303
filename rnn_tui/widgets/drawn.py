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
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text


class Drawn:
    """A Rich renderable that renders `text` unchanged (see the module docstring for why)."""

    __slots__ = ("text",)

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text
