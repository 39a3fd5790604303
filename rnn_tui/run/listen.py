"""Publishing a run on a TCP socket (`--listen`), for viewers that attach (`rnn-tui attach`).

The process that owns a run's snapshots hands each new set to `Listener.publish`, which only
swaps a reference: it never waits for a viewer. Every viewer has a publisher thread of its own
that sends the newest snapshots once its socket takes them (latest wins, as in the app), so a
slow or stuck viewer delays nobody but itself; weight copies and notices carried by snapshots
it skipped are kept for it, as `TrainerProcess.poll` keeps them for the app. A reader thread per
viewer takes its requests: a read-only viewer may only ask queries (`Evaluate`); with control it
may also pause, step, change settings and save, and no viewer may end the run (`Quit`).

A connection must send the right token first (compared in constant time) within
HELLO_TIMEOUT; a wrong token, a malformed or oversized frame, or a frame left half-sent for
FRAME_TIMEOUT closes that connection and nothing else. Frames are those of `rnn_tui.run.wire`.

Two owners publish: a headless run (`HeadlessRuns`, trainers in this process) and the app
(`PublishingSource`, which republishes what the app's source yields).
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import queue
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.model import Params
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.address import ListenPlan, listening_line
from rnn_tui.run.history import Run
from rnn_tui.run.outputs import cell_paths
from rnn_tui.run.protocol import (
    Baselines,
    Command,
    Evaluate,
    Heartbeat,
    Pause,
    Quit,
    Reply,
    Request,
    Reset,
    Resume,
    RunState,
    Save,
    SetHyper,
    Snapshot,
    Step,
    SwitchCell,
)
from rnn_tui.run.source import RunSource
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.wire import (
    SMALL,
    VERSION,
    End,
    Hello,
    Message,
    Refused,
    Snapshots,
    Welcome,
    WireError,
    encode,
    read_message,
)

SNAPSHOT_HZ = 10.0  # snapshots per second a headless run publishes (as the trainer process)
HEARTBEAT = 1.0  # seconds without news after which a viewer is told the run lives
HELLO_TIMEOUT = 5.0  # seconds a new connection has to send its token
FRAME_TIMEOUT = 10.0  # seconds a frame may take to arrive once its first byte has
END_GRACE = 1.0  # seconds publishers get to say goodbye when the run ends
MAX_VIEWERS = 64  # connections at once (handshakes included); more are closed at once
QUERIES = (Evaluate,)  # what a read-only viewer may ask: it changes nothing
ANSWERED = (Reset, SetHyper, SwitchCell, Save, Evaluate)  # what a run replies to (not Pause...)
MAX_WAITING = 8  # a viewer's requests not yet answered; more are refused (no flooding)


class Closed(Exception):
    """The other side closed the connection, or this side is closing it."""


def welcome_for(spec: RunSpec, chars: tuple[str, ...]) -> Welcome:
    """What viewers of the runs of `spec` are told first (`control` is set per viewer)."""
    return Welcome(spec.corpus, spec.lag, tuple(c.to_json() for c in spec.configs), chars, False)


class Sink(Protocol):
    """Where a viewer's commands go: the run's owner. Replies come back in published snapshots
    (`Snapshot.replies`), carrying the id `send` returned."""

    def send(self, command: Command) -> int: ...


class _Viewer:
    """One attached viewer: its socket, the replies waiting for it, its two threads."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address
        self.control = False
        self.closed = False
        self.replies: deque[Reply] = deque(maxlen=256)  # answers to its requests, to send
        self.bytes_sent = 0

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on this socket

    def recv_exact(self, n: int, started: list[float]) -> bytes:
        """Exactly `n` bytes. Waits as long as it takes for a frame's first byte (waking to
        notice a close); once a frame has begun (`started` holds its start time), the whole
        frame must be in within FRAME_TIMEOUT."""
        chunks, got = [], 0
        while got < n:
            if started:
                left = started[0] + FRAME_TIMEOUT - time.monotonic()
                if left <= 0:
                    raise WireError("a frame left half-sent")
            else:
                left = 0.5
            if self.closed:
                raise Closed
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            chunk = self.sock.recv(min(n - got, 1 << 16))
            if not chunk:
                raise Closed
            if not started:
                started.append(time.monotonic())
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def read(self, limits: tuple[int, int] = SMALL) -> Message:
        started: list[float] = []
        return read_message(lambda n: self.recv_exact(n, started), limits)


