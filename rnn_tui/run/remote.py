"""A run in another process reached over TCP (`rnn-tui attach`): a source like the trainer
process, fed by a publisher (`rnn_tui.run.listen`) in the frames of `rnn_tui.run.wire`.

A reader thread takes frames off the socket as they come and keeps the newest snapshots (latest
wins), with the weights, notices and replies of the ones in between, so `poll` never waits on
the network. Read-only, the source answers commands that would change the run or write on its
side itself, with a refusal; the publisher refuses them too.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import threading
import time
from dataclasses import replace

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import Params, make_cell
from rnn_tui.errors import UserError
from rnn_tui.run.protocol import (
    Command,
    Evaluate,
    Heartbeat,
    Pause,
    Reply,
    Request,
    Reset,
    Resume,
    Save,
    SetHyper,
    Snapshot,
    Step,
    SwitchCell,
)
from rnn_tui.run.wire import (
    End,
    Hello,
    Refused,
    Snapshots,
    Welcome,
    WireError,
    encode,
    read_message,
)

CONNECT_TIMEOUT = 10.0  # seconds to connect and be welcomed
# A file: at its end, the source appends one JSON line of what it read (for the benchmark).
TRACE_ENV = "RNN_TUI_ATTACH_TRACE"
QUERIES = (Evaluate,)  # what a read-only viewer may ask
# What a refusal says each command would have done.
_WHAT = {
    Pause: "pause",
    Resume: "resume",
    Step: "step",
    Reset: "reset",
    SetHyper: "change settings",
    SwitchCell: "switch cells",
    Save: "save on the trainer's side",
}


def refusal(command: Command) -> str:
    """What a read-only viewer is told when it asks for `command`."""
    what = _WHAT.get(type(command), "change the run")
    return f"read-only: attach with --control to {what}"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class RemoteSource:
    """Snapshots of a run published on `host:port`, for the app."""

    def __init__(self, sock: socket.socket, welcome: Welcome, where: str) -> None:
        self.sock = sock
        self.welcome = welcome  # what the run is
        self.where = where  # host:port, for messages
        self.control = welcome.control  # whether commands are carried out
        self.label = ""  # the status line shows the run's own state and step, as live
        self.configs = tuple(Config.from_json(c) for c in welcome.configs)
        self.last_heard: float | None = time.monotonic()
        self.bytes_read = 0  # since the welcome
        self.snapshots_read = 0  # since the welcome
        self.started = time.monotonic()
        self._lock = threading.Condition()
        self._latest: tuple[Snapshot, ...] | None = None
        self._fresh = False  # `_latest` not yet polled
        self._weights: dict[int, tuple[Params, int]] = {}  # weights since the last poll
        self._message = ""
        self._replies: list[Reply] = []  # replies not yet polled (nor taken by `request`)
        self._ended: str | None = None
        self._leaving = False  # `stop` was called: a closed connection is not news
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="read-remote", daemon=True)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        token: str,
        control: bool = False,
        timeout: float = CONNECT_TIMEOUT,
    ) -> RemoteSource:
        """Connect, give the token, and take the welcome; a UserError (one line) if any of it
        fails: nobody listens, the token is wrong, the other side is not an rnn-tui trainer."""
        where = f"{host}:{port}"
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise UserError(f"cannot attach to {where}: {exc.strerror or exc}") from None
        try:
            sock.sendall(encode(Hello(token, control)))
            msg = read_message(lambda n: _recv_exact(sock, n))
        except (OSError, EOFError, WireError) as exc:
            sock.close()
            detail = "it closed the connection" if isinstance(exc, EOFError) else str(exc)
            raise UserError(f"cannot attach to {where}: not an rnn-tui run ({detail})") from None
        if isinstance(msg, Refused):
            sock.close()
            raise UserError(f"cannot attach to {where}: {msg.text}")
        if not isinstance(msg, Welcome):
            sock.close()
            raise UserError(f"cannot attach to {where}: it did not welcome us")
        sock.settimeout(None)
        try:
            source = cls(sock, msg, where)
        except UserError as exc:
            sock.close()
            raise UserError(f"cannot attach to {where}: its settings: {exc}") from None
        source.start()
        return source

    # -- the reader thread ----------------------------------------------------------------------

    def _read(self) -> None:
        try:
            while True:
                msg = read_message(self._recv)
                self.last_heard = time.monotonic()
                if isinstance(msg, Snapshots):
                    self._take(msg.runs)
                elif isinstance(msg, Reply):
                    with self._lock:
                        self._replies.append(msg)
                        self._lock.notify_all()
                elif isinstance(msg, End):
                    self._end(f"the run at {self.where} ended: {msg.text}")
                    return
                elif not isinstance(msg, Heartbeat):
                    raise WireError(f"unexpected {type(msg).__name__}")
        except (OSError, EOFError):
            self._end(f"the run at {self.where} went away (connection closed)")
        except WireError as exc:
            self._end(f"the run at {self.where} sent a malformed message ({exc})")

    def _recv(self, n: int) -> bytes:
        data = _recv_exact(self.sock, n)
        self.bytes_read += n
        return data

    def _end(self, text: str) -> None:
        with self._lock:
            if self._ended is None and not self._leaving:
                self._ended = text
            self._lock.notify_all()
        with contextlib.suppress(OSError):
            self.sock.close()

    def _check_weights(self, snap: Snapshot) -> None:
        """Weights of the shapes the snapshot's cell has, or the sampler would fail on them."""
        if snap.weights is None:
            return
        c = self.configs[0]
        cell = make_cell(snap.cell, len(self.welcome.chars), c.hidden, c.dtype)
        shapes = {k: v.shape for k, v in snap.weights.items()}
        if shapes != cell.param_shapes():
            raise WireError(f"weights of other shapes than a {snap.cell} of H={c.hidden} has")

    def _take(self, runs: tuple[Snapshot, ...]) -> None:
        if len(runs) > len(self.configs):
            raise WireError(f"{len(runs)} runs where the welcome said {len(self.configs)}")
        for snap in runs:
            self._check_weights(snap)
        with self._lock:
            self.snapshots_read += 1
            self._latest, self._fresh = runs, True
            for i, snap in enumerate(runs):
                if snap.weights is not None:
                    self._weights[i] = (snap.weights, snap.weights_step)
            self._message = runs[0].message or self._message
            self._replies.extend(runs[0].replies)
            self._lock.notify_all()

    # -- the source ---------------------------------------------------------------------------

    def start(self, background: bool = False) -> None:
        """Begin reading (if `connect` has not): frames are read from the welcome on, so none
        pile up, stale, while the app starts."""
        if self._reader.ident is None:  # never started
            self._reader.start()

    def poll(self) -> tuple[Snapshot, ...] | None:
        """The newest snapshots since the last poll (with the weights, notice and replies of
        any in between), or None; the latest again when only replies are new."""
        with self._lock:
            if self._latest is None or not (self._fresh or self._replies):
                return None
            out = []
            for i, snap in enumerate(self._latest):
                if i in self._weights and snap.weights is None:
                    w, step = self._weights[i]
                    snap = replace(snap, weights=w, weights_step=step)
                elif i not in self._weights:
                    snap = replace(snap, weights=None)  # already handed out
                if i == 0:
                    snap = replace(snap, message=self._message, replies=tuple(self._replies))
                out.append(snap)
            self._weights.clear()
            self._message, self._replies, self._fresh = "", [], False
            self._latest = (replace(out[0], message="", replies=()), *out[1:])
            return tuple(out)

    def send(self, command: Command) -> int:
        """Send a command; read-only, answer it here with a refusal (a query goes through)."""
        cid = next(self._ids)
        if not self.control and not isinstance(command, QUERIES):
            with self._lock:
                self._replies.append(Reply(cid, False, refusal(command)))
                self._lock.notify_all()
            return cid
        frame = encode(Request(cid, command))
        try:
            with self._send_lock:
                self.sock.sendall(frame)
        except OSError:
            self._end(f"the run at {self.where} went away (connection closed)")
        return cid

    def request(self, command: Command, timeout: float = 1.0) -> Reply | None:
        """Send a command and wait up to `timeout` seconds for its reply."""
        cid = self.send(command)
        end = time.monotonic() + timeout
        with self._lock:
            while True:
                mine = [r for r in self._replies if r.id == cid]
                if mine:
                    self._replies.remove(mine[0])
                    return mine[0]
                left = end - time.monotonic()
                if left <= 0 or self._ended is not None:
                    return None
                self._lock.wait(left)

    def takes(self, kind: type[Command]) -> bool:
        """With --control, every command; read-only, the queries alone (`send` refuses the
        rest)."""
        return self.control or issubclass(kind, QUERIES)

    def ended(self) -> str | None:
        return self._ended

    def stop(self, timeout: float = 2.0) -> None:
        """Leave: close the connection (the run goes on without us)."""
        if self._leaving:
            return
        self._leaving = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        if self._reader.is_alive():
            self._reader.join(timeout)
        if trace := os.environ.get(TRACE_ENV):
            line = {
                "seconds": time.monotonic() - self.started,
                "snapshots": self.snapshots_read,
                "bytes": self.bytes_read,
            }
            with contextlib.suppress(OSError), open(trace, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
