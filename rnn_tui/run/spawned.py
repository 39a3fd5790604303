"""The trainer process, started with `os.posix_spawn`, and the two plain pipes it talks through.

`multiprocessing` did this job before. Importing it and making its two queues (named
semaphores, locks) took 8 to 11 ms of the app's first frame here. Its fork, made before
Textual loaded, cost the first frame some 1,500 copy-on-write page faults while Textual loaded
beside it. A spawned interpreter shares no pages with the app: the app pays about a
millisecond, and the trainer starts Python and imports NumPy on the other core.

The worker and its handle use a small part of a queue's interface, and `PipeQueue` gives that
part:
- `put`/`put_nowait` wait or refuse when `maxsize` items are waiting, as a full queue does;
- `get`/`get_nowait` raise `queue.Empty` as a queue does, and EOFError once the other end is
  gone;
- `close`, `join_thread` and `cancel_join_thread`.

`SpawnedProcess` gives the part of `multiprocessing.Process` the handle uses: `start`, `pid`,
`is_alive`, `exitcode`, `join`, `kill`.

Both processes are this program (the child runs `python -m rnn_tui.run.spawned`), so what
goes through the pipes is pickled, as `multiprocessing` pickles it: each message is its length
(8 bytes), then its pickle. The first message on the commands pipe is this process's
`sys.path` and the worker's arguments (see `main`), as multiprocessing sends them. Nothing
here touches a socket.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import signal
import struct
import sys
import threading
import time
from typing import Any

_LENGTH = struct.Struct("<Q")  # a message's byte count, before its bytes
_CLOSED = object()  # what `close` puts in a writing end's buffer: the feeder ends there
CMD_FD, SNAP_FD = 3, 4  # the descriptors a spawned worker reads commands from, writes to


class PipeQueue:
    """One direction of a pipe: a reading end (`rfd`) or a writing end (`wfd`).

    A writing end keeps what is put in a buffer. A feeder thread, started at the first put,
    pickles the items and writes them into the pipe in order. So a put never waits on a
    reader that is slow, stopped or gone. `maxsize` bounds the items in the buffer (0: no
    bound), as a queue's `maxsize` does. With `gate`, the feeder writes nothing until the
    event is set: the app's first frame does not share the interpreter with pickling. A
    reading end reads one message per `get`."""

    def __init__(
        self,
        rfd: int | None = None,
        wfd: int | None = None,
        maxsize: int = 0,
        gate: threading.Event | None = None,
    ) -> None:
        self._reader = io.FileIO(rfd, "rb") if rfd is not None else None
        self._writer = io.FileIO(wfd, "wb") if wfd is not None else None
        self._buffer: queue.Queue[Any] = queue.Queue(maxsize)  # items for the feeder
        self._gate = gate
        self._feeder: threading.Thread | None = None
        self._closed = False
        self._join = True  # whether `join_thread` waits for the feeder

    # -- the writing end ------------------------------------------------------------------

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue `item` for the pipe; with `maxsize` items waiting, wait up to `timeout` (or
        not at all without `block`) and raise queue.Full if no room came."""
        if self._closed or self._writer is None:
            raise ValueError("the queue is closed, or this is its reading end")
        if self._feeder is None:
            self._feeder = threading.Thread(target=self._feed, name="pipe-feeder", daemon=True)
            self._feeder.start()
        self._buffer.put(item, block, timeout)

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def _feed(self) -> None:
        """The feeder thread: pickle and write each buffered item, length first, until
        `close`; stop quietly once the reader has gone (a broken pipe)."""
        assert self._writer is not None
        if self._gate is not None:
            self._gate.wait()
        import pickle  # after the gate: an import holds the interpreter's lock for a while

        try:
            while (item := self._buffer.get()) is not _CLOSED:
                data = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
                self._write_all(_LENGTH.pack(len(data)) + data)
                if self._closed and self._buffer.empty():  # closed while the buffer was full
                    break
        except OSError:  # the other process has gone: nothing more can be written
            pass
        finally:
            self._writer.close()

    def _write_all(self, data: bytes) -> None:
        assert self._writer is not None
        view = memoryview(data)
        while view:
            view = view[self._writer.write(view) or 0 :]

    # -- the reading end ------------------------------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The next item. Raises queue.Empty if none began to arrive within `timeout` (at once
        without `block`), EOFError once the writing side has gone or closed its end."""
        import pickle
        import select

        if self._reader is None:
            raise ValueError("this is the queue's writing end")
        ready, _, _ = select.select([self._reader], [], [], timeout if block else 0.0)
        if not ready:
            raise queue.Empty
        (size,) = _LENGTH.unpack(self._read_exactly(_LENGTH.size))
        return pickle.loads(self._read_exactly(size))

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def _read_exactly(self, size: int) -> bytearray:
        assert self._reader is not None
        data = bytearray(size)
        view, got = memoryview(data), 0
        while got < size:
            n = self._reader.readinto(view[got:])
            if not n:  # end of file: the writer is gone, maybe in the middle of a message
                raise EOFError("the other process closed the pipe")
            got += n
        return data

    # -- both -----------------------------------------------------------------------------

    def close(self) -> None:
        """No more puts: the feeder writes what is buffered and closes the writing end. A
        reading end is closed at once: a `get` waiting in another thread raises ValueError
        when it wakes, and never reads the descriptor again, whatever it is reused for."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            if self._feeder is None:
                self._writer.close()
            else:  # the feeder ends at this mark, or after the last item if there is no room
                with contextlib.suppress(queue.Full):
                    self._buffer.put_nowait(_CLOSED)

    def join_thread(self) -> None:
        """Wait until the feeder has written everything put before `close`."""
        if self._join and self._feeder is not None:
            self._feeder.join()

    def cancel_join_thread(self) -> None:
        """`join_thread` returns at once from now on."""
        self._join = False


