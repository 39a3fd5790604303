"""The run protocol: every command type does what it says, replies find their request, and a
dead worker answers nothing without hanging. The loop runs in this process on plain queues."""

from __future__ import annotations

import queue
import time
import typing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, wait_until

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run import protocol as p
from rnn_tui.run.history import CLIP_WINDOW, Run
from rnn_tui.run.source import TrainerProcess
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.worker import TrainerLoop

SMALL = Config(hidden=16, seq_len=8, batch=4, eval_every=5)


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def loop_of(tiny, tmp_path: Path, n: int = 1) -> TrainerLoop:
    cells = ["rnn", "lstm"][:n]
    trainers = [Trainer(tiny, SMALL.with_(cell=c)) for c in cells]
    return TrainerLoop(trainers, queue.Queue(), queue.Queue(maxsize=100), str(tmp_path / "log"))


def newest(loop: TrainerLoop) -> tuple[p.Snapshot, ...]:
    """The last snapshots the loop published, and every reply they carried on the way."""
    out, replies = None, []
    while not loop.snapshots.empty():
        out = loop.snapshots.get_nowait()
        replies += out[0].replies
    assert out is not None
    return (replace(out[0], replies=tuple(replies)), *out[1:])


def test_every_command_type_has_a_handler(tiny, tmp_path: Path) -> None:
    """If this fails, a command type was added to the protocol that the worker cannot obey."""
    loop = loop_of(tiny, tmp_path)
    commands = set(typing.get_args(p.Command)) - {p.Quit}
    assert commands == set(loop._handlers)


def test_commands_change_the_run_and_the_snapshot_says_so(tiny, tmp_path: Path) -> None:
    """If this fails, a key in the app sends a command the worker ignores or misreads."""
    loop = loop_of(tiny, tmp_path)
    loop.handle(p.Request(0, p.Step()))
    snap = newest(loop)[0]
    assert snap.state is p.RunState.PAUSED and snap.record.step == 1
    loop.handle(p.Request(0, p.Resume()))
    assert newest(loop)[0].state is p.RunState.TRAINING
    loop.handle(p.Request(0, p.Pause()))
    assert newest(loop)[0].state is p.RunState.PAUSED
    loop.handle(p.Request(0, p.SetHyper(lr=0.5, clip_mode="off")))
    snap = newest(loop)[0]
    assert (snap.lr, snap.clip_mode, snap.clip) == (0.5, "off", SMALL.clip)
    loop.handle(p.Request(0, p.Step()))
    loop.handle(p.Request(0, p.Reset()))
    snap = newest(loop)[0]
    assert snap.record is None and len(snap.loss_steps) == 0 and "reset" in snap.message
    loop.handle(p.Request(0, p.SwitchCell("lstm")))
    snap = newest(loop)[0]  # H=16 and lr 0.5 were set by hand: both kept
    assert (snap.cell, snap.hidden, snap.lr) == ("lstm", 16, 0.5) and "H=16, lr 0.5" in snap.message
    loop.handle(p.Request(0, p.SetHyper(lr=3e-3)))  # back at the RNN's (and the GRU's) default
    loop.handle(p.Request(0, p.SwitchCell("gru")))
    snap = newest(loop)[0]
    assert (snap.cell, snap.hidden, snap.lr) == ("gru", 16, 3e-3)
    loop.handle(p.Request(0, p.Quit()))
    assert not loop.running


def test_answered_commands_reply_under_their_id(tiny, tmp_path: Path) -> None:
    """If this fails, the app cannot tell which request an answer belongs to."""
    loop = loop_of(tiny, tmp_path, n=2)
    loop.handle(p.Request(0, p.Step()))
    target = tmp_path / "m.npz"
    loop.handle(p.Request(7, p.Save(str(target))))
    loop.handle(p.Request(8, p.Evaluate("the cat sat on the mat")))
    loop.handle(p.Request(9, p.Evaluate("\x00 not in the corpus")))
    replies = {r.id: r for r in newest(loop)[0].replies}
    assert set(replies) == {7, 8, 9}
    assert replies[7].ok and "m-rnn.npz" in replies[7].text and "m-lstm.npz" in replies[7].text
    assert load_checkpoint(tmp_path / "m-lstm.npz").config.cell == "lstm"
    assert replies[8].ok and len(replies[8].values) == 2
    assert all(2.0 < v < 4.5 for v in replies[8].values)  # about ln V before learning
    assert not replies[9].ok and "not in the vocabulary" in replies[9].text


def running_worker() -> TrainerProcess:
    """A trainer process that has sent its first snapshots."""
    proc = TrainerProcess(RunSpec(str(TINY), (SMALL,)))
    proc.start()
    wait_until(lambda: proc.poll() is not None, what="the worker's first snapshot")
    return proc


@pytest.mark.functional
def test_a_command_to_a_dead_worker_returns_at_once(tmp_path: Path) -> None:
    """If this fails, a key pressed after the trainer process died hangs the app."""
    proc = running_worker()
    try:
        proc.process.kill()
        proc.process.join(10)
        t0 = time.monotonic()
        proc.send(p.Pause())
        assert proc.request(p.Save(str(tmp_path / "x.npz")), timeout=5) is None
        assert time.monotonic() - t0 < 1.0
        assert proc.ended() == "trainer killed (SIGKILL)"
    finally:
        proc.stop()


