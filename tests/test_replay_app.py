"""`rnn-tui replay DIR` in the app (Textual pilot), and a recording made by the app's own trainer
process (--record in the app)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from conftest import TINY, wait_for, wait_until
from test_app import spec_for, step_of
from test_record import SMALL, record_run

from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import Trainer
from rnn_tui.replay_cli import make_replay_app
from rnn_tui.run.record import METRICS_FILE, read_recording
from rnn_tui.run.replay import ReplaySource
from rnn_tui.ui.app import make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.step_input import StepScreen, read_step

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def test_replay_keys_in_the_app(tiny, tmp_path: Path) -> None:
    """If this fails, the replay app shows other steps or losses than the recording's, its
    status does not say it is a replay, or its keys do not pause or move as promised, or the
    footer offers training keys a replay cannot carry out as if they worked."""
    records, _ = record_run(tmp_path / "r", [Trainer(tiny, SMALL)], 220)
    lines = [json.loads(x) for x in (tmp_path / "r" / METRICS_FILE).read_text().splitlines()]
    loss_at = {d["step"]: d["loss"] for d in lines}
    app = make_replay_app(str(tmp_path / "r"), speed=1 / 16)  # slow: the test moves it
    source = app.source
    assert isinstance(source, ReplaySource)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            assert app.status_bar.plain_text.startswith("REPLAY  tiny.txt")  # not TRAINING
            await pilot.press("space")
            await wait_for(pilot, lambda: app.state == "paused", what="the replay to pause")
            assert "replay paused" in app.notice
            await pilot.press("j")
            await wait_for(pilot, lambda: isinstance(app.screen, StepScreen))
            await pilot.press(*"150", "enter")
            await wait_for(pilot, lambda: step_of(app) == max(s for s in loss_at if s <= 150))
            assert app.snapshot.record.loss == pytest.approx(loss_at[step_of(app)], rel=1e-12)
            shown = app.status_bar.plain_text
            assert f"replay 0.0625x · step {step_of(app)} of 220" in shown
            assert shown.startswith("PAUSED")
            assert app.lanes[0].weights is not None and app.lanes[0].weights[1] == 100
            before = step_of(app)
            await pilot.press("left")
            await wait_for(pilot, lambda: step_of(app) < before, what="← to move back")
            await pilot.press("greater_than_sign")
            await wait_for(pilot, lambda: source.speed == 1 / 8)
            # Training keys are left out of the footer, and do nothing (what `s` would save is
            # in the recording folder already); the replay's own keys take their room, and
            # the screen's own keys stay as they were.
            shown = app.screen.active_bindings
            assert not {"n", "r", "plus", "c", "l", "s"} & set(shown), sorted(shown)
            assert all(shown[k].enabled for k in ("space", "t", "v", "h", "p", "i", "q"))
            footer = {shown[k].binding.description for k in shown if shown[k].binding.show}
            assert {"Speed", "Seek", "Jump"} <= footer, footer  # ← / → too, after j
            at, app.notice = step_of(app), ""
            await pilot.press("n", "r", "plus", "c", "l", "s")
            await pilot.pause(0.3)
            assert step_of(app) == at and app.notice == "" and app.paused
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert "Switch the cell" not in titles and "Prime the samples" in titles
            await pilot.press("right", "right", "right", "right", "right")
            await pilot.press(*">>>>>>>>>>")  # 128x: to the end at once
            await pilot.press("space")
            await wait_for(pilot, lambda: step_of(app) == 220, what="the replay's end")
            await wait_for(pilot, lambda: app.state == "paused")
            assert app.snapshot.record.loss == pytest.approx(records[0][-1].loss, rel=1e-12)
            await pilot.press("q")

    asyncio.run(main())
    assert not list(tmp_path.glob("*.npz"))  # nothing saved


def test_step_numbers_as_typed() -> None:
    """If this fails, j refuses a step typed as 1,200 or 1.2k, or takes text for a step."""
    assert [read_step(t) for t in ("1200", " 1,200 ", "1.2k", "3M", "0")] == [
        1200, 1200, 1200, 3_000_000, 0
    ]  # fmt: skip
    assert [read_step(t) for t in ("", "abc", "-5", "nan", "1e99")] == [None] * 5


def test_the_app_records_from_its_trainer_process(tiny, tmp_path: Path) -> None:
    """If this fails, `rnn-tui PATH --record DIR` (the app) leaves no recording, or one its
    replay cannot read, once the app has quit."""
    folder = tmp_path / "r"
    app = make_app(spec_for(), UISettings(), record=str(folder))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: step_of(app) >= 120, what="120 steps")
            await pilot.press("q")

    try:
        asyncio.run(main())
    finally:
        app.source.stop()
    rec = read_recording(str(folder))
    last = rec.runs[0].records[-1].step
    assert last >= 120
    assert [s for s, _ in rec.runs[0].checkpoints][:2] == [0, 100]
    assert rec.runs[0].checkpoints[-1][0] == last  # the end's weights, at its last line


def test_a_killed_recording_replays_to_its_last_line(tmp_path: Path) -> None:
    """If this fails, a headless run killed with SIGKILL (no chance to finish its files)
    leaves a recording that cannot be replayed."""
    import subprocess
    import sys

    folder = tmp_path / "r"
    argv = [sys.executable, "-m", "rnn_tui", str(TINY), "--headless", "--steps", "100000"]
    proc = subprocess.Popen(
        [*argv, "--hidden", "16", "--record", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        metrics = folder / METRICS_FILE
        wait_until(lambda: metrics.exists() and metrics.stat().st_size > 20_000, what="lines")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    data = metrics.read_bytes()
    complete = data[: data.rfind(b"\n") + 1].splitlines()
    rec = read_recording(str(folder))
    assert rec.runs[0].records[-1].step == json.loads(complete[-1])["step"]
    source = ReplaySource(rec)
    source.go_to(10**9)
    assert source.poll()[0].record.step == rec.runs[0].records[-1].step


def test_a_live_run_leaves_the_replay_keys_out(tiny) -> None:
    """If this fails, a live run's footer offers a replay's keys (speed, seek, jump), which
    do nothing there, or takes ← / → away from nothing."""
    from test_snapshots import fixed_app

    app = fixed_app()

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.booted)
            shown = app.screen.active_bindings
            assert not {"less_than_sign", "greater_than_sign", "j", "left", "right"} & set(shown)
            assert all(shown[k].enabled for k in ("space", "n", "r", "c", "l", "s"))
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert not {t for t in titles if t.startswith("Replay")}, titles
            await pilot.press("q")

    asyncio.run(main())
