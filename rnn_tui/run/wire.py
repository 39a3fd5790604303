"""The bytes of a run on a TCP socket: length-prefixed frames, each a JSON header plus raw
little-endian arrays. Nothing here unpickles anything: a frame is decoded field by field into
the frozen dataclasses of `rnn_tui.run.protocol`, and anything else is refused.

A frame on the wire:

    u32 header length | u32 body length | header (UTF-8 JSON) | body (the arrays, back to back)

The header is `{"type": ..., "fields": {...}, "arrays": [[dtype, shape, nbytes], ...]}`; a
field holding an array says `{"@": i}`, the i-th entry of `arrays`, whose bytes follow those of
the entries before it in the body. Every length is checked against a hard limit before it is
read, every field against what its type allows (kind, range, array shape, finiteness where a
value must be finite), and an unknown type or field is an error (`WireError`): the side that
reads it closes that connection and nothing else.

The conversation: the viewer sends `Hello` (its token first); the publisher answers `Welcome`
(what the run is: corpus, settings, vocabulary) or `Refused`, then sends `Snapshots`,
`Heartbeat`s while nothing changes, `Reply`s to the viewer's `Request`s, and `End` when the run
ends.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnn_tui.engine.config import CELL_NAMES, CLIP_MODES
from rnn_tui.engine.model import Params
from rnn_tui.engine.trainer import StepRecord
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

VERSION = 1  # the format's version, sent in `Hello`; a viewer of another version is refused
PREFIX = struct.Struct("<II")  # header length, body length
MAX_HEADER = 4 << 20  # bytes of JSON header at most (a vocabulary of 100k characters fits)
MAX_ARRAY = 256 << 20  # bytes of one array at most (a 16k x 4k float32 readout fits)
MAX_FRAME = 512 << 20  # header and body together at most
MAX_ARRAYS = 64  # arrays per frame at most
MAX_RUNS = 2  # snapshots per frame: one run, or two side by side
MAX_TEXT = 1 << 20  # characters of one string field at most
DTYPES = ("<f4", "<f8", "<i4", "<i8")  # the only array element types accepted
SMALL = (16 << 10, 0)  # (header, body) limits for what a viewer sends: hellos and requests


class WireError(ValueError):
    """A frame that breaks the format: the connection it came on is closed."""


# -- the messages that are not in the protocol ----------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """A viewer's first frame: its token, and whether it asks to control the run."""

    token: str
    control: bool = False
    version: int = VERSION


@dataclass(frozen=True)
class Welcome:
    """The publisher's answer to a good `Hello`: what the run is, for the viewer's app."""

    corpus: str | None  # the trainer's corpus path (None: the generated long-lag corpus)
    lag: int  # filler characters per line of a generated corpus
    configs: tuple[dict[str, Any], ...]  # each run's settings (`Config.to_json`)
    chars: tuple[str, ...]  # the vocabulary, in id order
    control: bool  # whether this viewer's commands are carried out


@dataclass(frozen=True)
class Refused:
    """The publisher's answer to a bad `Hello` (wrong token, other version); then it closes."""

    text: str


@dataclass(frozen=True)
class Snapshots:
    """The newest snapshot of each run (one, or two in compare mode)."""

    runs: tuple[Snapshot, ...]


@dataclass(frozen=True)
class End:
    """The run has ended (the trainer finished or stopped); the publisher closes next."""

    text: str


Message = Hello | Welcome | Refused | Snapshots | Heartbeat | Request | Reply | End

# -- checking values as they arrive ---------------------------------------------------------------


def _fail(what: str) -> WireError:
    return WireError(what)


def _int(v: Any, name: str, lo: int = -(2**63), hi: int = 2**63 - 1) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise _fail(f"{name}: an integer in [{lo}, {hi}] expected")
    return v


def _float(v: Any, name: str, finite: bool = False) -> float:
    if type(v) not in (int, float):
        raise _fail(f"{name}: a number expected")
    v = float(v)
    if finite and not math.isfinite(v):
        raise _fail(f"{name}: a finite number expected")
    return v


def _bool(v: Any, name: str) -> bool:
    if type(v) is not bool:
        raise _fail(f"{name}: true or false expected")
    return v


def _str(v: Any, name: str, limit: int = MAX_TEXT) -> str:
    if type(v) is not str or len(v) > limit:
        raise _fail(f"{name}: a string of at most {limit} characters expected")
    return v