class SpawnedProcess:
    """A `python -m rnn_tui.run.spawned` child reading commands from `cmd_fd` and writing
    snapshots to `snap_fd` (descriptors of this process, given to the child as CMD_FD and
    SNAP_FD and closed here once it runs). `is_alive`, `exitcode`, `join` and `kill` follow it
    as `multiprocessing.Process`'s would: a negative exit code is the signal that ended it."""

    def __init__(self, cmd_fd: int, snap_fd: int, snapshots_max: int) -> None:
        self._fds: tuple[int, ...] = (cmd_fd, snap_fd)
        self._snapshots_max = snapshots_max
        self.pid: int | None = None  # None until started
        self.exitcode: int | None = None  # None until it has ended and been reaped

    def start(self) -> None:
        """Start the child: standard input from /dev/null (the app reads the terminal), the
        pipe ends at CMD_FD and SNAP_FD, this package first on its path."""
        import rnn_tui

        root = os.path.dirname(os.path.dirname(os.path.abspath(rnn_tui.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        cmd_fd, snap_fd = self._fds
        self.pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", __name__, str(self._snapshots_max)],
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, cmd_fd, CMD_FD),  # a duplicate is inherited; the
                (os.POSIX_SPAWN_DUP2, snap_fd, SNAP_FD),  # originals are close-on-exec
            ],
        )
        for fd in self._fds:
            os.close(fd)

    def close(self) -> None:
        """Give up a child never started: close the pipe ends it would have had."""
        if self.pid is None:
            for fd in self._fds:
                with contextlib.suppress(OSError):  # closed already
                    os.close(fd)
            self._fds = ()

    def _reap(self) -> bool:
        """Collect the child's exit status if it has ended; return whether it has."""
        if self.exitcode is not None:
            return True
        if self.pid is None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: its status is lost
            self.exitcode = 1
            return True
        if pid == 0:
            return False
        self.exitcode = os.waitstatus_to_exitcode(status)  # -N after signal N
        return True

    def is_alive(self) -> bool:
        return self.pid is not None and not self._reap()

    def join(self, timeout: float | None = None) -> None:
        """Wait up to `timeout` seconds (None: no limit) for the child to end."""
        end = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while self.pid is not None and not self._reap():
            if end is not None and time.monotonic() >= end:
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def kill(self) -> None:
        if self.pid is not None and self.exitcode is None:
            with contextlib.suppress(ProcessLookupError):  # ended since: nothing to kill
                os.kill(self.pid, signal.SIGKILL)


def spawnable() -> bool:
    """Whether this platform can start the worker this way (POSIX)."""
    return hasattr(os, "posix_spawn")


def worker_pipes(
    snapshots_max: int, gate: threading.Event
) -> tuple[SpawnedProcess, PipeQueue, PipeQueue]:
    """A (not yet started) worker and this side's ends of its pipes: the commands queue,
    written once `gate` is set, and the snapshots queue, read; `snapshots_max` bounds what
    the worker's feeder holds. Put (sys.path, the worker's arguments) first (see `main`)."""
    cmd_r, cmd_w = os.pipe()  # commands: this process writes, the worker reads
    snap_r, snap_w = os.pipe()  # snapshots: the worker writes, this process reads
    process = SpawnedProcess(cmd_r, snap_w, snapshots_max)
    return process, PipeQueue(wfd=cmd_w, gate=gate), PipeQueue(rfd=snap_r)


def main() -> None:
    """The spawned worker: load the trainer's code while the arguments are on their way, then
    run `worker_main` on them."""
    from rnn_tui.run import worker  # NumPy and the model code, before the first message

    commands = PipeQueue(rfd=CMD_FD)
    snapshots = PipeQueue(wfd=SNAP_FD, maxsize=int(sys.argv[1]))
    try:
        path, args = commands.get()
    except EOFError:  # the app ended before it sent them
        return
    sys.path[:] = path  # the app's: a trainer class named by module (tests) is found as there
    worker.worker_main(args[0], commands, snapshots, *args[1:])


if __name__ == "__main__":
    main()
