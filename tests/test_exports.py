"""What a class keeps after a run: screenshots and the export folder."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path

import pytest
from conftest import TINY, wait_for
from test_app import spec_for, step_of

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.data import load_corpus
from rnn_tui.run.protocol import Save
from rnn_tui.run.source import TrainerProcess
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets import SamplePane

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def run_app(app: RnnApp, script) -> None:
    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            await script(app, pilot)

    asyncio.run(main())


def test_p_saves_an_svg_screenshot_and_says_where(tiny, tmp_path: Path) -> None:
    """If this fails, a teacher cannot keep a picture of what the class saw."""
    app = make_app(spec_for(), UISettings(export_dir=str(tmp_path)))

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("p")
        await wait_for(pilot, lambda: "screenshot saved to" in app.notice)

    run_app(app, script)
    shots = list(tmp_path.glob("rnn-tui-*.svg"))
    assert len(shots) == 1 and str(shots[0]) in app.notice
    svg = shots[0].read_text()
    assert svg.startswith("<svg") and "gradient" in svg


def test_export_folder_holds_loss_metrics_samples_and_model(tiny, tmp_path: Path) -> None:
    """If this fails, `--export-dir` leaves out a file, or files that do not parse or do not
    match what was on screen."""
    out = tmp_path / "run"
    app = make_app(spec_for(), UISettings(export_dir=str(out), log_every=5))

    async def script(app: RnnApp, pilot) -> None:
        pane = app.query_one(SamplePane)
        await wait_for(pilot, lambda: len(pane.samples) >= 2 and step_of(app) > 100, 60)
        await pilot.press("e")
        await wait_for(pilot, lambda: "exported to" in app.notice)
        assert "a checkpoint" in app.notice

    run_app(app, script)
    # On quit the folder is written once more, with everything up to the end.
    snap = app.snapshot
    rows = list(csv.DictReader((out / "loss.csv").open()))
    train = [r for r in rows if r["curve"] == "train"]
    held = [r for r in rows if r["curve"] == "held-out"]
    assert len(train) == len(snap.loss_steps) and len(held) == len(snap.val_steps)
    assert all(r["cell"] == "rnn" for r in rows)
    assert float(train[0]["bits_per_char"]) == pytest.approx(
        float(train[0]["nats_per_char"]) / 0.6931, rel=1e-3
    )
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics and all(m["step"] % 5 == 0 for m in metrics)
    assert {"grad_t", "grad_last_t", "loss", "chars_per_s"} <= set(metrics[0])
    text = (out / "samples.txt").read_text()
    shown = sum(len(lane.samples_so_far()) for lane in app.lanes)
    assert text.count("## rnn · step ") == shown >= 2
    # Training stops before the final checkpoint: no metrics line comes after it.
    assert 0 <= load_checkpoint(out / "checkpoint.npz").step - metrics[-1]["step"] < 5


def test_e_without_an_export_folder_says_how(tiny) -> None:
    """If this fails, pressing e silently does nothing."""
    app = make_app(spec_for())

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("e")
        assert "--export-dir" in app.notice

    run_app(app, script)


def test_waiting_for_a_save_loses_no_snapshot(tiny, tmp_path: Path) -> None:
    """If this fails, pressing e (which waits for the worker's "saved" reply) throws away the
    snapshots read meanwhile, and with them the weight copy the sampler was waiting for."""
    proc = TrainerProcess(spec_for())
    proc.start()
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.05)
        reply = proc.request(Save(str(tmp_path / "m.npz")), timeout=10)
        assert reply is not None and reply.ok and reply.text.startswith("saved")
        kept = proc.poll()  # at once: the snapshots read while waiting, not new ones
        assert kept is not None and reply not in kept[0].replies  # the reply is not shown twice
    finally:
        proc.stop()