def _choice(v: Any, name: str, choices: tuple[str, ...]) -> str:
    if type(v) is not str or v not in choices:
        raise _fail(f"{name}: one of {', '.join(choices)} expected")
    return v


def _opt(check: Callable[..., Any], v: Any, name: str, *args: Any) -> Any:
    return None if v is None else check(v, name, *args)


def _fields(d: Any, name: str, expected: set[str]) -> dict[str, Any]:
    """`d` as a dict with exactly the `expected` keys: none missing, none unknown."""
    if type(d) is not dict:
        raise _fail(f"{name}: an object expected")
    if set(d) != expected:
        keys = sorted(str(k)[:40] for k in d)[:40]
        raise _fail(f"{name}: fields {keys} instead of {sorted(expected)}")
    return d


class _Arrays:
    """The arrays of one frame being decoded, handed out by reference `{"@": i}` once each."""

    def __init__(self, specs: list[tuple[str, tuple[int, ...], int]], body: bytes) -> None:
        self.views: list[np.ndarray] = []
        at = 0
        for dtype, shape, nbytes in specs:
            a = np.frombuffer(
                body, np.dtype(dtype), count=nbytes // np.dtype(dtype).itemsize, offset=at
            )
            self.views.append(a.reshape(shape))  # read-only: it lives in the frame's bytes
            at += nbytes
        self.used: set[int] = set()

    def get(
        self, ref: Any, name: str, ndim: int | None, kind: str = "f", finite: bool = False
    ) -> np.ndarray:
        """The array `ref` points to: `ndim` dimensions (None: 1 or 2), float ("f") or
        integer ("i") elements, all finite if `finite`."""
        r = _fields(ref, name, {"@"})
        i = _int(r["@"], name, 0, len(self.views) - 1)
        if i in self.used:
            raise _fail(f"{name}: array {i} used twice")
        self.used.add(i)
        a = self.views[i]
        if (a.ndim != ndim if ndim is not None else a.ndim not in (1, 2)) or a.dtype.kind != kind:
            raise _fail(
                f"{name}: a {ndim or '1- or 2'}-d {'float' if kind == 'f' else 'integer'} array expected"
            )
        if finite and kind == "f" and not np.isfinite(a).all():
            raise _fail(f"{name}: finite values expected")
        return a


class _Out:
    """The arrays of one frame being encoded: each field's array becomes `{"@": i}`."""

    def __init__(self) -> None:
        self.specs: list[list[Any]] = []
        self.chunks: list[bytes] = []

    def put(self, a: np.ndarray) -> dict[str, int]:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        elif a.dtype.kind in "iu" or a.dtype.kind == "b":
            a = a.astype("<i8", copy=False)
        dtype = a.dtype.str
        if dtype not in DTYPES:
            raise _fail(f"cannot send arrays of {a.dtype}")
        data = np.ascontiguousarray(a).tobytes()
        self.specs.append([dtype, list(a.shape), len(data)])
        self.chunks.append(data)
        return {"@": len(self.specs) - 1}


# -- the protocol's types, field by field --------------------------------------------------------


def _record_out(r: StepRecord, out: _Out) -> dict[str, Any]:
    return {
        "step": int(r.step),
        "chars": int(r.chars),
        "loss": float(r.loss),
        "smooth_loss": float(r.smooth_loss),
        "val_loss": None if r.val_loss is None else float(r.val_loss),
        "val_step": None if r.val_step is None else int(r.val_step),
        "grad_t": out.put(r.grad_t),
        "grad_last_t": out.put(r.grad_last_t),
        "grad_norm": float(r.grad_norm),
        "clipped": bool(r.clipped),
        "chars_per_s": float(r.chars_per_s),
        "lr": float(r.lr),
        "diverged": bool(r.diverged),
        "cell_grad_t": None if r.cell_grad_t is None else out.put(r.cell_grad_t),
        "spectral_norm": None if r.spectral_norm is None else float(r.spectral_norm),
        "key_recall": None if r.key_recall is None else float(r.key_recall),
        "recall_chance": None if r.recall_chance is None else float(r.recall_chance),
        "recall_reach": None if r.recall_reach is None else float(r.recall_reach),
    }


