"""A run published on TCP (rnn_tui.run.listen) and attached to (rnn_tui.run.remote), in this
process: a real trainer in a thread, real sockets on 127.0.0.1, and clients that misbehave.

No test waits a fixed time: each polls for what it expects, with a generous deadline."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import TINY, wait_until

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError
from rnn_tui.run import listen, wire
from rnn_tui.run.address import ListenPlan
from rnn_tui.run.listen import HeadlessRuns, Listener, welcome_for
from rnn_tui.run.protocol import Evaluate, Pause, Request, Resume, RunState, Snapshot
from rnn_tui.run.remote import RemoteSource
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.wire import Hello, Refused, Welcome, encode, read_message

TOKEN = "a-test-token"
pytestmark = pytest.mark.functional  # a trainer in a thread, sockets, seconds per test


@dataclass
class Trainer_:
    """A headless run published on a free port, trained by a thread until the test ends."""

    runs: HeadlessRuns
    listener: Listener
    port: int
    stop: threading.Event
    thread: threading.Thread

    @property
    def steps(self) -> int:
        return self.runs.runs[0].trainer.steps


@pytest.fixture
def trainer() -> Iterator[Trainer_]:
    config = Config(hidden=16, seq_len=16, batch=4, eval_every=20)
    corpus = load_corpus(str(TINY), config.val_fraction, min_train_chars=17)
    trainers = [Trainer(corpus, config)]
    plan = ListenPlan("127.0.0.1", 0, TOKEN, token_shown=False)
    listener = Listener(plan, welcome_for(RunSpec(str(TINY), (config,)), corpus.vocab.chars))
    lines: list[str] = []
    runs = HeadlessRuns(trainers, listener, lines.append)
    _, port = listener.start()
    stop = threading.Event()

    def train() -> None:  # what the headless loop does, step after step
        while not stop.is_set():
            runs.between_steps(stop.is_set)
            if stop.is_set():
                break
            runs.record(0, trainers[0].step())

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    yield Trainer_(runs, listener, port, stop, thread)
    stop.set()
    thread.join(10)
    runs.close("the test ended")


def newest(source: RemoteSource, into: list[Snapshot]) -> Snapshot | None:
    """Poll the source; keep what came in `into`; return the newest first-run snapshot."""
    snaps = source.poll()
    if snaps is not None:
        into.append(snaps[0])
    return into[-1] if into else None


def step_of(snap: Snapshot | None) -> int:
    return snap.record.step if snap is not None and snap.record is not None else -1


def sees_steps_advance(source: RemoteSource, by: int = 3) -> None:
    """Wait until the source's newest step is `by` steps past the first one it shows now."""
    got: list[Snapshot] = []
    wait_until(lambda: step_of(newest(source, got)) >= 0, what="a step")
    first = step_of(got[-1])
    wait_until(lambda: step_of(newest(source, got)) >= first + by, what=f"{by} more steps")


def attach(port: int, control: bool = False) -> RemoteSource:
    source = RemoteSource.connect("127.0.0.1", port, TOKEN, control=control)
    source.start()
    return source


def raw_client(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def closed_by_peer(sock: socket.socket) -> bool:
    """Read until the other side closes (True) or 30 s pass with it still open (False)."""
    sock.settimeout(30)
    try:
        while sock.recv(1 << 16):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_attach_sees_the_trainers_steps_advance(trainer: Trainer_) -> None:
    """If this fails, `rnn-tui attach` shows a run that does not move."""
    source = attach(trainer.port)
    try:
        assert source.welcome.chars == load_corpus(str(TINY), 0.1, 17).vocab.chars
        sees_steps_advance(source, by=5)
        got: list[Snapshot] = []
        wait_until(
            lambda: newest(source, got) is not None and any(g.weights is not None for g in got),
            what="weights for the sampler",
        )
    finally:
        source.stop()


def test_a_read_only_viewers_pause_is_refused(trainer: Trainer_) -> None:
    """If this fails, anyone with the token can stop a class's run from their own laptop."""
    source = attach(trainer.port)
    try:
        reply = source.request(Pause(), timeout=30)
        assert reply is not None and not reply.ok and reply.text.startswith("read-only")
        # The publisher refuses it too, whatever a viewer's own program does.
        source.control = True  # a viewer that lies about what it may do
        reply = source.request(Pause(), timeout=30)
        assert reply is not None and not reply.ok and "read-only" in reply.text, reply
        sees_steps_advance(source)
        assert not trainer.runs.paused
    finally:
        source.stop()


def test_a_viewer_with_control_pauses_and_resumes(trainer: Trainer_) -> None:
    """If this fails, `rnn-tui attach --control` cannot pause the run it shows."""
    source = attach(trainer.port, control=True)
    try:
        sees_steps_advance(source)
        source.send(Pause())
        got: list[Snapshot] = []
        wait_until(
            lambda: (s := newest(source, got)) is not None and s.state is RunState.PAUSED,
            what="paused",
        )
        paused_at = step_of(got[-1])
        # A query is answered between two steps: once it is, any step taken would show.
        reply = source.request(Evaluate("the cat sat"), timeout=30)
        assert reply is not None and reply.ok and len(reply.values) == 1
        assert trainer.steps == paused_at
        source.send(Resume())
        wait_until(lambda: step_of(newest(source, got)) > paused_at, what="training again")
    finally:
        source.stop()


def test_a_late_viewer_gets_weights_and_a_viewer_may_leave_and_come_back(trainer: Trainer_) -> None:
    """If this fails, a viewer that attaches after the first weights waits for a sample, or
    leaving and attaching again does not work."""
    first = attach(trainer.port)
    sees_steps_advance(first)
    first.stop()
    wait_until(lambda: trainer.listener.viewers == 0, what="the first viewer gone")
    again = attach(trainer.port)
    try:
        snaps = wait_until(again.poll, what="a snapshot")
        assert snaps[0].weights is not None, "the first snapshot a viewer gets carries weights"
        sees_steps_advance(again)
    finally:
        again.stop()


def test_the_end_of_the_run_is_told(trainer: Trainer_) -> None:
    """If this fails, a viewer of a run that finished shows it as silent, not as ended."""
    source = attach(trainer.port)
    sees_steps_advance(source)
    trainer.stop.set()
    trainer.thread.join(10)
    trainer.runs.close("the headless run stopped at step 9")
    text = wait_until(source.ended, what="the end")
    assert "ended: the headless run stopped at step 9" in text
    source.stop()


def test_a_wrong_token_is_refused_in_one_line(trainer: Trainer_) -> None:
    """If this fails, attach with a wrong token hangs or shows a traceback instead of a line."""
    with pytest.raises(UserError, match="wrong token"):
        RemoteSource.connect("127.0.0.1", trainer.port, "not-the-token")


def bad_hello(sock: socket.socket) -> None:
    sock.sendall(encode(Hello("not-the-token")))


def garbage(sock: socket.socket) -> None:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 4)


