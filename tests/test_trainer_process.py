"""The trainer process seen from the app: replies matched to their request, a worker that is
killed or stopped, and what the app then still saves. Real signals to the real worker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import TINY, booted, patience, wait_for
from test_app import spec_for, step_of

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.data import load_corpus
from rnn_tui.run.protocol import Save
from rnn_tui.run.source import TrainerProcess
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.status_bar import NOTICE_ROOM

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def held_step(app: RnnApp) -> int:
    w = app.lanes[0].weights
    return -1 if w is None else w[1]


def test_reply_goes_to_the_request_that_asked(tiny, tmp_path: Path) -> None:
    """If this fails, `s` followed by a quit (or SIGTERM) reports the file `s` wrote as the
    autosave, whichever finished first."""
    proc = TrainerProcess(spec_for())
    proc.start()
    try:
        first = proc.send(Save(str(tmp_path / "first.npz")))
        reply = proc.request(Save(str(tmp_path / "second.npz")), timeout=20)
        assert reply is not None and reply.ok and reply.id != first
        assert "second.npz" in reply.text and "first.npz" not in reply.text
        # The first save's reply was read meanwhile: it waits for the next poll, not lost.
        replies = []
        for _ in range(200):
            snaps = proc.poll()
            replies += [] if snaps is None else list(snaps[0].replies)
            if any(r.id == first for r in replies):
                break
            asyncio.run(asyncio.sleep(0.05))
        (mine,) = [r for r in replies if r.id == first]
        assert mine.ok and "first.npz" in mine.text
    finally:
        proc.stop()


def test_killed_trainer_is_noticed_saved_from_held_weights_and_restarted(
    tiny, tmp_path: Path
) -> None:
    """If this fails, a trainer process that dies leaves the screen on TRAINING forever, `s`
    says "saving..." forever, and the run cannot go on without quitting."""
    saved = tmp_path / "held.npz"
    app = make_app(spec_for(), UISettings(save_path=str(saved)))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            await wait_for(pilot, lambda: step_of(app) > 0 and held_step(app) > 0)
            old = app.source
            loop = asyncio.get_running_loop()
            os.kill(old.process.pid, signal.SIGKILL)
            t0 = loop.time()
            await wait_for(pilot, lambda: bool(app.source_lost), timeout=10)
            noticed = loop.time() - t0
            assert noticed < 5, f"noticed after {noticed:.1f} s"  # 0.25 s polls; loaded CI
            held = f"r restarts it from step {held_step(app):,}"
            assert "SIGKILL" in app.notice and held in app.notice, app.notice
            assert len(app.notice) <= NOTICE_ROOM, app.notice  # whole at 80 columns
            assert app.status_bar.state == "stopped"
            step = held_step(app)
            await pilot.press("s")  # nobody to ask: the app writes what it holds
            assert "held by the app" in app.notice, app.notice
            ckpt = load_checkpoint(saved)
            assert ckpt.step == step and ckpt.opt_state == {}
            for name, value in app.lanes[0].weights[0].items():
                assert (ckpt.params[name] == value).all()
            await pilot.press("r")  # a new trainer process from those weights
            assert app.source is not old
            await wait_for(pilot, lambda: app.snapshot.state == "training" and step_of(app) > step)
            first = app.snapshot.record.step
            assert first > step and not app.source_lost

    asyncio.run(main())


def test_autosave_after_the_trainer_died_writes_the_held_weights(tiny, tmp_path: Path) -> None:
    """If this fails, quitting after the trainer died exits without the --autosave file."""
    auto = tmp_path / "auto.npz"
    app = make_app(spec_for(), UISettings(autosave_path=str(auto)))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            await wait_for(pilot, lambda: held_step(app) > 0)
            os.kill(app.source.process.pid, signal.SIGKILL)
            await wait_for(pilot, lambda: bool(app.source_lost), timeout=10)
            await pilot.press("q")

    asyncio.run(main())
    assert app.saved_message is not None and "held by the app" in app.saved_message
    assert load_checkpoint(auto).step == held_step(app)
    assert app.return_code == 1  # the run did not end well: scripts can tell


def test_stopped_trainer_is_reported_and_autosave_falls_back(tiny, tmp_path: Path) -> None:
    """If this fails, a trainer stopped with SIGSTOP (or stuck) leaves a screen that looks
    alive, and quitting waits for a save that never comes and then loses the model."""
    auto = tmp_path / "auto.npz"
    app = make_app(spec_for(), UISettings(autosave_path=str(auto)))
    pid = 0

    async def main() -> None:
        nonlocal pid
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            await wait_for(pilot, lambda: held_step(app) > 0)
            pid = app.source.process.pid
            os.kill(pid, signal.SIGSTOP)
            await wait_for(pilot, lambda: app.silent, timeout=15)
            assert "no snapshot from the trainer for" in app.notice
            assert len(app.notice) <= NOTICE_ROOM, app.notice
            assert app.status_bar.state == "silent"
            os.kill(pid, signal.SIGCONT)  # it answers again: the notice goes
            await wait_for(pilot, lambda: not app.silent, timeout=15)
            os.kill(pid, signal.SIGSTOP)
            await wait_for(pilot, lambda: app.silent, timeout=15)
            await pilot.press("q")  # the save request times out; the held weights are saved

    try:
        asyncio.run(main())
    finally:
        if pid:
            with __import__("contextlib").suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert app.saved_message is not None and "held by the app" in app.saved_message
    assert load_checkpoint(auto).step > 0
    assert not app.source.process.is_alive()


def test_metrics_to_a_full_disk_are_told_once_and_training_goes_on(tiny) -> None:
    """If this fails, --metrics on a full disk kills the trainer process in the app (and with
    it the run), or the error repeats in the status line every step."""
    app = make_app(spec_for(), UISettings(metrics_path="/dev/full", log_every=1))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            await wait_for(pilot, lambda: "cannot write to /dev/full" in app.notice)
            assert "training goes on" in app.notice and "\n" not in app.notice
            step = step_of(app)
            await wait_for(pilot, lambda: step_of(app) > step + 20)
            assert app.source.ended() is None and app.snapshot.state == "training"

    asyncio.run(main())


def test_export_after_its_folder_was_deleted_recreates_all_it_claims(tiny, tmp_path: Path) -> None:
    """If this fails, `e` after the export folder was removed reports files it did not write,
    or metrics go on into a deleted file that nobody can read."""
    import shutil

    out = tmp_path / "out"
    app = make_app(spec_for(), UISettings(export_dir=str(out), log_every=1))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            await wait_for(pilot, lambda: step_of(app) > 5)
            shutil.rmtree(out)
            await pilot.press("e")
            await wait_for(pilot, lambda: "exported to" in app.notice)
            assert "a checkpoint" in app.notice and "metrics file was deleted" in app.notice
            for name in ("loss.csv", "samples.txt", "checkpoint.npz", "metrics.jsonl"):
                assert (out / name).exists(), name
            step = step_of(app)
            await wait_for(pilot, lambda: step_of(app) > step + 5)
            assert (out / "metrics.jsonl").read_text().count("\n") > 0  # lines go there again

    asyncio.run(main())


def test_a_trainer_started_before_the_app_is_not_started_again() -> None:
    """If this fails, the app's boot starts the trainer the command line started before the
    UI loaded (`ui/launch.py`) a second time: a crash, or two trainers for one run."""
    proc = TrainerProcess(spec_for())
    proc.start(background=True)  # as the command line does, before the UI loads
    try:
        first = proc.process
        proc.start(True)  # as the app's boot does
        assert proc.process is first
        end = time.monotonic() + patience(30)
        while proc.poll() is None:  # the one worker trains
            assert time.monotonic() < end, "no snapshot from the trainer"
            time.sleep(0.05)
    finally:
        proc.stop()
    assert not proc.process.is_alive()