_RECORD = {
    "step", "chars", "loss", "smooth_loss", "val_loss", "val_step", "grad_t", "grad_last_t",
    "grad_norm", "clipped", "chars_per_s", "lr", "diverged", "cell_grad_t", "spectral_norm",
    "key_recall", "recall_chance", "recall_reach",
}  # fmt: skip


def _record_in(d: Any, arrays: _Arrays) -> StepRecord:
    d = _fields(d, "record", _RECORD)
    grad_t = arrays.get(d["grad_t"], "record.grad_t", 1)
    grad_last_t = arrays.get(d["grad_last_t"], "record.grad_last_t", 1)
    cell_grad_t = (
        None if d["cell_grad_t"] is None else arrays.get(d["cell_grad_t"], "record.cell_grad_t", 1)
    )
    T = grad_t.shape[0]
    if grad_last_t.shape != (T,) or (cell_grad_t is not None and cell_grad_t.shape != (T,)):
        raise _fail("record: gradient profiles of different lengths")
    return StepRecord(
        step=_int(d["step"], "record.step", 0),
        chars=_int(d["chars"], "record.chars", 0),
        loss=_float(d["loss"], "record.loss"),
        smooth_loss=_float(d["smooth_loss"], "record.smooth_loss"),
        val_loss=_opt(_float, d["val_loss"], "record.val_loss"),
        val_step=_opt(_int, d["val_step"], "record.val_step", 0),
        grad_t=grad_t,
        grad_last_t=grad_last_t,
        grad_norm=_float(d["grad_norm"], "record.grad_norm"),
        clipped=_bool(d["clipped"], "record.clipped"),
        chars_per_s=_float(d["chars_per_s"], "record.chars_per_s", finite=True),
        lr=_float(d["lr"], "record.lr", finite=True),
        diverged=_bool(d["diverged"], "record.diverged"),
        cell_grad_t=cell_grad_t,
        spectral_norm=_opt(_float, d["spectral_norm"], "record.spectral_norm"),
        key_recall=_opt(_float, d["key_recall"], "record.key_recall"),
        recall_chance=_opt(_float, d["recall_chance"], "record.recall_chance", True),
        recall_reach=_opt(_float, d["recall_reach"], "record.recall_reach"),
    )


def _reply_out(r: Reply) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "ok": bool(r.ok),
        "text": r.text,
        "values": [float(v) for v in r.values],
    }


def _reply_in(d: Any) -> Reply:
    d = _fields(d, "reply", {"id", "ok", "text", "values"})
    values = d["values"]
    if type(values) is not list or len(values) > MAX_RUNS:
        raise _fail("reply.values: a short list of numbers expected")
    return Reply(
        id=_int(d["id"], "reply.id"),
        ok=_bool(d["ok"], "reply.ok"),
        text=_str(d["text"], "reply.text", 4096),
        values=tuple(_float(v, "reply.values") for v in values),
    )


def _params_in(d: Any, arrays: _Arrays) -> Params:
    if type(d) is not dict or not 0 < len(d) <= 16:
        raise _fail("weights: an object of at most 16 arrays expected")
    out = {}
    for name, ref in d.items():
        if not (type(name) is str and name.isidentifier() and len(name) <= 32):
            raise _fail("weights: names must be short identifiers")
        out[name] = arrays.get(ref, f"weights.{name}", None, finite=True)
    return out


_SNAPSHOT = {
    "state", "record", "loss_steps", "loss_values", "val_steps", "val_values", "grad_history",
    "grad_history_steps", "lr", "clip_mode", "clip", "cell", "clip_share", "clip_steps",
    "message", "weights", "weights_step", "seq", "replies", "baselines", "hidden",
}  # fmt: skip


def _baselines_out(b: Baselines | None) -> dict[str, Any] | None:
    if b is None:
        return None
    opt = {k: None if v is None else float(v) for k, v in vars(b).items() if k != "ngram_n"}
    return {"ngram_n": int(b.ngram_n), **opt}


def _baselines_in(d: Any) -> Baselines | None:
    if d is None:
        return None
    d = _fields(d, "baselines", {"ngram_n", "ngram_loss", "forgets", "recalls"})
    return Baselines(
        ngram_n=_int(d["ngram_n"], "baselines.ngram_n", 0, 16),
        ngram_loss=_opt(_float, d["ngram_loss"], "baselines.ngram_loss", True),
        forgets=_opt(_float, d["forgets"], "baselines.forgets", True),
        recalls=_opt(_float, d["recalls"], "baselines.recalls", True),
    )