def oversized(sock: socket.socket) -> None:
    sock.sendall(wire.PREFIX.pack(2**31 - 1, 2**31 - 1) + b"x" * 64)


def half_sent(sock: socket.socket) -> None:
    frame = encode(Hello(TOKEN))
    sock.sendall(frame[: len(frame) // 2])  # and nothing more: the frame never completes


def half_sent_after_hello(sock: socket.socket) -> None:
    sock.sendall(encode(Hello(TOKEN)))
    frame = encode(Request(1, Evaluate("abc")))
    sock.sendall(frame[:10])


def pickled(sock: socket.socket) -> None:
    sock.sendall(encode(Hello(TOKEN)))
    # A frame claiming to be a request but holding a pickle (multiprocessing's format).
    payload = b"\x80\x04\x95" + b"\x00" * 40
    sock.sendall(wire.PREFIX.pack(len(payload), 0) + payload)


@pytest.mark.parametrize(
    "misbehave", [bad_hello, garbage, oversized, half_sent, half_sent_after_hello, pickled]
)
def test_a_bad_connection_is_closed_and_nothing_else(
    trainer: Trainer_,
    misbehave,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """If this fails, one bad client (a port scanner, a wrong token, a dropped link mid-frame)
    can stop the trainer or the other viewers, or keep a connection open forever."""
    monkeypatch.setattr(listen, "HELLO_TIMEOUT", 1.0)  # short waits, so the test is quick
    monkeypatch.setattr(listen, "FRAME_TIMEOUT", 1.0)
    good = attach(trainer.port)
    try:
        sees_steps_advance(good)
        bad = raw_client(trainer.port)
        misbehave(bad)
        assert closed_by_peer(bad), "the bad connection was left open"
        bad.close()
        wait_until(lambda: trainer.listener.viewers == 1, what="only the good viewer left")
        sees_steps_advance(good)
        assert good.ended() is None
    finally:
        good.stop()


def test_a_stuck_viewer_holds_up_nobody(trainer: Trainer_) -> None:
    """If this fails, a viewer that stops reading (a suspended laptop) slows the trainer or
    the other viewers down: latest wins, for each viewer on its own."""
    stuck = raw_client(trainer.port)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(encode(Hello(TOKEN)))
    assert isinstance(read_message(lambda n: recv_exact(stuck, n)), Welcome)
    good = attach(trainer.port)
    try:
        before = trainer.steps
        # More than the stuck viewer's socket buffers hold goes to the good one meanwhile.
        wait_until(lambda: good.bytes_read > 1 << 20, what="1 MB sent")
        sees_steps_advance(good)
        assert trainer.steps > before
        assert trainer.listener.viewers == 2
    finally:
        good.stop()
        stuck.close()


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "closed"
        data += chunk
    return data


def test_a_refused_hello_says_why_before_closing(trainer: Trainer_) -> None:
    """If this fails, `attach` cannot tell a wrong token from a network failure."""
    sock = raw_client(trainer.port)
    sock.sendall(encode(Hello("nope")))
    msg = read_message(lambda n: recv_exact(sock, n))
    assert isinstance(msg, Refused) and msg.text == "wrong token"
    assert closed_by_peer(sock)
    sock.close()
