"""The frames a run travels in over TCP (rnn_tui.run.wire): every message comes back as it was
sent, and anything malformed is refused with a WireError, never unpickled or half-believed."""

from __future__ import annotations

import contextlib
import json
import pickle
import re
import socket
from dataclasses import fields, replace

import numpy as np
import pytest
from conftest import ROOT, TINY
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run import listen, wire
from rnn_tui.run.address import ListenPlan, parse_address
from rnn_tui.run.history import Run
from rnn_tui.run.listen import Listener
from rnn_tui.run.protocol import (
    Baselines,
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
from rnn_tui.run.wire import (
    End,
    Hello,
    Refused,
    Snapshots,
    Welcome,
    WireError,
    decode,
    encode,
    read_message,
)

NETWORK_MODULES = ("run/wire.py", "run/listen.py", "run/remote.py", "attach_cli.py")


def trained_snapshot(cell: str = "rnn", steps: int = 3) -> Snapshot:
    """A real snapshot of a small run after a few steps, weights and all."""
    corpus = load_corpus(str(TINY), 0.1, min_train_chars=17)
    trainer = Trainer(corpus, Config(cell=cell, hidden=8, seq_len=16, batch=4, eval_every=2))
    run = Run(trainer)
    for _ in range(steps):
        run.record(trainer.step())
    baselines = Baselines(ngram_n=3, ngram_loss=1.9, forgets=None, recalls=0.25)
    return run.snapshot(
        RunState.TRAINING, "a notice", 7, (Reply(3, True, "saved x.npz"),), baselines
    )


def frame_parts(frame: bytes) -> tuple[bytes, bytes]:
    """(header, body) of one encoded frame."""
    n_header, n_body = wire.PREFIX.unpack(frame[: wire.PREFIX.size])
    start = wire.PREFIX.size
    return frame[start : start + n_header], frame[start + n_header :]


def round_trip(msg: wire.Message) -> wire.Message:
    frame = encode(msg)
    at = [0]

    def recv(n: int) -> bytes:
        chunk = frame[at[0] : at[0] + n]
        at[0] += n
        return chunk

    out = read_message(recv)
    assert at[0] == len(frame), "the reader must take exactly one frame"
    return out


def assert_same(a: object, b: object, path: str = "") -> None:
    """Field by field; arrays bit for bit (NaN where NaN), with their shapes and dtypes."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.shape == b.shape and a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, tuple) and not hasattr(a, "__dataclass_fields__"):
        assert isinstance(b, tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dataclass_fields__"):
        assert type(a) is type(b), path
        for f in fields(a):  # type: ignore[arg-type]
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b and type(a) is type(b), f"{path}: {a!r} != {b!r}"


def test_a_trained_snapshot_comes_back_as_it_was_sent() -> None:
    """If this fails, an attached app draws other losses, gradients or weights than the
    trainer has (or cannot draw them at all)."""
    snap = trained_snapshot()
    assert snap.weights is not None and snap.record is not None and snap.hidden == 8
    out = round_trip(Snapshots((snap,)))
    assert isinstance(out, Snapshots)
    assert_same(snap, out.runs[0])


def test_two_runs_an_lstm_and_missing_values_come_back() -> None:
    """If this fails, compare mode or an LSTM (its cell-state gradient) cannot be attached to,
    or a NaN gradient row (a blow-up) is lost on the way."""
    lstm = trained_snapshot("lstm")
    assert lstm.record is not None and lstm.record.cell_grad_t is not None
    grads = lstm.grad_history.copy()
    grads[0, 0] = np.nan  # a blow-up shows as NaN in the heat strip
    record = replace(lstm.record, val_loss=None, val_step=None, spectral_norm=None)
    lstm = replace(
        lstm, grad_history=grads, record=record, weights=None, replies=(), baselines=None
    )
    empty = replace(
        trained_snapshot(),
        state=RunState.STARTING,
        record=None,
        loss_steps=np.zeros(0),
        loss_values=np.zeros(0),
        grad_history=np.zeros((0, 16)),
        grad_history_steps=np.zeros((0, 2), np.int64),
    )
    out = round_trip(Snapshots((lstm, empty)))
    assert isinstance(out, Snapshots)
    assert_same((lstm, empty), out.runs)


@pytest.mark.parametrize(
    "msg",
    [
        Hello("t0ken", True),
        Hello("t0ken"),
        Welcome("corpora/tiny.txt", 40, (Config().to_json(),), ("\n", " ", "a", "é"), False),
        Welcome(
            None, 12, (Config(cell="rnn").to_json(), Config(cell="lstm").to_json()), ("a",), True
        ),
        Refused("wrong token"),
        End("the headless run stopped at step 1,000"),
        Heartbeat(),
        Reply(5, False, "read-only: attach with --control to pause"),
        Reply(6, True, "1.234 2.345", (1.234, 2.345)),
        *[
            Request(9, c)
            for c in (
                Pause(),
                Resume(),
                Step(),
                Reset(),
                SetHyper(lr=0.01),
                SetHyper(clip_mode="off", clip=2.5),
                SwitchCell("gru"),
                Save("run.npz"),
                Evaluate("hello\nworld"),
                Quit(),
            )
        ],
    ],
    ids=lambda m: (
        type(m).__name__ + (f"-{type(m.command).__name__}" if isinstance(m, Request) else "")
    ),
)
def test_every_message_comes_back_as_it_was_sent(msg: wire.Message) -> None:
    """If this fails, a viewer's command, a reply or the handshake arrives as something else."""
    assert_same(msg, round_trip(msg))


def edit_header(frame: bytes, change) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    """(header, body) of `frame` with its JSON header changed by `change(dict)`."""
    header, body = frame_parts(frame)
    h = json.loads(header)
    change(h)
    return json.dumps(h).encode(), body


def snapshot_frame() -> bytes:
    return encode(Snapshots((trained_snapshot(),)))


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("an unknown type", lambda h: h.update(type="pickle")),
        ("an unknown field", lambda h: h["fields"].update(extra=1)),
        ("a missing field", lambda h: h["fields"]["runs"][0].pop("lr")),
        ("a disallowed dtype", lambda h: h["arrays"][0].__setitem__(0, "|O")),
        ("a shape that disagrees", lambda h: h["arrays"][0][1].__setitem__(0, 10**6)),
        ("a 3-d array", lambda h: h["arrays"][0].__setitem__(1, [1, 1, h["arrays"][0][2] // 8])),
        ("a number as text", lambda h: h["fields"]["runs"][0].update(lr="0.1")),
        ("a boolean as a count", lambda h: h["fields"]["runs"][0].update(seq=True)),
        ("a state that is none", lambda h: h["fields"]["runs"][0].update(state="exploded")),
        ("a cell that is none", lambda h: h["fields"]["runs"][0].update(cell="transformer")),
        ("an array used twice", lambda h: h["fields"]["runs"][0].update(loss_values={"@": 0})),
        ("an array out of range", lambda h: h["fields"]["runs"][0].update(loss_values={"@": 99})),
        ("three runs", lambda h: h["fields"]["runs"].extend(h["fields"]["runs"][:1] * 2)),
        ("a non-finite lr", lambda h: h["fields"]["runs"][0].update(lr=float("inf"))),
        ("a hidden size out of range", lambda h: h["fields"]["runs"][0].update(hidden=10**6)),
    ],
)
def test_a_malformed_snapshot_is_refused(what: str, change) -> None:  # type: ignore[no-untyped-def]
    """If this fails, a broken or hostile publisher can hand the app arrays of the wrong shape
    or type, which it would crash on (or worse) instead of closing the connection."""
    header, body = edit_header(snapshot_frame(), change)
    with pytest.raises(WireError):
        decode(header, body)


def test_weights_that_are_not_finite_are_refused() -> None:
    """If this fails, a sampler is handed NaN weights from the network and types garbage."""
    snap = trained_snapshot()
    assert snap.weights is not None
    bad = {k: v.copy() for k, v in snap.weights.items()}
    bad["Whh"][0, 0] = np.nan
    header, body = frame_parts(encode(Snapshots((replace(snap, weights=bad),))))
    with pytest.raises(WireError, match="finite"):
        decode(header, body)


@pytest.mark.parametrize(
    "command",
    [
        {"type": "set_hyper", "lr": -1.0, "clip_mode": None, "clip": None},
        {"type": "set_hyper", "lr": 1e9, "clip_mode": None, "clip": None},
        {"type": "set_hyper", "lr": None, "clip_mode": "sometimes", "clip": None},
        {"type": "switch_cell", "cell": "../../etc"},
        {"type": "save", "path": ""},
        {"type": "save", "path": "a\u0000b"},
        {"type": "pause", "now": True},
        {"type": "exec", "code": "import os"},
    ],
)
def test_a_command_the_trainer_cannot_take_is_refused(command: dict) -> None:
    """If this fails, a viewer can send a setting that makes the trainer raise (a negative
    learning rate) or a command that does not exist, and the trainer is trusted to cope."""
    header = json.dumps({"type": "request", "fields": {"id": 1, "command": command}, "arrays": []})
    with pytest.raises(WireError):
        decode(header.encode(), b"")


def test_a_length_prefix_past_the_limits_is_refused_before_reading() -> None:
    """If this fails, a four-byte lie makes a listener allocate gigabytes."""
    with pytest.raises(WireError):
        wire.check_prefix(wire.PREFIX.pack(2**31, 0))
    with pytest.raises(WireError):
        wire.check_prefix(wire.PREFIX.pack(100, 2**31))
    with pytest.raises(WireError):  # a viewer's frames are small: no body at all
        wire.check_prefix(wire.PREFIX.pack(100, 8), wire.SMALL)
    assert wire.check_prefix(wire.PREFIX.pack(100, 8)) == (100, 8)


def test_the_body_must_be_exactly_the_arrays() -> None:
    """If this fails, trailing or missing bytes shift every later array of the frame."""
    header, body = frame_parts(snapshot_frame())
    for wrong in (body + b"\0" * 8, body[:-8]):
        with pytest.raises(WireError):
            decode(header, wrong)


def test_welcome_vocabulary_must_be_sorted_and_distinct() -> None:
    """If this fails, the app samples with ids that name other characters than the trainer's."""
    frame = encode(Welcome("x.txt", 40, (Config().to_json(),), ("a", "b"), False))
    for chars in ("ba", "aab", ""):
        header, body = edit_header(frame, lambda h, c=chars: h["fields"].update(chars=c))
        with pytest.raises(WireError):
            decode(header, body)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.binary(max_size=64))
def test_garbage_is_a_wire_error_and_nothing_else(header: bytes, body: bytes) -> None:
    """If this fails, random bytes raise something a connection's reader does not expect,
    which could take down more than that connection."""
    with contextlib.suppress(WireError):
        decode(header, body)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_damaged_frame_is_a_wire_error_or_a_valid_message(data: st.DataObject) -> None:
    """If this fails, one flipped byte in a real frame leads to a crash instead of a refusal."""
    header, body = frame_parts(SMALL_FRAME)
    at = data.draw(st.integers(0, len(header) - 1))
    byte = data.draw(st.integers(0, 255))
    damaged = header[:at] + bytes([byte]) + header[at + 1 :]
    try:
        out = decode(damaged, body)
    except WireError:
        return
    assert isinstance(out, Snapshots)


SMALL_FRAME = encode(Snapshots((replace(trained_snapshot(steps=1), weights=None),)))


def test_decoding_never_unpickles(monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails, something on the network path unpickles: a frame could run code."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling on the network path")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(np, "load", refuse)
    out = round_trip(Snapshots((trained_snapshot(),)))
    assert isinstance(out, Snapshots) and out.runs[0].weights is not None


def test_the_network_modules_use_no_pickle_or_multiprocessing_connection() -> None:
    """If this fails, a network module uses pickle or multiprocessing.connection (which
    unpickles what it receives): a socket could then make the trainer run code."""
    for name in NETWORK_MODULES:
        text = (ROOT / "rnn_tui" / name).read_text(encoding="utf-8")
        code = "\n".join(line.split("#")[0] for line in text.splitlines())  # comments aside
        found = re.findall(
            r"\b(pickle|cPickle|multiprocessing\.connection|allow_pickle|marshal)\b", code
        )
        assert not found, f"{name}: {found}"


def test_a_step_record_loses_nothing() -> None:
    """If this fails, a field added to StepRecord is not sent to attached viewers."""
    sent = {f.name for f in fields(StepRecord)}
    assert sent == wire._RECORD
    assert {f.name for f in fields(Snapshot)} == wire._SNAPSHOT


@pytest.mark.parametrize(
    ("text", "address"),
    [("5000", ("127.0.0.1", 5000)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:7", ("::1", 7))],
)
def test_addresses_parse(text: str, address: tuple[str, int]) -> None:
    """If this fails, --listen and attach read an address other than the one typed."""
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "host:", ":80", "5000000", "x:y", "80:"])
def test_bad_addresses_are_one_line(text: str) -> None:
    """If this fails, a typo in an address gives a traceback instead of a line."""
    with pytest.raises(UserError, match=r"\[HOST:\]PORT"):
        parse_address(text)


def test_replies_to_a_viewer_reach_that_viewer_only() -> None:
    """If this fails, the app sees (and shows) answers meant for an attached viewer, or the
    viewer never gets them."""

    class Sink:
        def __init__(self) -> None:
            self.ids = iter(range(100, 200))

        def send(self, command: object) -> int:
            return next(self.ids)

    plan = ListenPlan("127.0.0.1", 0, "a-token", token_shown=False)
    welcome = Welcome("x.txt", 40, (Config().to_json(),), ("a", "b"), False)
    listener = Listener(plan, welcome, Sink())
    viewer = listen._Viewer(socket.socket(), "test")
    viewer.control = True
    listener._take(viewer, Request(7, Evaluate("ab")))  # the sink gives it id 100
    mine, the_apps = Reply(100, True, "0.5", (0.5,)), Reply(3, True, "saved run.npz")
    out = listener.publish((replace(trained_snapshot(), replies=(mine, the_apps)),))
    assert out[0].replies == (the_apps,)
    assert list(viewer.replies) == [Reply(7, True, "0.5", (0.5,))]
    viewer.sock.close()


def test_a_viewer_cannot_flood_the_trainer_with_queries() -> None:
    """If this fails, a read-only viewer can keep the trainer busy with queries (each one costs
    a forward pass) and slow down the run everyone watches."""
    sent: list[object] = []

    class Sink:
        def send(self, command: object) -> int:
            sent.append(command)
            return len(sent)  # and never answers

    welcome = Welcome("x.txt", 40, (Config().to_json(),), ("a", "b"), False)
    listener = Listener(ListenPlan("127.0.0.1", 0, "a-token", token_shown=False), welcome, Sink())
    viewer = listen._Viewer(socket.socket(), "test")
    for i in range(1, 21):
        listener._take(viewer, Request(i, Evaluate("ab")))
    listener._take(viewer, Request(0, Evaluate("ab")))  # no reply wanted: not even sent
    assert len(sent) == listen.MAX_WAITING
    viewer.control = True
    for i in range(30, 40):  # a run never answers a pause: nothing waits for one
        listener._take(viewer, Request(i, Pause()))
    assert len(sent) == listen.MAX_WAITING + 10
    refused = [r for r in viewer.replies if not r.ok]
    assert [r.id for r in refused] == list(range(listen.MAX_WAITING + 1, 21))
    assert all("still waiting" in r.text for r in refused)
    viewer.sock.close()


def test_every_field_of_a_step_record_crosses_the_wire() -> None:
    """If this fails, a StepRecord field (a new one, say) is dropped on the way to an attached
    app, which then shows nothing where the trainer's own app shows a figure (the key recall,
    the recall's reach). Every field is set here, so a field added later must be added too."""
    snap = trained_snapshot()
    r = snap.record
    assert r is not None
    full = replace(
        r,
        val_loss=1.5,
        val_step=2,
        cell_grad_t=r.grad_t * 2,
        spectral_norm=1.1,
        key_recall=0.5,
        recall_chance=0.125,
        recall_reach=0.3,
    )
    unset = [f.name for f in fields(full) if getattr(full, f.name) is None]
    assert not unset, f"set these in the test too: {unset}"
    back = round_trip(Snapshots((replace(snap, record=full),)))
    assert isinstance(back, Snapshots)
    assert_same(full, back.runs[0].record)