def _snapshot_out(s: Snapshot, out: _Out) -> dict[str, Any]:
    return {
        "state": s.state.value,
        "record": None if s.record is None else _record_out(s.record, out),
        "loss_steps": out.put(s.loss_steps),
        "loss_values": out.put(s.loss_values),
        "val_steps": out.put(s.val_steps),
        "val_values": out.put(s.val_values),
        "grad_history": out.put(s.grad_history),
        "grad_history_steps": out.put(s.grad_history_steps),
        "lr": float(s.lr),
        "clip_mode": s.clip_mode,
        "clip": float(s.clip),
        "cell": s.cell,
        "clip_share": float(s.clip_share),
        "clip_steps": int(s.clip_steps),
        "message": s.message,
        "weights": None if s.weights is None else {k: out.put(v) for k, v in s.weights.items()},
        "weights_step": int(s.weights_step),
        "seq": int(s.seq),
        "replies": [_reply_out(r) for r in s.replies],
        "baselines": _baselines_out(s.baselines),
        "hidden": int(s.hidden),
    }


def _pair(a: np.ndarray, b: np.ndarray, name: str) -> None:
    if a.shape != b.shape:
        raise _fail(f"{name}: steps and values of different lengths")


def _snapshot_in(d: Any, arrays: _Arrays) -> Snapshot:
    d = _fields(d, "snapshot", _SNAPSHOT)
    try:
        state = RunState(d["state"])
    except ValueError:
        raise _fail("snapshot.state: not a run state") from None
    loss_steps = arrays.get(d["loss_steps"], "loss_steps", 1, finite=True)
    loss_values = arrays.get(d["loss_values"], "loss_values", 1)
    val_steps = arrays.get(d["val_steps"], "val_steps", 1, finite=True)
    val_values = arrays.get(d["val_values"], "val_values", 1)
    _pair(loss_steps, loss_values, "loss")
    _pair(val_steps, val_values, "held-out loss")
    grads = arrays.get(d["grad_history"], "grad_history", 2)
    grad_steps = arrays.get(d["grad_history_steps"], "grad_history_steps", 2, kind="i")
    if grad_steps.shape != (grads.shape[0], 2):
        raise _fail("grad_history_steps: (K, 2) expected for K gradient rows")
    record = None if d["record"] is None else _record_in(d["record"], arrays)
    if record is not None and grads.shape[0] and grads.shape[1] != record.grad_t.shape[0]:
        raise _fail("grad_history: rows of another length than the gradient profile")
    replies = d["replies"]
    if type(replies) is not list or len(replies) > 256:
        raise _fail("snapshot.replies: a list of at most 256 replies expected")
    return Snapshot(
        state=state,
        record=record,
        loss_steps=loss_steps,
        loss_values=loss_values,
        val_steps=val_steps,
        val_values=val_values,
        grad_history=grads,
        grad_history_steps=grad_steps,
        lr=_float(d["lr"], "snapshot.lr", finite=True),
        clip_mode=_choice(d["clip_mode"], "snapshot.clip_mode", CLIP_MODES),
        clip=_float(d["clip"], "snapshot.clip", finite=True),
        cell=_choice(d["cell"], "snapshot.cell", CELL_NAMES),
        clip_share=_float(d["clip_share"], "snapshot.clip_share", finite=True),
        clip_steps=_int(d["clip_steps"], "snapshot.clip_steps", 0),
        message=_str(d["message"], "snapshot.message", 4096),
        weights=None if d["weights"] is None else _params_in(d["weights"], arrays),
        weights_step=_int(d["weights_step"], "snapshot.weights_step", 0),
        seq=_int(d["seq"], "snapshot.seq", 0),
        replies=tuple(_reply_in(r) for r in replies),
        baselines=_baselines_in(d["baselines"]),
        hidden=_int(d["hidden"], "snapshot.hidden", 0, 4096),
    )


# Commands by name; each one's fields and how to check them.
_COMMANDS: dict[str, type] = {
    "pause": Pause,
    "resume": Resume,
    "step": Step,
    "reset": Reset,
    "set_hyper": SetHyper,
    "switch_cell": SwitchCell,
    "save": Save,
    "evaluate": Evaluate,
    "quit": Quit,
}
_COMMAND_NAMES = {cls: name for name, cls in _COMMANDS.items()}
MAX_LR = 10.0  # the largest learning rate a command may set (the app's keys stop there too)


