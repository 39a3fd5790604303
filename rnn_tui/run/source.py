"""Where the app's snapshots come from: a *source*. The app renders the newest snapshots a
source has and sends commands to it if it takes them; widgets never know which source it is.

Today's source is a trainer process (`TrainerProcess`); a recorded run read from disk or a
run in another process reached over a socket are other sources of the same shape.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import signal
import threading
import time
from dataclasses import replace
from typing import Protocol

from rnn_tui.engine.model import Params
from rnn_tui.run.protocol import Command, Failure, Heartbeat, Quit, Reply, Request, Snapshot
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.worker import default_log_path, worker_main


class RunSource(Protocol):
    """What the app reads a run from, and sends commands to."""

    last_heard: float | None  # monotonic time the newest snapshot arrived, if any
    label: str  # what the status line says of the source ("" for a live trainer)

    def start(self, background: bool = False) -> None:
        """Begin producing snapshots (`background`: do not block the caller)."""

    def poll(self) -> tuple[Snapshot, ...] | None:
        """The newest snapshots (one per run) since the last poll, or None."""

    def send(self, command: Command) -> int:
        """Send a command; return the id its reply will carry."""

    def request(self, command: Command, timeout: float = 1.0) -> Reply | None:
        """Send a command and wait for its reply; None if none came in time."""

    def ended(self) -> str | None:
        """None while the source runs; once it has ended, how (one line)."""

    def stop(self, timeout: float = 2.0) -> None:
        """End the source and what it runs."""


class TrainerProcess:
    """The UI's handle on a worker process: send commands, poll the newest snapshot, stop.

    Create the first one before `App.run()`: a multiprocessing queue needs a resource tracker,
    which cannot be started inside a running Textual app (its stderr has no file descriptor
    there); once one runs, later handles (a restarted trainer) may be made at any time.
    """

    def __init__(
        self,
        spec: RunSpec,
        log_path: str | None = None,
        metrics_path: str | None = None,
        log_every: int = 10,
        record: str | None = None,
    ) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a clean interpreter: no UI state, no inherited threads
        self.log_path = log_path or default_log_path()
        self.commands = ctx.Queue()
        self.snapshots = ctx.Queue(maxsize=8)  # small: the worker drops, never piles up
        self._starter: threading.Thread | None = None
        self._held: list[tuple[Snapshot, ...]] = []  # read by `request`, handed out by `poll`
        self._ids = itertools.count(1)  # command ids, for matching replies
        self.failure = ""  # why the worker could not start its runs, if it could not
        self.last_heard: float | None = None  # monotonic time the last snapshot arrived
        self.label = ""  # a live trainer is what the status line shows by default
        # A thread moves snapshots from the pipe to this inbox, so the UI never reads the pipe:
        # a worker killed in the middle of a message leaves a read that never completes.
        self._inbox: queue.Queue[tuple[Snapshot, ...]] = queue.Queue()
        self._reader = threading.Thread(target=self._read_pipe, name="read-snapshots", daemon=True)
        self._stopping = threading.Event()
        # The child builds its trainers from the spec: the corpus is read where it is used.
        self.process = ctx.Process(
            target=worker_main,
            args=(
                spec,
                self.commands,
                self.snapshots,
                self.log_path,
                metrics_path,
                log_every,
                os.getpid(),  # the worker watches for this process to go
                record,  # --record DIR
            ),
            name="rnn-tui-trainer",
            daemon=True,
        )

    def start(self, background: bool = False) -> None:
        """Start the worker. Starting blocks for a few tenths of a second (a new interpreter);
        `background` does it in a thread so the UI draws at once. Commands sent meanwhile
        wait in the queue."""
        self._reader.start()
        if background:
            self._starter = threading.Thread(target=self.process.start, name="start-trainer")
            self._starter.start()
        else:
            self.process.start()

    def ended(self) -> str | None:
        """None while the worker runs (or is starting); once it is gone, how it ended."""
        if self.process.pid is None or self.process.is_alive():
            return None
        code = self.process.exitcode
        if self.failure:
            return self.failure
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the trainer process was killed ({name})"
        return f"the trainer process ended (exit code {code})"

    def send(self, command: Command) -> int:
        """Send a command; return its id (a reply to it, if any, carries the same id)."""
        cid = next(self._ids)
        if self.process.pid is None or self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.commands.put(Request(cid, command))
        return cid

    def _read_pipe(self) -> None:
        """The reader thread: snapshots into the inbox until the source stops (or the pipe
        breaks); a Failure is kept as `failure`."""
        while not self._stopping.is_set():
            try:
                item = self.snapshots.get(timeout=0.5)
            except queue.Empty:
                continue
            except (OSError, ValueError, EOFError):  # closed by stop()
                return
            self.last_heard = time.monotonic()
            if isinstance(item[0], Failure):
                self.failure = item[0].text
            elif not isinstance(item[0], Heartbeat):  # a heartbeat only says it lives
                self._inbox.put(item)

    def _read(self, timeout: float | None) -> tuple[Snapshot, ...] | None:
        """The next snapshots from the worker, or None if none came (within `timeout`)."""
        try:
            return self._inbox.get_nowait() if timeout is None else self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def poll(self) -> tuple[Snapshot, ...] | None:
        """The newest snapshots (one per run) since the last poll, or None. Weights, messages
        and replies carried by older snapshots in between are kept, so none is lost by
        skipping."""
        latest: tuple[Snapshot, ...] | None = None
        weights: dict[int, tuple[Params, int, str]] = {}  # run -> (weights, step, their cell)
        message = ""
        replies: list[Reply] = []
        held, self._held = self._held, []
        while True:
            snaps = held.pop(0) if held else self._read(None)
            if snaps is None:
                break
            latest = snaps
            for i, snap in enumerate(snaps):
                if snap.weights is not None:
                    weights[i] = (snap.weights, snap.weights_step, snap.cell)
            message = snaps[0].message or message
            replies.extend(snaps[0].replies)
        if latest is None:
            return None
        out = []
        for i, snap in enumerate(latest):
            # Carried over only to a snapshot of the same cell: weights of a cell the run has
            # since switched from would not fit the new one.
            if i in weights and snap.weights is None and weights[i][2] == snap.cell:
                snap = replace(snap, weights=weights[i][0], weights_step=weights[i][1])
            if i == 0:
                snap = replace(snap, message=message, replies=tuple(replies))
            out.append(snap)
        return tuple(out)

    def request(self, command: Command, timeout: float = 1.0) -> Reply | None:
        """Send a command and wait up to `timeout` seconds for the reply to it; None if none
        came. Snapshots read meanwhile, other replies included, are kept for the next `poll`."""
        if not self.process.is_alive():
            return None
        cid = self.send(command)
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            snaps = self._read(left)
            if snaps is None:
                if self.failure or not self.process.is_alive():
                    return None
                continue
            mine = [r for r in snaps[0].replies if r.id == cid]
            others = tuple(r for r in snaps[0].replies if r.id != cid)
            self._held.append((replace(snaps[0], replies=others), *snaps[1:]))
            if mine:
                return mine[0]
        return None

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to quit; kill it if it has not within `timeout` seconds (it ignores
        SIGTERM, which belongs to the app, so there is no gentler second try)."""
        self._stopping.set()
        if self._starter is not None:
            self._starter.join(timeout)  # never leave a worker that starts after we stopped
        if self.process.pid is None:
            return
        if self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.commands.put(Request(0, Quit()))
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()  # also what ends a stopped (SIGSTOP) worker
            self.process.join(1.0)
        for q in (self.commands, self.snapshots):
            q.cancel_join_thread()  # never block exit on a queue's feeder thread
            q.close()
