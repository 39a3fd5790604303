"""The pipes between the app and its trainer (rnn_tui/run/spawned.py): what a queue promised
the worker and its handle, kept by two plain pipes."""

from __future__ import annotations

import os
import queue
import threading
import time

import numpy as np
import pytest

from rnn_tui.run.spawned import PipeQueue


def pipe(maxsize: int = 0, gate: threading.Event | None = None) -> tuple[PipeQueue, PipeQueue]:
    """(writing end, reading end) of a new pipe."""
    r, w = os.pipe()
    return PipeQueue(wfd=w, maxsize=maxsize, gate=gate), PipeQueue(rfd=r)


def test_items_arrive_whole_and_in_order_even_larger_than_the_pipe() -> None:
    """If this fails, a snapshot (weights included: far more than a pipe's 64 KiB) arrives cut,
    merged with the next, or out of order."""
    writer, reader = pipe()
    big = np.arange(400_000, dtype=np.float32)  # 1.6 MB
    items = [("first", 1), big, {"reply": (2, 3)}, "last"]
    for item in items:
        writer.put(item)
    got = [reader.get(timeout=5) for _ in items]
    assert got[0] == items[0] and got[2] == items[2] and got[3] == items[3]
    assert np.array_equal(got[1], big)


def test_nothing_to_read_is_empty_and_a_gone_writer_is_the_end() -> None:
    """If this fails, the reader thread blocks forever on a silent trainer, or spins on one
    that has gone instead of ending."""
    writer, reader = pipe()
    with pytest.raises(queue.Empty):
        reader.get_nowait()
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        reader.get(timeout=0.2)
    assert time.monotonic() - t0 >= 0.15
    writer.put("one")
    writer.close()
    writer.join_thread()  # what was put before close is written
    assert reader.get(timeout=5) == "one"
    with pytest.raises(EOFError):
        reader.get(timeout=5)


def test_a_full_buffer_refuses_as_a_full_queue_does() -> None:
    """If this fails, a worker whose app reads nothing piles snapshots up without bound, or
    blocks where it asked not to."""
    gate = threading.Event()  # closed: the feeder takes nothing out of the buffer
    writer, _ = pipe(maxsize=2, gate=gate)
    writer.put(1)
    writer.put(2)
    with pytest.raises(queue.Full):
        writer.put_nowait(3)
    t0 = time.monotonic()
    with pytest.raises(queue.Full):
        writer.put(3, timeout=0.2)
    assert time.monotonic() - t0 >= 0.15
    gate.set()  # let the feeder drain and end
    writer.close()


def test_the_gate_holds_every_item_until_it_opens() -> None:
    """If this fails, the app pickles and writes commands (its first is the worker's
    arguments) while its first frame is being drawn."""
    gate = threading.Event()
    writer, reader = pipe(gate=gate)
    writer.put(("arguments",))
    writer.put("a command")
    with pytest.raises(queue.Empty):
        reader.get(timeout=0.3)
    gate.set()
    assert reader.get(timeout=5) == ("arguments",)
    assert reader.get(timeout=5) == "a command"


def test_a_writer_whose_reader_has_gone_neither_raises_nor_blocks() -> None:
    """If this fails, a trainer whose app died crashes with a broken pipe, or hangs on it,
    instead of noticing that its app is gone."""
    writer, reader = pipe(maxsize=4)
    reader.close()
    for i in range(4):
        writer.put(i, timeout=1)  # the feeder meets the broken pipe and stops
    writer.close()
    end = time.monotonic() + 5
    while writer._feeder is not None and writer._feeder.is_alive() and time.monotonic() < end:
        time.sleep(0.01)
    assert writer._feeder is not None and not writer._feeder.is_alive()


def test_a_reading_end_closed_under_a_waiting_get_never_reads_again() -> None:
    """If this fails, the app's reader thread outlives `stop` and may read a later pipe that
    reused the closed descriptor's number."""
    writer, reader = pipe()
    outcome: list[str] = []

    def wait() -> None:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                reader.get(timeout=0.2)
                outcome.append("read")
                return
            except queue.Empty:
                continue
            except (ValueError, OSError):
                outcome.append("closed")
                return

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.1)
    reader.close()
    writer.put("for a pipe that is no longer read")
    thread.join(5)
    assert outcome == ["closed"]


def _pipes() -> set[str]:
    """The pipes this process holds open, by descriptor and pipe."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed since
            continue
        if target.startswith("pipe:"):
            held.add(f"{fd} {target}")
    return held


def _new(threads: set[threading.Thread], names: set[str]) -> list[str]:
    """The threads called one of `names` that were not among `threads`."""
    return [t.name for t in threading.enumerate() if t not in threads and t.name in names]


@pytest.mark.functional
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")
def test_a_stopped_trainer_leaves_no_pipe_or_thread_behind() -> None:
    """If this fails, every new cell (l) or restart (r) leaks descriptors or threads into the
    app, and a long class session runs out of them; a trainer told a command but never
    started leaks them too."""
    from conftest import TINY

    from rnn_tui.engine.config import Config
    from rnn_tui.run import protocol as p
    from rnn_tui.run.source import TrainerProcess
    from rnn_tui.run.spec import RunSpec

    ours = {"pipe-feeder", "read-snapshots"}
    before, threads = _pipes(), set(threading.enumerate())
    never = TrainerProcess(RunSpec(str(TINY), (Config(),)))
    never.send(p.Pause())  # makes the pipes and the feeder, starts nothing
    never.stop()
    ran = TrainerProcess(RunSpec(str(TINY), (Config(),)))
    ran.start()
    end = time.monotonic() + 60
    while ran.poll() is None and time.monotonic() < end:
        time.sleep(0.05)
    ran.stop()
    end = time.monotonic() + 5
    while time.monotonic() < end and (_pipes() - before or _new(threads, ours)):
        time.sleep(0.05)
    assert _pipes() - before == set()
    assert not _new(threads, ours)
    assert not ran.process.is_alive()