def _command_out(c: Command) -> dict[str, Any]:
    return {"type": _COMMAND_NAMES[type(c)], **vars(c)}


def _command_in(d: Any) -> Command:
    if type(d) is not dict or d.get("type") not in _COMMANDS:
        raise _fail("request.command: an unknown command")
    kind = d["type"]
    if kind == "set_hyper":
        d = _fields(d, "set_hyper", {"type", "lr", "clip_mode", "clip", "lr_factor"})
        lr = _opt(_float, d["lr"], "set_hyper.lr", True)
        clip = _opt(_float, d["clip"], "set_hyper.clip", True)
        factor = _opt(_float, d["lr_factor"], "set_hyper.lr_factor", True)
        if (lr is not None and not 0 < lr <= MAX_LR) or (clip is not None and clip <= 0):
            raise _fail("set_hyper: lr must be in (0, 10] and clip above 0")
        if factor is not None and not 0 < factor <= MAX_LR:
            raise _fail("set_hyper: lr_factor must be in (0, 10]")
        mode = _opt(_choice, d["clip_mode"], "set_hyper.clip_mode", CLIP_MODES)
        return SetHyper(lr=lr, clip_mode=mode, clip=clip, lr_factor=factor)
    if kind == "switch_cell":
        d = _fields(d, "switch_cell", {"type", "cell"})
        return SwitchCell(_choice(d["cell"], "switch_cell.cell", CELL_NAMES))
    if kind == "save":
        d = _fields(d, "save", {"type", "path"})
        path = _str(d["path"], "save.path", 4096)
        if not path or "\0" in path:
            raise _fail("save.path: a file name expected")
        return Save(path)
    if kind == "evaluate":
        d = _fields(d, "evaluate", {"type", "text"})
        return Evaluate(_str(d["text"], "evaluate.text"))
    _fields(d, kind, {"type"})
    return _COMMANDS[kind]()


# -- frames -------------------------------------------------------------------------------------


def encode(msg: Message) -> bytes:
    """One frame holding `msg`, ready to send."""
    out = _Out()
    fields: dict[str, Any]
    if isinstance(msg, Hello):
        kind, fields = "hello", {"token": msg.token, "control": msg.control, "version": msg.version}
    elif isinstance(msg, Welcome):
        kind, fields = (
            "welcome",
            {
                "corpus": msg.corpus,
                "lag": msg.lag,
                "configs": list(msg.configs),
                "chars": "".join(msg.chars),
                "control": msg.control,
            },
        )
    elif isinstance(msg, Refused):
        kind, fields = "refused", {"text": msg.text}
    elif isinstance(msg, End):
        kind, fields = "end", {"text": msg.text}
    elif isinstance(msg, Heartbeat):
        kind, fields = "heartbeat", {}
    elif isinstance(msg, Snapshots):
        kind, fields = "snapshots", {"runs": [_snapshot_out(s, out) for s in msg.runs]}
    elif isinstance(msg, Request):
        kind, fields = "request", {"id": msg.id, "command": _command_out(msg.command)}
    elif isinstance(msg, Reply):
        kind, fields = "reply", _reply_out(msg)
    else:
        raise TypeError(f"not a wire message: {type(msg).__name__}")
    header = json.dumps(
        {"type": kind, "fields": fields, "arrays": out.specs}, separators=(",", ":")
    ).encode()
    body = b"".join(out.chunks)
    if (
        len(header) > MAX_HEADER
        or len(out.specs) > MAX_ARRAYS
        or len(header) + len(body) > MAX_FRAME
    ):
        raise WireError(f"a {kind} message too large to send")
    return PREFIX.pack(len(header), len(body)) + header + body


def check_prefix(
    prefix: bytes, limits: tuple[int, int] = (MAX_HEADER, MAX_FRAME)
) -> tuple[int, int]:
    """(header length, body length) of a frame's first 8 bytes, refused past `limits`."""
    n_header, n_body = PREFIX.unpack(prefix)
    max_header, max_body = limits
    if not 2 <= n_header <= max_header or n_body > max_body or n_header + n_body > MAX_FRAME:
        raise WireError(f"a frame of {n_header} + {n_body} bytes is past the limits")
    return n_header, n_body


