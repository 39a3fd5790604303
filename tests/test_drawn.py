"""DrawnPane repaints only what changed (`rnn_tui.ui.widgets.drawn`)."""

from __future__ import annotations

import asyncio

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult

from rnn_tui.ui.widgets.drawn import DrawnPane, ansi_lines, changed_rows, join_lines


def test_changed_rows_names_only_rows_that_differ() -> None:
    """If this fails, a chart whose picture did not change is sent to the terminal again (bytes
    over SSH for nothing), or a changed cell is left stale on the screen."""
    old = Text("abc\ndef\nghi")
    old.stylize("red", 4, 5)  # the "d"
    assert changed_rows(old, old.copy(), 10) == []
    new = old.copy()
    new.stylize("bold", 9, 10)  # the "h": same text, another style
    assert changed_rows(old, new, 10) == [(2, 2)]
    assert changed_rows(old, Text("abc\ndeX\nghi"), 10) == [(1, 3)]  # and "d" lost its red
    assert changed_rows(old, Text("Xbc\ndef"), 10) == [(0, 1), (1, 1), (2, 10)]  # "ghi" gone


class Letters(DrawnPane):
    """Draws its `rows` as they are."""

    rows = ["one", "two", "six"]

    def build_text(self, width: int, height: int) -> Text:
        return Text("\n".join(self.rows))


class OneApp(App[None]):
    def __init__(self, pane: DrawnPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


@pytest.mark.functional
def test_drawn_pane_repaints_changed_rows_only() -> None:
    """If this fails, the gradient pane and the loss chart repaint (and send) their whole area
    at every new snapshot even when only a row moved, or when nothing did."""
    pane = Letters()

    async def main() -> None:
        async with OneApp(pane).run_test(size=(20, 6)) as pilot:
            await pilot.pause()
            pane.render()
            pane._repaint_regions.clear()
            pane.changed()  # same picture
            assert not pane._repaint_regions
            pane.rows = ["one", "twX", "six"]
            pane.changed()
            assert {(r.y, r.height) for r in pane._repaint_regions} == {(1, 1)}
            await pilot.pause()
            assert "twX" in pane.render().text.plain

    asyncio.run(main())


class Chart(DrawnPane):
    """Rows of several styles, a blank row, wide characters and a row longer than the pane."""

    value = "1.23"

    def build_text(self, width: int, height: int) -> Text:
        text = Text(f"title {self.value}\n\n│⠁⠂⣀ █▇▆ x\n" + "y" * (width + 5) + "\n界界 end")
        text.stylize("bold red", 0, 5)
        text.stylize("on blue", 13, 17)
        text.stylize("green", 14, 20)
        return text


class Rows(DrawnPane):
    """Rows handed over as rows (`build_lines`), styled as wholes: a line's own style, with and
    without spans of its own (Rich draws a line without spans bare)."""

    value = "1.23"

    def build_lines(self, width: int, height: int) -> list[Text]:
        both = Text(f"both {self.value}", Style(italic=True))
        both.stylize("bold red", 0, 4)
        return [Text(f"waiting {self.value}", Style(dim=True, italic=True)), Text("plain"), both]

    def build_text(self, width: int, height: int) -> Text:
        return join_lines(self.build_lines(width, height))


@pytest.mark.functional
@pytest.mark.parametrize("kind", [Chart, Rows])
def test_drawn_pane_rows_are_drawn_as_textual_draws_the_whole_pane(kind: type) -> None:
    """If this fails, a chart row drawn on its own (only the rows that changed are) looks
    different from the same row drawn with the whole pane: colours, padding or cropping go
    wrong after the first update, or a row styled as a whole ("waiting for gradients", dim
    and italic) is drawn plain."""
    pane = kind()

    async def main() -> None:
        async with OneApp(pane).run_test(size=(20, 7)) as pilot:
            for value in ("1.23", "4.56"):  # the first picture, then one row changed
                pane.value = value
                pane.changed()
                await pilot.pause()
                pane._dirty_regions.add(pane.size.region)  # Textual's own path: all of it
                rows = range(pane.size.height)
                theirs = [super(DrawnPane, pane).render_line(y) for y in rows]  # Widget's
                for y in rows:
                    assert list(pane.render_line(y)) == list(theirs[y]), (value, y)
                assert value in "".join(s.text for s in pane.render_line(0))

    asyncio.run(main())


def test_ansi_lines_read_colours_as_rich_does() -> None:
    """If this fails, a chart drawn by plotext shows other colours (or loses some) than Rich's
    own decoder gave it: the fast path that reads plotext's output is wrong."""
    ansi = (
        "\x1b[0m4.0┤ \x1b[0m\x1b[38;2;10;200;30m⠄⡀\x1b[0m│\x1b[0m\n"
        "\x1b[1;38;5;208m\x1b[48;2;1;2;3mab\x1b[0mc\n\n"  # bold, a 256 colour, a background
        "\x1b[38;2;9;9;9mkept\nacross lines\x1b[0m done"
    )
    ours = ansi_lines(ansi)
    rich = Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")
    assert [(t.plain, t.spans) for t in ours] == [
        (t.plain, t.spans) for t in rich.split("\n", allow_blank=True)
    ]
    joined = join_lines(ours)
    assert (joined.plain, joined.spans) == (rich.plain, rich.spans)
    assert (joined.no_wrap, joined.overflow, joined.end) == (rich.no_wrap, rich.overflow, rich.end)
    cursor = "a\x1b[2Jb"  # not a colour: left to Rich
    assert join_lines(ansi_lines(cursor)).plain == Text.from_ansi(cursor).plain