class Listener:
    """The socket viewers attach to, and what it publishes to them."""

    def __init__(self, plan: ListenPlan, welcome: Welcome, sink: Sink | None = None) -> None:
        self.plan = plan
        self.welcome = welcome  # what every viewer is told first (its `control` is per viewer)
        self.sink = sink  # where commands go; None: none are taken
        self.address = (plan.host, plan.port)  # the bound address once started (port 0: any)
        self._server: socket.socket | None = None
        self._cond = threading.Condition()
        self._latest: tuple[Snapshot, ...] | None = None  # the newest snapshots, replies left out
        self._version = 0  # increases with each publish
        self._weights: dict[int, tuple[Params, int, int]] = {}  # run -> weights, step, version
        self._message: tuple[str, int] = ("", 0)  # the newest notice and its version
        self._routes: dict[int, tuple[_Viewer, int]] = {}  # sink's id -> (viewer, viewer's id)
        self._viewers: set[_Viewer] = set()
        self._end: str | None = None  # set when the run ends: why
        self._encoded: dict[tuple[int, ...], bytes] = {}  # frames of the newest version, shared
        self._threads: list[threading.Thread] = []

    # -- the owner's side ---------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Bind and start taking connections; return the address bound (a UserError if the
        address cannot be used)."""
        host, port = self.address
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family, _, _, _, addr = infos[0]
            server = socket.socket(family, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(addr)
            server.listen(16)
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        server.settimeout(0.5)  # the accept loop looks at `_end` this often
        self._server = server
        self.address = server.getsockname()[:2]
        self._spawn(self._accept, "listen-accept")
        return self.address

    def publish(self, snaps: tuple[Snapshot, ...]) -> tuple[Snapshot, ...]:
        """Make `snaps` the newest for every viewer (never waits for one). Replies to viewers'
        requests are taken out and sent to them; returns `snaps` without those."""
        first = snaps[0]
        mine = [r for r in first.replies if r.id in self._routes]
        others = tuple(r for r in first.replies if r.id not in self._routes)
        with self._cond:
            self._version += 1
            for i, s in enumerate(snaps):
                if s.weights is not None:
                    self._weights[i] = (s.weights, s.weights_step, self._version)
            if first.message:
                self._message = (first.message, self._version)
            self._latest = (replace(first, replies=(), weights=None, message=""),) + tuple(
                replace(s, weights=None) for s in snaps[1:]
            )
            for r in mine:
                viewer, vid = self._routes.pop(r.id)
                viewer.replies.append(Reply(vid, r.ok, r.text, r.values))
            self._encoded.clear()
            self._cond.notify_all()
        return snaps if not mine else (replace(first, replies=others), *snaps[1:])

    def close(self, text: str) -> None:
        """The run has ended: tell every viewer `text`, then close every connection."""
        with self._cond:
            if self._end is not None:
                return
            self._end = text
            self._cond.notify_all()
        deadline = time.monotonic() + END_GRACE
        for t in list(self._threads):
            if t.name.startswith("listen-publish"):
                t.join(max(0.0, deadline - time.monotonic()))
        for v in list(self._viewers):
            v.close()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    # -- connections --------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _accept(self) -> None:
        assert self._server is not None
        while self._end is None:
            try:
                sock, addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            if len(self._viewers) >= MAX_VIEWERS:
                sock.close()
                continue
            sock.settimeout(None)  # blocking: reads wait in select, sends block one viewer only
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            viewer = _Viewer(sock, f"{addr[0]}:{addr[1]}")
            self._viewers.add(viewer)
            self._spawn(self._serve, "listen-viewer", viewer)

    def _serve(self, viewer: _Viewer) -> None:
        """One connection: the handshake, then its requests until it closes; any error in
        what it sends closes it (and only it)."""
        try:
            if not self._handshake(viewer):
                return
            self._spawn(self._publish_to, "listen-publish", viewer)
            while not viewer.closed:
                msg = viewer.read()
                if not isinstance(msg, Request):
                    raise WireError(f"a viewer may only send requests, not {type(msg).__name__}")
                self._take(viewer, msg)
        except (WireError, Closed, OSError, ValueError):
            pass  # this connection ends; the run and the other viewers go on
        finally:
            viewer.close()
            self._viewers.discard(viewer)
            with self._cond:
                self._cond.notify_all()  # its publisher sees `closed` and ends
            with contextlib.suppress(OSError):
                viewer.sock.close()

    def _handshake(self, viewer: _Viewer) -> bool:
        """The token first, within HELLO_TIMEOUT: then `Welcome`, or `Refused` and close."""
        timer = threading.Timer(HELLO_TIMEOUT, viewer.close)
        timer.start()
        try:
            hello = viewer.read()
        finally:
            timer.cancel()
        if not isinstance(hello, Hello):
            raise WireError("the first message must be a hello")
        good = hmac.compare_digest(hello.token.encode(), self.plan.token.encode())
        if not good or hello.version != VERSION:
            text = "wrong token" if not good else f"this trainer speaks version {VERSION}"
            with contextlib.suppress(OSError):
                viewer.sock.sendall(encode(Refused(text)))
            return False
        viewer.control = hello.control and self.sink is not None
        viewer.sock.sendall(encode(replace(self.welcome, control=viewer.control)))
        return True

    def _take(self, viewer: _Viewer, request: Request) -> None:
        """Carry out a viewer's request, or refuse it."""
        cmd = request.command
        refusal = ""
        if self.sink is None:
            refusal = "this run takes no commands"
        elif isinstance(cmd, Quit):
            refusal = "a viewer cannot end the run"
        elif not viewer.control and not isinstance(cmd, QUERIES):
            refusal = "read-only: attach with --control to change the run"
        elif isinstance(cmd, QUERIES) and not request.id:
            return  # a query nobody waits for would only cost the trainer time
        with self._cond:
            waiting = sum(1 for v, _ in self._routes.values() if v is viewer)
            if not refusal and isinstance(cmd, ANSWERED) and waiting >= MAX_WAITING:
                refusal = f"{waiting} requests of this viewer are still waiting for the trainer"
            if refusal:
                if request.id:
                    viewer.replies.append(Reply(request.id, False, refusal))
                    self._cond.notify_all()
                return
            assert self.sink is not None
            sid = self.sink.send(cmd)  # under the lock: its reply cannot be published before
            if request.id and isinstance(cmd, ANSWERED):  # the route to it is known
                self._routes[sid] = (viewer, request.id)

    def _snapshot_frame(
        self,
        version: int,
        latest: tuple[Snapshot, ...],
        weights: dict[int, tuple[Params, int, int]],
        message: str,
        new_w: tuple[int, ...],
    ) -> bytes:
        """The frame of snapshots `version` with the weights of runs `new_w` and `message`,
        encoded once for every viewer that needs the same."""
        key = (version, int(bool(message)), *new_w)
        with self._cond:
            frame = self._encoded.get(key)
        if frame is not None:
            return frame
        runs = list(latest)
        for i in new_w:
            runs[i] = replace(runs[i], weights=weights[i][0], weights_step=weights[i][1])
        runs[0] = replace(runs[0], message=message)
        frame = encode(Snapshots(tuple(runs)))
        with self._cond:
            if version == self._version:
                self._encoded[key] = frame
        return frame

    def _publish_to(self, viewer: _Viewer) -> None:
        """The viewer's publisher: the newest snapshots when there are any, its replies, a
        heartbeat after HEARTBEAT seconds of nothing, the end of the run."""
        sent_version = 0
        sent_weights: dict[int, int] = {}  # run -> version of the weights this viewer has
        with self._cond:
            sent_message = self._message[1]  # a notice from before it came is not news
        last_send = time.monotonic()
        try:
            while not viewer.closed:
                with self._cond:
                    self._cond.wait_for(
                        lambda seen=sent_version: (
                            viewer.closed
                            or self._end is not None
                            or bool(viewer.replies)
                            or self._version != seen
                        ),
                        timeout=max(0.0, last_send + HEARTBEAT - time.monotonic()),
                    )
                    end, latest, version = self._end, self._latest, self._version
                    weights, message = dict(self._weights), self._message
                    replies = list(viewer.replies)
                    viewer.replies.clear()
                frames = [encode(r) for r in replies]
                if latest is not None and version != sent_version:
                    new_w = tuple(
                        i
                        for i, w in sorted(weights.items())
                        if i < len(latest) and w[2] != sent_weights.get(i)
                    )
                    text = message[0] if message[1] > sent_message else ""
                    frames.append(self._snapshot_frame(version, latest, weights, text, new_w))
                    sent_version, sent_message = version, message[1]
                    sent_weights.update({i: weights[i][2] for i in new_w})
                if end is not None:
                    frames.append(encode(End(end)))
                if not frames and time.monotonic() - last_send >= HEARTBEAT:
                    frames.append(encode(Heartbeat()))
                for frame in frames:
                    viewer.sock.sendall(frame)  # blocks this viewer's thread only
                    viewer.bytes_sent += len(frame)
                if frames:
                    last_send = time.monotonic()
                if end is not None:
                    return
        except (OSError, WireError):
            viewer.close()