def decode(header: bytes, body: bytes) -> Message:
    """The message of one frame (its header and body), checked field by field."""
    try:
        h = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _fail("the header is not JSON") from None
    h = _fields(h, "header", {"type", "fields", "arrays"})
    kind, f, specs = h["type"], h["fields"], h["arrays"]
    if type(specs) is not list or len(specs) > MAX_ARRAYS:
        raise _fail("header.arrays: a list of at most 64 arrays expected")
    arrays = _Arrays(_array_specs(specs, len(body)), body)
    msg = _message(kind, f, arrays)
    if len(arrays.used) != len(arrays.views):
        raise _fail("header.arrays: arrays that no field uses")
    return msg


def _array_specs(specs: list[Any], body: int) -> list[tuple[str, tuple[int, ...], int]]:
    out = []
    total = 0
    for i, spec in enumerate(specs):
        if type(spec) is not list or len(spec) != 3:
            raise _fail(f"array {i}: [dtype, shape, bytes] expected")
        dtype = _choice(spec[0], f"array {i} dtype", DTYPES)
        shape = spec[1]
        if type(shape) is not list or len(shape) > 2:
            raise _fail(f"array {i}: a shape of at most 2 dimensions expected")
        dims = tuple(_int(n, f"array {i} shape", 0, MAX_ARRAY) for n in shape)
        nbytes = _int(spec[2], f"array {i} bytes", 0, MAX_ARRAY)
        if math.prod(dims) * np.dtype(dtype).itemsize != nbytes:
            raise _fail(f"array {i}: its shape and byte count disagree")
        out.append((dtype, dims, nbytes))
        total += nbytes
    if total != body:
        raise _fail(f"the arrays hold {total} bytes, the body {body}")
    return out


def _message(kind: Any, f: Any, arrays: _Arrays) -> Message:
    if kind == "hello":
        f = _fields(f, "hello", {"token", "control", "version"})
        return Hello(
            _str(f["token"], "hello.token", 256),
            _bool(f["control"], "hello.control"),
            _int(f["version"], "hello.version"),
        )
    if kind == "welcome":
        f = _fields(f, "welcome", {"corpus", "lag", "configs", "chars", "control"})
        configs = f["configs"]
        if type(configs) is not list or not 1 <= len(configs) <= MAX_RUNS:
            raise _fail("welcome.configs: one or two settings expected")
        if not all(type(c) is dict for c in configs):
            raise _fail("welcome.configs: objects expected")
        chars = _str(f["chars"], "welcome.chars")
        if not chars or list(chars) != sorted(set(chars)):
            raise _fail("welcome.chars: distinct characters in sorted order expected")
        return Welcome(
            _opt(_str, f["corpus"], "welcome.corpus", 4096),
            _int(f["lag"], "welcome.lag", 0, 1 << 20),
            tuple(configs),
            tuple(chars),
            _bool(f["control"], "welcome.control"),
        )
    if kind in ("refused", "end"):
        f = _fields(f, kind, {"text"})
        text = _str(f["text"], f"{kind}.text", 4096)
        return Refused(text) if kind == "refused" else End(text)
    if kind == "heartbeat":
        _fields(f, "heartbeat", set())
        return Heartbeat()
    if kind == "snapshots":
        f = _fields(f, "snapshots", {"runs"})
        runs = f["runs"]
        if type(runs) is not list or not 1 <= len(runs) <= MAX_RUNS:
            raise _fail("snapshots.runs: one or two snapshots expected")
        return Snapshots(tuple(_snapshot_in(s, arrays) for s in runs))
    if kind == "request":
        f = _fields(f, "request", {"id", "command"})
        return Request(_int(f["id"], "request.id", 0), _command_in(f["command"]))
    if kind == "reply":
        return _reply_in(f)
    raise _fail(f"unknown message type {str(kind)[:40]!r}")


def read_message(
    recv: Callable[[int], bytes], limits: tuple[int, int] = (MAX_HEADER, MAX_FRAME)
) -> Message:
    """Read one frame with `recv(n)` (exactly n bytes, or an error) and decode it."""
    n_header, n_body = check_prefix(recv(PREFIX.size), limits)
    header = recv(n_header)
    body = recv(n_body) if n_body else b""
    return decode(header, body)
