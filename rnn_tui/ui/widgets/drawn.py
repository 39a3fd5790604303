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
the data or the size changes, and after new data it repaints only the rows whose cells changed
(each up to its last changed cell): Textual sends every repainted row to the terminal as a whole,
so a chart whose picture did not change writes nothing, and one whose curve moved a little
writes a few rows. It also draws only those rows anew (`render_line`), each straight from its
runs: the others keep the strips they were drawn as, where a widget's `render` would have the
whole pane drawn again, wrapped and split into lines, for one changed row. `flow` lays title tokens out in lines for both.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style as VisualStyle
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
        self._lines: list[Text] = []  # the picture for that key, one Text per row
        self._strips: dict[int, Strip] = {}  # rows of those lines drawn as Textual draws them
        self._strip_key: tuple[object, ...] | None = None  # (cache key, style) of the strips
        self.render_count = 0
        """How many times the pane was actually rebuilt (not served from cache)."""

    def changed(self) -> None:
        """Call after new data: the text is rebuilt now and only the rows that differ from
        the picture on screen are repainted (none if the picture is the same)."""
        self._version += 1
        width, height = self.size
        old_key = self._cache_key
        if not self.is_mounted or not width or not height or old_key is None:
            self.refresh()  # nothing on screen to compare with: draw it all when shown
            return
        old_lines, old_strips = self._lines, self._strips
        self._build(width, height)
        if old_key[1:] != self._cache_key[1:]:  # type: ignore[index]  # another size or palette
            self.refresh()
            return
        rows = changed_lines(old_lines, self._lines, width)
        if self._strip_key is not None and self._strip_key[0] == old_key:
            # The rows that stayed keep their drawn strips: only the changed ones are drawn anew.
            moved = {y for y, _ in rows}
            self._strips = {y: s for y, s in old_strips.items() if y not in moved}
            self._strip_key = (self._cache_key, *self._strip_key[1:])
        for y, end in rows:
            self.refresh(Region(0, y, end, 1))

    def build_text(self, width: int, height: int) -> Text:
        """The whole pane for `width` x `height` cells."""
        raise NotImplementedError

    def build_lines(self, width: int, height: int) -> list[Text]:
        """The pane's rows (`build_text` split into lines); a pane that makes its rows one by
        one returns them as they are, rather than join them into one Text to be split here."""
        return self.build_text(width, height).split("\n", allow_blank=True)

    @property
    def colours(self) -> Palette:
        """The palette for the app's theme now: `LIGHT` on a light ground, else `DARK`."""
        return theme_palette(self)

    def _build(self, width: int, height: int) -> list[Text]:
        """The rows for the data now at `width` x `height`, from the cache if they are there."""
        key = (self._version, width, height, self.colours.name)
        if self._cache_key != key:
            self._lines = self.build_lines(width, height)
            self._cache_key = key
            self.render_count += 1
        return self._lines

    def render(self) -> Drawn:
        """The pane as drawn Rich Text (not selectable), rebuilt only if data or size changed."""
        width, height = self.size
        return Drawn(join_lines(self._build(width, height)))

    def render_line(self, y: int) -> Strip:
        """Row `y`, drawn once per picture: Textual asks only for the rows repainted, and a
        row that did not change keeps its strip (a widget's own `render_line` would draw the
        whole pane again for every repainted row)."""
        width, height = self.size
        self._build(width, height)
        self._dirty_regions.clear()  # what Textual's own drawing does with them (none kept)
        style = self.visual_style
        key = (self._cache_key, style)
        if self._strip_key != key:
            self._strips, self._strip_key = {}, key
        strip = self._strips.get(y)
        if strip is None:
            self._draw_missing(width, style)
            strip = self._strips.get(y)
        return Strip.blank(width, style.rich_style) if strip is None else strip  # None: below

    def _draw_missing(self, width: int, style: VisualStyle) -> None:
        """Draw every row of the text that has no strip yet: each line's runs over the pane's
        own style, cropped to `width`. That is what Textual's drawing of a Rich Text gives
        here (no wrapping, no links, left and top aligned), without its wrapping and splitting
        of the whole text into lines, which took most of a chart's redraw."""
        console, strips = self.app.console, self._strips
        under = style.rich_style.__add__  # the pane's colours under each line's and run's own
        for y, line in enumerate(self._lines):
            if y in strips:
                continue
            if not line.plain:  # an empty row: nothing, padded by Textual like any other
                strips[y] = Strip([])
                continue
            # Rich leaves the line's own style off a line without spans: it goes under here.
            own = under(console.get_style(line.style, default=Style.null()))
            runs = [Segment(text, own + run) for text, run, _ in line.render(console)]
            strips[y] = Strip(runs).crop(0, width)


