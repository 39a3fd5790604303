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
import sys
import tempfile
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from rnn_tui.run.spec import RunSpec

if TYPE_CHECKING:  # the protocol is imported where it is used: not before the first frame
    from rnn_tui.engine.model import Params
    from rnn_tui.run.protocol import Command, Reply, Snapshot


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

    def takes(self, kind: type[Command]) -> bool:
        """Whether the source carries out commands of type `kind`; any other it answers with a
        refusal (a replay does not train, a read-only viewer changes nothing). The app dims
        the keys of what its source refuses."""

    def ended(self) -> str | None:
        """None while the source runs; once it has ended, how (one line)."""

    def stop(self, timeout: float = 2.0) -> None:
        """End the source and what it runs."""


SNAPSHOTS_MAX = 8  # snapshots waiting for the app: few, so the worker drops, never piles up


def default_log_path() -> str:
    return os.path.join(tempfile.gettempdir(), f"rnn-tui-{os.getuid()}.log")


def _worker_main(*args: Any) -> None:
    """The trainer process's entry under multiprocessing: `worker.worker_main`, imported
    there, so that making the handle does not load NumPy and the model code here."""
    from rnn_tui.run.worker import worker_main

    worker_main(*args)


def _has_fd(stream: TextIO | None) -> bool:
    """Whether `stream` has a real file descriptor (a running Textual app's stderr has not)."""
    try:
        return stream is not None and stream.fileno() >= 0
    except (OSError, ValueError, AttributeError):
        return False


class TrainerProcess:
    """The UI's handle on a worker process: send commands, poll the newest snapshot, stop.

    Making the handle is cheap: the pipes and the process are made when first needed (`start`,
    or a command sent before it). Commands sent before the worker runs wait in the pipe.
    """

    def __init__(
        self,
        spec: RunSpec,
        log_path: str | None = None,
        metrics_path: str | None = None,
        log_every: int = 10,
        record: str | None = None,
    ) -> None:
        self.log_path = log_path or default_log_path()
        # What the child is given: it builds its trainers from the spec (the corpus is read
        # where it is used) and watches for this process to go.
        self._args = (spec, self.log_path, metrics_path, log_every, os.getpid(), record)
        self.process: Any = None  # the worker process, once made (`_open`)
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
        # Set by the first poll or request: only then does the reader unpickle snapshots. A
        # trainer started before the UI loads (launch.py) sends its first ones while Textual
        # loads, and reading them then would load NumPy in this process at the same time
        # (and, while the app loads NumPy itself, two threads importing it can break it).
        self._asked = threading.Event()
        # Set once the app is up (its call to `start` after the first frame, or as `_asked`):
        # only then are the worker's arguments and commands pickled and sent, so that none
        # of it shares this process's interpreter with the first frame.
        self._go = threading.Event()

    def _open(self) -> None:
        """Make the pipes and the (not yet started) process, once: a new, clean interpreter
        (no UI state, no inherited threads). On POSIX it is `python -m rnn_tui.run.spawned`
        with two plain pipes (`spawned.py`), whose first message is the worker's arguments;
        elsewhere multiprocessing's spawn, with its queues."""
        if self.process is not None:
            return
        from rnn_tui.run import spawned

        if spawned.spawnable():
            # The commands pipe carries nothing until the app is up (`_go`, see `start`):
            # the worker loads NumPy meanwhile, and this process draws its first frame.
            self.process, self.commands, self.snapshots = spawned.worker_pipes(
                SNAPSHOTS_MAX, self._go
            )
            self.commands.put((list(sys.path), self._args))  # what `spawned.main` reads first
            return
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        # The first pipe of a spawned worker starts multiprocessing's resource tracker, handed
        # stderr's descriptor: inside a running Textual app that is the terminal's own stderr.
        real = sys.stderr if _has_fd(sys.stderr) else sys.__stderr__
        with contextlib.redirect_stderr(real):
            self.commands = ctx.Queue()
            self.snapshots = ctx.Queue(maxsize=SNAPSHOTS_MAX)
        spec, log_path, metrics_path, log_every, parent, record = self._args
        self.process = ctx.Process(
            target=_worker_main,
            args=(spec, self.commands, self.snapshots, log_path, metrics_path, log_every)
            + (parent, record),  # the process to watch, and --record DIR
            name="rnn-tui-trainer",
            daemon=True,
        )

    def start(self, background: bool = False) -> None:
        """Start the worker. The command line starts it before the UI loads, and the app
        starts whatever source it is given once its first frame is out: that second call
        lets the commands pipe carry the worker's arguments and commands (as does the first
        poll or request), and starts nothing. Commands sent meanwhile wait for it.

        Spawned with `os.posix_spawn` (`spawned.py`), the worker costs this process about a
        millisecond, and loads NumPy on the other core while its arguments wait;
        multiprocessing's spawn, used where there is no posix_spawn, takes a few hundredths
        of a second, and `background` does that in a thread."""
        if self._reader.ident is not None or self._stopping.is_set():
            self._go.set()  # the app is up: pickling commands no longer delays it
            return  # started once already, or stopped
        self._open()
        self._reader.start()
        from rnn_tui.run.spawned import SpawnedProcess

        if background and not isinstance(self.process, SpawnedProcess):
            self._starter = threading.Thread(target=self.process.start, name="start-trainer")
            self._starter.start()
        else:
            self.process.start()

    def takes(self, kind: type[Command]) -> bool:
        """A trainer process carries out every command."""
        return True

    def ended(self) -> str | None:
        """None while the worker runs (or is starting); once it is gone, how it ended."""
        if self.process is None or self.process.pid is None or self.process.is_alive():
            return None
        code = self.process.exitcode
        if self.failure:
            return self.failure
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"trainer killed ({name})"
        return f"trainer ended (exit code {code})"

    def send(self, command: Command) -> int:
        """Send a command; return its id (a reply to it, if any, carries the same id)."""
        from rnn_tui.run.protocol import Request

        cid = next(self._ids)
        self._open()
        if self.process.pid is None or self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.commands.put(Request(cid, command))
        return cid

    def _read_pipe(self) -> None:
        """The reader thread: snapshots into the inbox until the source stops (or the pipe
        breaks); a Failure is kept as `failure`. It imports the protocol only once asked: an
        import on this thread while the UI loads Textual would hold the interpreter's lock in
        turns with it and delay the first frame."""
        self._asked.wait()  # set by the first poll or request, or by stop
        from rnn_tui.run.protocol import Failure, Heartbeat

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
        self._asked.set()
        self._go.set()
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
        self._asked.set()
        self._go.set()
        if self.process is None or not self.process.is_alive():
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
        from rnn_tui.run.protocol import Quit, Request

        self._stopping.set()
        self._asked.set()  # a reader still waiting for its first poll ends
        self._go.set()  # and the Quit below is written
        if self._starter is not None:
            self._starter.join(timeout)  # never leave a worker that starts after we stopped
        if self.process is None:
            return
        if self.process.pid is None:  # made but never started: only its pipes to close
            self._close_queues()
            self.process.close()
            return
        if self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.commands.put(Request(0, Quit()))
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()  # also what ends a stopped (SIGSTOP) worker
            self.process.join(1.0)
        self._close_queues()

    def _close_queues(self) -> None:
        for q in (self.commands, self.snapshots):
            q.cancel_join_thread()  # never block exit on a queue's feeder thread
            q.close()
