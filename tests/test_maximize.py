"""Clicking a pane maximizes it and Esc restores the layout (issue 16: terminal reach)."""

from __future__ import annotations

import asyncio

import pytest
from test_snapshots import fixed_app, show_fixed

pytestmark = pytest.mark.functional


def test_click_maximizes_a_pane_and_escape_restores() -> None:
    """If this fails, clicking the loss chart, a gradient pane or the samples does not fill the
    screen with it (to show one pane large on a projector), or Esc does not bring the others
    back; a click on the status line must not hide the panes either."""

    async def main() -> None:
        app = fixed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await show_fixed(pilot)
            lane = app.lanes[0]
            for widget, pane in (
                (app.loss_chart, app.query_one("#loss-box")),
                (lane.grad_pane, lane.grad_pane),
                (lane.sample_pane, lane.box),
            ):
                await pilot.click(widget)
                await pilot.pause()
                assert app.screen.maximized is pane
                assert pane.region.width == 120  # it fills the screen
                await pilot.press("escape")
                await pilot.pause()
                assert app.screen.maximized is None
                assert app.loss_chart.region.width < 120  # the panes side by side again
            await pilot.click(app.status_bar)
            await pilot.pause()
            assert app.screen.maximized is None

    asyncio.run(main())
