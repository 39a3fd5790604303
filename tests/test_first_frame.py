"""The first frame goes out before the trainer process starts (issue 16: quicker to start)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import TINY
from test_snapshots import FixedSource

from rnn_tui.engine.config import Config
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.settings import UISettings

pytestmark = pytest.mark.functional


class WatchingSource(FixedSource):
    """Notes, when asked to start, whether the app had drawn its screen by then."""

    def __init__(self) -> None:
        self.app: RnnApp | None = None
        self.drawn_at_start: bool | None = None

    def start(self, background: bool = False) -> None:
        assert self.app is not None
        status = self.app.status_bar
        # A widget's lines are cached once the compositor has rendered them for the screen.
        self.drawn_at_start = bool(status._render_cache.lines) and status.region.width > 0


def test_first_frame_before_the_trainer_starts() -> None:
    """If this fails, the screen stays blank while the trainer process starts (a new
    interpreter loading NumPy and the corpus competes with the first frame for the CPU): the
    class waits longer for the first picture, and it comes with no model behind it anyway."""
    source = WatchingSource()

    async def main() -> None:
        app = make_app(RunSpec(str(TINY), (Config(),)), UISettings(), source=source)
        source.app = app
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.pause()
            assert app.snapshot is None  # no model yet: nothing came from a trainer
            assert "STARTING" in app.status_bar.plain_text
        assert source.drawn_at_start is True

    asyncio.run(main())
