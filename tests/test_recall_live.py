"""Key recall while training: in the trainer's records, the metrics lines, the headless progress
and the status line; and the --seconds time budget of headless runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY, wait_for

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.longlag import make_lines
from rnn_tui.engine.recall import key_recall, recall_task
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.status_bar import recall_text

SMALL = Config(hidden=16, seq_len=24, batch=4, eval_every=3, reset_at="\n")


@pytest.fixture
def longlag(tmp_path: Path) -> Path:
    """A small long-lag corpus: 200 lines of key, 20 dots, '=', key."""
    path = tmp_path / "longlag.txt"
    path.write_text(make_lines(200, 20))
    return path


def test_records_carry_recall_on_a_long_lag_corpus(longlag: Path) -> None:
    """If this fails, the recall shown is not the recall of the weights at the evaluation."""
    trainer = Trainer(load_corpus(longlag), SMALL)
    task = trainer.recall_task
    assert task is not None
    first, second, third = (trainer.step() for _ in range(3))
    assert first.key_recall is None and second.key_recall is None  # not evaluated yet
    assert third.val_step == 3 and third.key_recall is not None
    assert third.recall_chance == pytest.approx(1 / 8, abs=1e-12)
    # Measured on the weights the trainer holds after step 3 (recall reads, never writes).
    expected = key_recall(task, trainer.model, trainer.params)
    assert abs(third.key_recall - expected) < 1e-12
    assert 0.0 <= third.key_recall <= 1.0
    line = json.loads(json.dumps(third.to_json("rnn")))
    assert abs(line["key_recall"] - expected) < 1e-12
    assert line["recall_chance"] == pytest.approx(1 / 8, abs=1e-12)


def test_no_recall_on_other_corpora() -> None:
    """If this fails, a corpus without keys shows a meaningless recall figure."""
    trainer = Trainer(load_corpus(TINY), SMALL)
    assert trainer.recall_task is None
    records = [trainer.step() for _ in range(3)]
    assert records[-1].val_step == 3
    assert all(r.key_recall is None and r.recall_chance is None for r in records)
    line = json.loads(json.dumps(records[-1].to_json("rnn")))
    assert "key_recall" in line and line["key_recall"] is None


def test_recall_text() -> None:
    """If this fails, the status line names the recall figures wrongly or shows an empty one."""
    assert recall_text([]) == ""
    assert recall_text([("rnn", None, None)]) == ""
    assert recall_text([("", 0.96, 0.125)]) == "recall 96% (chance 1 in 8)"
    two = recall_text([("rnn", 0.13, 0.125), ("lstm", 0.96, 0.125)])
    assert two == "recall rnn 13% · lstm 96% (chance 1 in 8)"


# -- the command line ------------------------------------------------------------------------


def rnn_tui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rnn_tui", *args], capture_output=True, text=True, timeout=timeout
    )


FAST = ["--hidden", "16", "--seq-len", "16", "--batch", "8"]


@pytest.mark.functional
def test_headless_seconds_trains_for_a_while_then_stops() -> None:
    """If this fails, `--seconds` trains no steps, or never stops."""
    t0 = time.monotonic()
    out = rnn_tui(str(TINY), "--headless", "--seconds", "1", *FAST)
    wall = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    assert "1 s of training done" in out.stdout
    steps = int(out.stdout.split("sample at step ")[1].split(",")[0])
    assert steps > 0
    assert wall < 20, wall
    assert "recall" not in out.stdout  # tiny.txt has no keys to recall


@pytest.mark.functional
def test_headless_steps_still_stop_a_timed_run() -> None:
    """If this fails, --steps is ignored once --seconds is given: the first limit must stop."""
    out = rnn_tui(str(TINY), "--headless", "--seconds", "600", "--steps", "7", *FAST)
    assert out.returncode == 0, out.stderr
    assert "sample at step 7," in out.stdout and "of training done" not in out.stdout


@pytest.mark.functional
def test_headless_progress_shows_recall(longlag: Path, tmp_path: Path) -> None:
    """If this fails, a headless long-lag run does not say whether the key is remembered."""
    metrics = tmp_path / "m.jsonl"
    args = ["--hidden", "16", "--batch", "4", "--eval-every", "10", "--log-every", "10"]
    out = rnn_tui(
        str(longlag), "--headless", "--steps", "30", "--seq-len", "24", "--reset-at", "\\n",
        "--metrics", str(metrics), *args,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    task = recall_task(load_corpus(longlag))
    assert task is not None
    shown = [line for line in out.stdout.splitlines() if "recall " in line]
    assert shown and all(f"(chance 1 in {len(task.keys)})" in line for line in shown)
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in lines] == [10, 20, 30]
    assert all(r["key_recall"] is not None and 0 <= r["key_recall"] <= 1 for r in lines)


@pytest.mark.functional
@pytest.mark.parametrize("value", ["0", "-1", "abc", "inf"])
def test_bad_seconds_is_one_line_exit_2(value: str) -> None:
    """If this fails, a bad time budget gives a traceback, a usage wall, or a run."""
    out = rnn_tui(str(TINY), "--headless", f"--seconds={value}")
    assert out.returncode == 2
    assert "--seconds" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


@pytest.mark.functional
def test_seconds_without_headless_is_refused() -> None:
    """If this fails, `--seconds` in the app is silently ignored."""
    out = rnn_tui(str(TINY), "--seconds", "5")
    assert out.returncode == 2 and "--headless" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# -- the app ---------------------------------------------------------------------------------


def status_lines(corpus: Path) -> list[str]:
    """The status bar's lines once the app's run (120x40) has been evaluated a few times."""
    config = Config(hidden=16, seq_len=24, batch=4, eval_every=5, reset_at="\n")
    app = make_app(RunSpec(str(corpus), (config,)), UISettings())

    async def main() -> list[str]:
        async with app.run_test(size=(120, 40)) as pilot:

            def evaluated() -> bool:
                snap = app.snapshot
                return snap is not None and snap.record is not None and snap.record.step >= 15

            await wait_for(pilot, evaluated, what="three evaluations")
            await pilot.pause(0.3)  # the status follows the snapshots at TICK_HZ
            width = app.status_bar.content_region.width
            lines = app.status_bar.render().plain.splitlines()
            return [line for line in lines if len(line) <= width]  # lines shown whole

    return asyncio.run(main())


@pytest.mark.functional
def test_status_shows_recall_on_long_lag_only(longlag: Path) -> None:
    """If this fails, the class cannot see whether the model remembers the key."""
    assert any("recall " in line and "(chance 1 in 8)" in line for line in status_lines(longlag))
    assert not any("recall" in line for line in status_lines(TINY))
