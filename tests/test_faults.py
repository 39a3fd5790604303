"""Faults: a trainer that raises or diverges, signals, a dying app, a window too small."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, TINY, wait_for
from terminal import new_session, tmux
from test_app import SMALL, spec_for, step_of

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.data import load_corpus
from rnn_tui.ui.app import make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.status_bar import NOTICE_ROOM

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def test_trainer_exception_is_shown_and_reset_recovers(tiny, tmp_path: Path) -> None:
    """If this fails, a bug in the trainer kills the app (or hangs it) in front of the class
    instead of one line in the status and a log file with the details."""
    spec = spec_for(SMALL, trainer_class="faulty:RaisingTrainer")
    app = make_app(spec, UISettings(log_path=str(tmp_path / "errors.log")))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(
                pilot, lambda: app.snapshot is not None and app.snapshot.state == "error"
            )
            assert "ZeroDivisionError: an injected bug" in app.notice
            assert str(tmp_path / "errors.log") in app.notice
            assert "\n" not in app.notice
            assert "Traceback" in (tmp_path / "errors.log").read_text()
            await pilot.press("r")
            await wait_for(pilot, lambda: app.snapshot.state == "training" and step_of(app) > 15)

    asyncio.run(main())


def test_quitting_after_a_trainer_error_exits_1(tmp_path: Path) -> None:
    """If this fails, a run whose trainer crashed ends with exit code 0, as if all went well."""
    spec = spec_for(SMALL, trainer_class="faulty:RaisingTrainer")
    app = make_app(spec, UISettings(log_path=str(tmp_path / "errors.log")))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(
                pilot, lambda: app.snapshot is not None and app.snapshot.state == "error"
            )
            await pilot.press("q")

    asyncio.run(main())
    assert app.return_code == 1


def test_divergence_pauses_and_offers_reset(tiny) -> None:
    """If this fails, NaN weights keep "training" and draw garbage, or the app crashes."""
    app = make_app(spec_for(SMALL, trainer_class="faulty:DivergingTrainer"))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(
                pilot, lambda: app.snapshot is not None and app.snapshot.state == "diverged"
            )
            assert "diverged at step" in app.notice and "r resets" in app.notice
            assert len(app.notice) <= NOTICE_ROOM, app.notice  # whole at 80 columns
            frozen = step_of(app)
            await pilot.pause(0.5)
            assert step_of(app) == frozen
            await pilot.press("r")
            await wait_for(pilot, lambda: app.snapshot.state == "training" and step_of(app) > 20)

    asyncio.run(main())


def test_too_small_window_asks_for_room_and_recovers(tiny) -> None:
    """If this fails, a small terminal (a phone over SSH, a split pane) crashes the app or
    draws an unreadable mess instead of asking for a bigger window."""
    app = make_app(spec_for())

    async def main() -> None:
        async with app.run_test(size=(40, 12)) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            assert app.too_small.display and not app.status_bar.display
            assert "needs a window of at least 60x16" in str(app.query_one("#too-small").render())
            for size in [(1, 1), (3, 200), (300, 2), (59, 40)]:
                await pilot.resize_terminal(*size)
                await pilot.pause(0.1)
                assert app.too_small.display and not app.status_bar.display
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.2)
            assert not app.too_small.display and app.status_bar.display
            # Resized while the help screen is on top: the main screen follows all the same.
            await pilot.press("question_mark")
            await pilot.resize_terminal(40, 12)
            await pilot.pause(0.1)
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert app.too_small.display and not app.status_bar.display
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.2)
            assert not app.too_small.display and app.status_bar.display
            before = step_of(app)
            await wait_for(pilot, lambda: step_of(app) > before)

    asyncio.run(main())


needs_tmux = pytest.mark.needs("tmux")  # skipped without tmux; an error on CI


def children(pid: str) -> list[str]:
    return subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()


def start_app(tmp_path: Path, *flags: str) -> tuple[str, str, list[str]]:
    """The real app in tmux at 100x30; returns (session, app pid, pids of its children)."""
    session = f"rnn-tui-fault-{uuid.uuid4().hex[:8]}"
    script = Path(sys.executable).with_name("rnn-tui")
    cmd = f"{script} {TINY} {' '.join(flags)}; echo $? > {tmp_path / 'code'}; sleep 60"
    new_session(session, 100, 30, str(ROOT), cmd)
    shell = tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        apps = children(shell)
        kids = children(apps[0]) if apps else []
        screen = tmux("capture-pane", "-p", "-t", session)
        if len(kids) >= 1 and re.search(r"step [1-9]", screen):  # it has trained: a model to save
            return session, apps[0], kids
        time.sleep(0.2)
    raise AssertionError("the app did not start: " + tmux("capture-pane", "-p", "-t", session))


def running(pid: str) -> bool:
    """Whether `pid` still runs; a zombie has finished and only waits for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def gone_within(pids: list[str], seconds: float) -> list[str]:
    """The pids still running after `seconds` (empty: all ended in time)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if running(p)]


@needs_tmux
@pytest.mark.parametrize(("sig", "code"), [("TERM", 143), ("HUP", 129), ("INT", 130)])
def test_signal_saves_and_ends_everything_within_2s(tmp_path: Path, sig: str, code: int) -> None:
    """If this fails, a dropped SSH link or a `kill` loses the model, leaves a trainer process
    eating a core, leaves the terminal in a broken state, or exits 0 as if the user had quit
    (scripts read 128 + the signal's number)."""
    ckpt = tmp_path / "auto.npz"
    session, app, kids = start_app(tmp_path, "--autosave", str(ckpt))
    try:
        time.sleep(1.0)
        subprocess.run(["kill", f"-{sig}", app], check=True)
        assert gone_within([app, *kids], 2.0) == []
        assert load_checkpoint(ckpt).step > 0
        time.sleep(0.3)
        assert (tmp_path / "code").read_text().strip() == str(code)
        screen = tmux("capture-pane", "-p", "-t", session)
        assert "Traceback" not in screen and f"saved {ckpt}" in screen
    finally:
        tmux("kill-session", "-t", session)


@needs_tmux
def test_worker_does_not_outlive_a_killed_app(tmp_path: Path) -> None:
    """If this fails, `kill -9` of the app (or a crash) leaves an orphan trainer running."""
    session, app, kids = start_app(tmp_path)
    try:
        subprocess.run(["kill", "-KILL", app], check=True)
        assert gone_within(kids, 2.0) == []
    finally:
        tmux("kill-session", "-t", session)


@pytest.mark.functional
@pytest.mark.needs("tmux")
def test_the_terminal_going_away_ends_the_app(tmp_path: Path) -> None:
    """If this fails, closing the terminal (an SSH link dropping, a tmux session killed) leaves
    the app waiting forever to restore a screen that is gone, with its trainer beside it."""
    session, app, kids = start_app(tmp_path)
    tmux("kill-session", "-t", session)
    assert gone_within([app, *kids], 10.0) == []  # SIGNAL_GRACE after the hang-up, at most