@pytest.mark.functional
def test_a_spec_the_worker_cannot_build_is_reported(tmp_path: Path) -> None:
    """If this fails, a corpus that went away between the app's check and the worker's read
    leaves the app waiting forever instead of saying why."""
    gone = tmp_path / "gone.txt"
    proc = TrainerProcess(RunSpec(str(gone), (SMALL,)))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while proc.ended() is None:
            proc.poll()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.poll()
        assert "gone.txt" in proc.ended() and "no such file" in proc.ended()
    finally:
        proc.stop()


@pytest.mark.functional
def test_a_message_cut_by_a_killed_worker_never_blocks_the_poll(tmp_path: Path) -> None:
    """If this fails, a trainer killed in the middle of sending a snapshot (a weight copy takes
    a while to write) freezes the app: its next poll waits forever for the rest."""
    import os
    import struct
    import threading

    from rnn_tui.run.spawned import SNAP_FD

    proc = running_worker()
    # A second writing end of the worker's snapshot pipe, held open here: after the kill, the
    # reader finds a message cut short and no end of file, as when a writer is cut off mid-write.
    held = os.open(f"/proc/{proc.process.pid}/fd/{SNAP_FD}", os.O_WRONLY)
    try:
        proc.process.kill()
        proc.process.join(10)
        # What a worker killed mid-write leaves in the pipe: a length, and less than it says.
        os.write(held, struct.pack("<Q", 100_000) + b"half a snapshot")
        polled = threading.Event()

        def poll() -> None:
            for _ in range(10):
                proc.poll()
                time.sleep(0.05)
            polled.set()

        threading.Thread(target=poll, daemon=True).start()
        assert polled.wait(10), "poll() blocked on the cut message"
        assert proc.ended() == "trainer killed (SIGKILL)"
    finally:
        proc.stop()
        os.close(held)


def test_clip_share_counts_the_last_steps_exactly(tiny, tmp_path: Path) -> None:
    """If this fails, the gradient pane's 'clipped N% of the last 100 steps' is not the share
    of those steps that were clipped."""
    rng = np.random.default_rng(3)
    flags = [bool(x) for x in rng.random(257) < 0.37]
    trainer = Trainer(tiny, SMALL)
    first = trainer.step()
    run = Run(trainer)
    for i, flag in enumerate(flags):
        run.record(replace(first, step=i + 1, clipped=flag))
        recent = flags[max(0, i + 1 - CLIP_WINDOW) : i + 1]
        assert run.clips.steps == len(recent)
        assert run.clips.share == pytest.approx(sum(recent) / len(recent))
    snap = run.snapshot(p.RunState.PAUSED, "", 1)
    assert snap.clip_steps == CLIP_WINDOW
    assert snap.clip_share == pytest.approx(sum(flags[-CLIP_WINDOW:]) / CLIP_WINDOW)


def test_clip_share_counts_steps_no_snapshot_showed(tiny, tmp_path: Path) -> None:
    """If this fails, the share only counts the steps that happened to be published."""
    trainers = [Trainer(tiny, SMALL.with_(clip=1e-9))]  # every step is clipped
    loop = TrainerLoop(trainers, queue.Queue(), queue.Queue(maxsize=100), str(tmp_path / "log"))
    for _ in range(30):
        loop._train_step()
    loop.publish()
    snap = newest(loop)[0]
    assert (snap.clip_steps, snap.clip_share) == (30, 1.0)


def test_a_learning_rate_factor_keeps_each_runs_own_rate() -> None:
    """If this fails, + or - in a comparison whose cells train at their own rates (the
    lstm-rescue preset: rnn 0.03, lstm 0.1) sets both to one rate, or a factor escapes
    the range a learning rate may have."""
    from rnn_tui.engine.config import Config

    rnn, lstm = Config(cell="rnn", lr=0.03), Config(cell="lstm", lr=0.1)
    up = p.SetHyper(lr_factor=1.5)
    assert [up.applied_to(c).lr for c in (rnn, lstm)] == pytest.approx([0.045, 0.15], rel=1e-12)
    assert up.describe([up.applied_to(rnn), up.applied_to(lstm)]) == "lr rnn 0.045 · lstm 0.15"
    assert p.SetHyper(lr_factor=10.0).applied_to(Config(lr=5.0)).lr == 10.0
    assert p.SetHyper(lr_factor=0.5).applied_to(Config(lr=1.5e-6)).lr == 1e-6
    assert p.SetHyper(clip_mode="off").applied_to(lstm) == lstm.with_(clip_mode="off")


def test_learning_rates_read_as_one_figure_or_one_per_run() -> None:
    """If this fails, the status line, the notice after + / - and a command's description say
    the learning rate in different ways, or name no run where two runs differ."""
    assert p.lr_text([("rnn", 0.003)]) == "0.003"
    assert p.lr_text([("rnn", 0.003), ("lstm", 0.003)]) == "0.003"
    assert p.lr_text([("rnn", 0.03), ("lstm", 0.1)]) == "rnn 0.03 · lstm 0.1"
    assert p.lr_text([("rnn", 1 / 3)]) == "0.333"


def test_a_boosted_rate_is_shown_before_the_rate_it_falls_to() -> None:
    """If this fails, the status line shows the set rate while the first steps take up to three
    times it (the start-up boost), keeps showing a boost after it has ended, or grows wider
    while it lasts (a notice beside it would lose its end at 80 columns)."""
    assert p.lr_text([("rnn", 0.003)], [0.008664]) == "0.0087"
    assert p.lr_text([("rnn", 0.003)], [0.003]) == "0.003"
    both = p.lr_text([("rnn", 0.003), ("lstm", 0.005)], [0.009, 0.005])
    assert both == "rnn 0.009 · lstm 0.005"