# -- the app's run, published ----------------------------------------------------------------------


class PublishingSource:
    """The app's source, also published: each poll's snapshots go to the listener, which takes
    out the replies meant for viewers; viewers' commands go to this source. The app does not
    know: it reads this as it would the source itself.

    Republishing what the app polls needs nothing of the trainer process, and the snapshots
    are then those the app merged (weights and notices of skipped ones kept); a trainer the app
    restarts (r) is wrapped again and published by the same listener."""

    def __init__(self, inner: RunSource, listener: Listener) -> None:
        self.inner = inner
        self.listener = listener
        listener.sink = inner

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.inner.label

    @property
    def last_heard(self) -> float | None:  # type: ignore[override]
        return self.inner.last_heard

    def start(self, background: bool = False) -> None:
        self.inner.start(background)

    def poll(self) -> tuple[Snapshot, ...] | None:
        snaps = self.inner.poll()
        return None if snaps is None else self.listener.publish(snaps)

    def send(self, command: Command) -> int:
        return self.inner.send(command)

    def request(self, command: Command, timeout: float = 1.0) -> Reply | None:
        return self.inner.request(command, timeout)

    def takes(self, kind: type[Command]) -> bool:
        return self.inner.takes(kind)

    def ended(self) -> str | None:
        return self.inner.ended()

    def stop(self, timeout: float = 2.0) -> None:
        self.inner.stop(timeout)