def _cells(line: Text) -> list[tuple[str, tuple[object, ...]]]:
    """Each character of one line with the styles that apply to it, in order."""
    styles: list[list[object]] = [[line.style] for _ in line.plain]
    for span in line.spans:
        for i in range(span.start, min(span.end, len(styles))):
            styles[i].append(span.style)
    return [(ch, tuple(st)) for ch, st in zip(line.plain, styles, strict=True)]


def changed_rows(old: Text, new: Text, width: int) -> list[tuple[int, int]]:
    """(row, cells from the left edge to repaint) of every row where `new` differs from `old`:
    up to the row's last changed cell (Textual repaints a row from the widget's left edge)."""
    return changed_lines(
        old.split("\n", allow_blank=True), new.split("\n", allow_blank=True), width
    )


def changed_lines(
    old_lines: list[Text], new_lines: list[Text], width: int
) -> list[tuple[int, int]]:
    """`changed_rows` of two texts already split into lines."""
    out = []
    for y in range(max(len(old_lines), len(new_lines))):
        a = old_lines[y] if y < len(old_lines) else Text()
        b = new_lines[y] if y < len(new_lines) else Text()
        if a.plain == b.plain and a.spans == b.spans and a.style == b.style:
            continue
        ca, cb = _cells(a), _cells(b)
        if len(ca) != len(cb):
            out.append((y, width))
            continue
        last = max(i for i in range(len(cb)) if ca[i] != cb[i]) if ca != cb else -1
        if last >= 0:
            out.append((y, min(width, cell_len(b.plain[: last + 1]))))
    return out


def changed_upto(old: str, new: str) -> int:
    """Cells from the left edge to repaint for a line drawn as `old` to show `new`: up to the
    last cell where they differ (both lines start at the same place), 0 if they are the same."""
    if old == new:
        return 0
    n = max(len(old), len(new))
    a, b = old.ljust(n), new.ljust(n)
    last = max(i for i in range(n) if a[i] != b[i])
    return max(cell_len(a[: last + 1]), cell_len(b[: last + 1]))


_SGR = re.compile(r"\x1b\[([0-9;]*)m")  # a Select Graphic Rendition code: plotext's only kind


@lru_cache(maxsize=1024)
def _after_sgr(style: Style, codes: str) -> Style:
    """The style after the SGR `codes` (e.g. "38;2;10;200;30"), from `style`, as Rich's own
    ANSI decoder has it (a chart uses a few colours: each pair is worked out once)."""
    from rich.ansi import AnsiDecoder  # not needed for the first frame

    decoder = AnsiDecoder()
    decoder.style = style
    decoder.decode_line(f"\x1b[{codes}m")
    return decoder.style


def content_strip(widget: Widget, line: Content, width: int) -> Strip:
    """One line of Content as Textual draws it in `widget` (`text-wrap: nowrap`, `text-overflow:
    ellipsis`), straight from its runs. Textual's own drawing gives every run a style of its
    own that carries the run's position, for selecting text with the mouse: for a status line
    repainted a few times a second that was three milliseconds a repaint, and nothing in these
    lines is there to select."""
    if line.cell_length > width:
        line = line.truncate(width, ellipsis=True)
    runs = line.render(widget.visual_style, end="")  # "$success": Style.parse, with the theme
    return Strip([Segment(text, style.rich_style) for text, style in runs], line.cell_length)


def join_lines(lines: list[Text]) -> Text:
    """Rows as one Text, a row per line, cropped where too long."""
    return Text("\n", no_wrap=True, overflow="crop", end="").join(lines)


def ansi_lines(ansi: str) -> list[Text]:
    """`Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")`, one Text per line, for
    text whose only escape sequences are colours and resets (plotext's output), several times
    faster: Rich's decoder parses every code of every cell again, where a chart has a handful
    of distinct ones."""
    if "\r" in ansi or "\x1b" in _SGR.sub("", ansi):  # something else: Rich's full decoder
        text = Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")
        return text.split("\n", allow_blank=True)
    null = Style.null()
    style = null
    lines = []
    for row in ansi.split("\n"):
        line = Text()
        at = 0
        for m in _SGR.finditer(row):
            if m.start() > at:
                line.append(row[at : m.start()], style or None)
            style = _after_sgr(style, m.group(1))
            at = m.end()
        if at < len(row):
            line.append(row[at:], style or None)
        lines.append(line)
    return lines


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
