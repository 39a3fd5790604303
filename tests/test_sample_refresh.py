"""Typing a sample repaints only the typed part of its row (issue 16: lighter over SSH)."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App, ComposeResult

from rnn_tui.ui.widgets import SamplePane

pytestmark = pytest.mark.functional


class OnePane(App[None]):
    def compose(self) -> ComposeResult:
        yield SamplePane()


def test_typing_repaints_the_typed_cells_only() -> None:
    """If this fails, every typed character sends the whole width of its row (mostly blanks)
    to the terminal again, 20 times a second; or a new row is not repainted at all."""

    async def main() -> None:
        async with OnePane().run_test(size=(60, 10)) as pilot:
            pane = pilot.app.query_one(SamplePane)
            pane.start_sample("step 1")
            pane.append_chars("the cat")
            await pilot.pause()
            pane._repaint_regions.clear()
            pane.append_chars(" sat")
            regions = list(pane._repaint_regions)
            assert [(r.y, r.width) for r in regions] == [(1, len("the cat sat"))]
            pane._repaint_regions.clear()
            pane.append_chars(" on the mat" * 6)  # wraps: whole rows from here on
            assert all(r.width >= 59 for r in pane._repaint_regions)
            await pilot.pause()
            assert pane.visual_rows()[1].startswith("the cat sat on the mat")

    asyncio.run(main())
