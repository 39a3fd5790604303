"""Garbage collection is held off while the program starts and resumes on every path
(rnn_tui/startup.py): in the app once its panes are built, at once where no app will show,
and in any case when `main` returns."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from conftest import TINY, booted

from rnn_tui import cli
from rnn_tui.errors import UserError


@pytest.fixture(autouse=True)
def collection_restored() -> Iterator[None]:
    """Whatever a test does to the collector, the next one finds it on and nothing frozen."""
    yield
    gc.enable()
    gc.unfreeze()


def test_main_holds_collection_and_resumes_it_when_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If this fails, the command line starts with the collector walking every object it
    makes (slower to the first frame), or leaves it off after a path that showed no app."""
    seen: list[bool] = []

    def run(argv: list[str]) -> int:
        seen.append(gc.isenabled())
        raise UserError("stop here")

    monkeypatch.setattr(cli, "run", run)
    assert cli.main(["corpora/tiny.txt"]) == 2
    assert seen == [False] and gc.isenabled()


def test_a_headless_run_collects_garbage_while_it_trains(monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails, a headless run (hours, on a server) trains with the collector off and
    its reference cycles are never freed."""
    from rnn_tui.run import build

    seen: list[bool] = []

    def build_trainers(*args: object) -> list[object]:
        seen.append(gc.isenabled())
        raise UserError("stop here")

    monkeypatch.setattr(build, "build_trainers", build_trainers)
    assert cli.main([str(TINY), "--headless", "--steps", "1"]) == 2
    assert seen == [True]


def test_the_app_resumes_collection_once_its_panes_are_built() -> None:
    """If this fails, the app runs with the collector off (memory grows with every cycle of
    garbage), or its later collections walk every object start-up made."""
    from test_snapshots import fixed_app

    async def main() -> None:
        app = fixed_app()
        gc.disable()  # as `cli.main` holds it
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            assert gc.isenabled() and gc.get_freeze_count() > 0

    asyncio.run(main())