# -- a headless run, published -------------------------------------------------------------------


class HeadlessRuns:
    """A headless run's trainers as viewers see them: each kept in a `Run` (its bounded past,
    made into snapshots SNAPSHOT_HZ times a second) and published; commands from viewers with
    control are carried out by the training loop between two steps (`between_steps`), and
    each is told in one line on `say`."""

    def __init__(
        self, trainers: list[Trainer], listener: Listener, say: Callable[[str], None]
    ) -> None:
        self.runs = [Run(t) for t in trainers]
        self.listener = listener
        listener.sink = self
        self.say = say
        self.paused = False
        self.one_step = False  # a Step came: train one step, then stay paused
        self._commands: queue.Queue[tuple[int, Command]] = queue.Queue()
        self._ids = itertools.count(1)
        self._replies: list[Reply] = []
        self._message = ""
        self._seq = 0
        self._last_publish = 0.0
        self.baselines: Baselines | None = None  # the corpus's reference losses, once known

    def send(self, command: Command) -> int:
        """A viewer's command (from its thread): done between two steps."""
        cid = next(self._ids)
        self._commands.put((cid, command))
        return cid

    def record(self, i: int, record: StepRecord) -> None:
        """A step of run `i` (the training thread): into its history."""
        self.runs[i].record(record)

    def between_steps(self, stop: Callable[[], bool]) -> None:
        """Carry out waiting commands and publish when due; while paused, wait here (for a
        command, or `stop()`), publishing what changes."""
        if self.one_step:  # the step asked for has been taken: show it, paused again
            self.one_step = False
            self.publish()
        while True:
            waiting = self.paused and not self.one_step
            try:
                cid, cmd = (
                    self._commands.get(timeout=0.2) if waiting else self._commands.get_nowait()
                )
            except queue.Empty:
                if not waiting:
                    if time.monotonic() >= self._last_publish + 1 / SNAPSHOT_HZ:
                        self.publish()
                    return
                if stop():
                    return
                continue
            reply = self._do(cmd)
            if reply is not None:
                self._replies.append(Reply(cid, reply.ok, reply.text, reply.values))
            self.publish()

    def publish(self) -> None:
        self._seq += 1
        self._last_publish = time.monotonic()
        state = RunState.PAUSED if self.paused else RunState.TRAINING
        if all(r.trainer.last is None for r in self.runs) and not self.paused:
            state = RunState.STARTING
        replies, self._replies = tuple(self._replies), []
        snaps = tuple(
            r.snapshot(
                state,
                self._message if i == 0 else "",
                self._seq,
                replies if i == 0 else (),
                self.baselines,
            )
            for i, r in enumerate(self.runs)
        )
        self._message = ""
        self.listener.publish(snaps)

    def close(self, text: str) -> None:
        self.publish()
        self.listener.close(text)

    def _do(self, cmd: Command) -> Reply | None:
        """One command, in the training thread. Settings a command cannot take are refused."""
        if isinstance(cmd, Pause):
            self.paused = True
            self.say("paused by an attached viewer")
        elif isinstance(cmd, Resume):
            self.paused = False
            self.say("resumed by an attached viewer")
        elif isinstance(cmd, Step):
            self.paused, self.one_step = True, True
        elif isinstance(cmd, Reset):
            for run in self.runs:
                run.trainer.reset()
                run.clear()
                run.send_weights = True
            self._message = "weights reset"
            self.say("weights reset by an attached viewer")
            return Reply(0, True, self._message)
        elif isinstance(cmd, SetHyper):
            try:
                for run in self.runs:
                    run.trainer.set_config(cmd.applied_to(run.trainer.config))
            except UserError as exc:
                return Reply(0, False, str(exc))
            text = cmd.describe([run.trainer.config for run in self.runs])
            self.say(f"{text} (set by an attached viewer)")
            return Reply(0, True, text)
        elif isinstance(cmd, SwitchCell):
            return Reply(0, False, "a headless run keeps its cell")
        elif isinstance(cmd, Save):
            return self._save(cmd.path)
        elif isinstance(cmd, Evaluate):
            try:
                values = tuple(run.trainer.loss_on(cmd.text) for run in self.runs)
            except UserError as exc:
                return Reply(0, False, str(exc))
            return Reply(0, True, " ".join(f"{v:.3f}" for v in values), values)
        return None

    def _save(self, path: str) -> Reply:
        saved = []
        paths = cell_paths(path, [run.trainer.config.cell for run in self.runs])
        for run, p in zip(self.runs, paths, strict=True):
            try:
                saved.append(save_checkpoint(p, run.trainer))
            except UserError as exc:
                return Reply(0, False, str(exc))
        self.say(f"saved {', '.join(saved)} (asked by an attached viewer)")
        return Reply(0, True, "saved " + ", ".join(saved))


def start_headless(
    trainers: list[Trainer], plan: ListenPlan, welcome: Welcome, say: Callable[[str], None]
) -> HeadlessRuns:
    """Publish a headless run's trainers as `plan` says; say where (a UserError if the address
    cannot be used)."""
    listener = Listener(plan, welcome)
    runs = HeadlessRuns(trainers, listener, say)
    say(listening_line(plan, listener.start()))
    return runs
