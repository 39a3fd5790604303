"""Checkpoints: one `.npz` file with weights, optimizer state, vocabulary, settings and counters.

Written atomically (a temporary file in the same folder, then a rename), so a crash or a full
disk never leaves a half-written file where a good one was.

Read as a file from a stranger, never with `np.load`: every member must be one the model
expects, and its `.npy` header must give the shape, dtype and size it needs before a byte of
data is read. A bomb, a huge header or a pickled object costs no more than its header; a file
of S bytes loads in about S plus the model's size. Weights must be finite and of the settings'
dtype exactly (never cast); optimizer state is all there or absent (weights alone resume with
a fresh optimizer). Every failure is a one-line `UserError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import stat
import struct
import tokenize
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, NamedTuple, NoReturn

import numpy as np
from numpy.lib import format as npy_format

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import Params, make_cell
from rnn_tui.engine.optim import OPTIMIZERS
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError
from rnn_tui.textsafe import sanitize

FORMAT = "rnn-tui checkpoint 1"
SCALARS = ("format", "config", "vocab", "step", "chars")  # every member besides param.*, opt.*
MAX_MEMBERS = 256  # an LSTM with Adam has 21; more is not a checkpoint of ours
MAX_HEADER = 4096  # bytes of `.npy` header; numpy writes 118 for our arrays
MAX_CONFIG_CHARS = 65536  # the settings are ~600 characters of JSON
MAX_VOCAB = 2**20  # characters in the vocabulary (4 MiB as UCS-4)
BOMB_RATIO, BOMB_SLACK = 32, 64 * 2**20  # declared bytes may exceed 64 MiB + 32 x the file's
CHUNK = 2**20  # bytes read at a time
_READ_HEADER = {1: npy_format.read_array_header_1_0, 2: npy_format.read_array_header_2_0}
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)  # O_EXCL: never
# someone else's file or symlink, and the mode is set at creation (mkstemp's 0o600 needs a chmod)


def _clip(text: object, n: int = 60) -> str:
    """`text` made safe for a one-line message: controls shown as symbols, at most `n` chars."""
    s = sanitize(str(text)).replace("\n", "\u2424")  # sanitize keeps newlines; not here
    return s if len(s) <= n else s[: n - 3] + "..."


@dataclass(frozen=True)
class Checkpoint:
    """The contents of a checkpoint file."""

    config: Config  # the settings it was trained with
    vocab: tuple[str, ...]  # its characters, in id order
    params: Params  # weights by name, each of the model's shape, e.g. Wxh: (H, V)
    opt_state: dict[str, np.ndarray]  # optimizer state by name; {} = start a fresh optimizer
    step: int  # optimizer steps taken
    chars: int  # training characters read


# -- writing ---------------------------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike[str], trainer: Trainer) -> str:
    """Write the trainer's model to `path` atomically; return the path written."""
    t = trainer
    state = (t.params, t.optimizer.state, t.steps, t.chars)
    return write_checkpoint(path, Checkpoint(t.config, t.corpus.vocab.chars, *state))


def write_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> str:
    """Write `ckpt` to `path` (".npz" added if missing) atomically; return the path written.

    Weights holding NaN or inf are refused: such a file could never be loaded again."""
    p = os.fspath(path)
    if not p.endswith(".npz"):
        p += ".npz"  # what the file is; the loader does not care
    shown = _clip(p, 200)
    if not all(isinstance(c, str) and len(c) == 1 for c in ckpt.vocab):
        raise UserError(f"not saved to {shown}: the vocabulary must be single characters")
    arrays = {f"param.{k}": np.asarray(v) for k, v in ckpt.params.items()}
    arrays |= {f"opt.{k}": np.asarray(v) for k, v in ckpt.opt_state.items()}
    for key, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise UserError(f"not saved to {shown}: {key} holds NaN or inf (diverged?)")
    arrays = {
        "format": np.array(FORMAT),
        "config": np.array(json.dumps(ckpt.config.to_json())),
        "vocab": np.array(list(ckpt.vocab), "<U1"),
        "step": np.array(ckpt.step, np.int64),
        "chars": np.array(ckpt.chars, np.int64),
    } | arrays
    folder = os.path.dirname(os.path.abspath(p))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        name = os.path.join(folder, f".rnn-tui-{secrets.token_hex(8)}.npz.tmp")
        fd = os.open(name, _NEW_FILE, 0o666)  # 0o666 less the umask, as any file the user makes
        tmp = name  # ours to delete if anything below fails
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)  # atomic: readers see the old file or the new one, never half
        tmp = None
    except OSError as exc:
        raise UserError(f"cannot save checkpoint to {shown}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


def _write_npz(f: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """What np.savez writes (stored members "<key>.npy"), but never pickling an object array."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, value, allow_pickle=False)


# -- reading ---------------------------------------------------------------------------------

# What reading a damaged archive can raise besides UserError: zipfile, zlib and numpy's header
# parser each have their own. All of them mean "this file is broken".
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error)
_DAMAGED = (OSError, EOFError, ValueError, RuntimeError, OverflowError, *_ZIP_ERRORS)


class _Header(NamedTuple):
    """What a member's `.npy` header declares."""

    shape: tuple[int, ...]
    fortran: bool  # data stored column-major
    dtype: np.dtype
    start: int  # bytes before the data: magic, version, length, header


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint; anything that is not one of ours becomes a one-line `UserError`."""
    p = os.fspath(path)
    shown = _clip(p, 200)
    try:
        mode = os.stat(p).st_mode
        if not stat.S_ISREG(mode):  # a FIFO would block, a device never end
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise UserError(f"checkpoint {shown} is {kind}")
        with open(p, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # an .npz is a zip archive; anything else is not ours
                raise UserError(f"{shown} is not an rnn-tui checkpoint (not an .npz file)")
            with zipfile.ZipFile(f) as zf:
                return _Reader(zf, shown, os.fstat(f.fileno()).st_size).checkpoint()
    except FileNotFoundError:
        raise UserError(f"checkpoint {shown} does not exist") from None
    except PermissionError:
        raise UserError(f"cannot read checkpoint {shown}: permission denied") from None
    except MemoryError:
        raise UserError(f"checkpoint {shown} is too large to load in this memory") from None
    except _DAMAGED as exc:
        why = f"{type(exc).__name__}: {_clip(exc)}" if str(exc) else type(exc).__name__
        raise UserError(f"{shown} is not a readable rnn-tui checkpoint ({why})") from None


class _Reader:
    """One open archive: its members by key ("param.Wxh" for "param.Wxh.npy"), their headers
    read and checked up front, their data read only once it is known to be what is needed."""

    def __init__(self, zf: zipfile.ZipFile, shown: str, size: int) -> None:
        self.zf, self.shown = zf, shown
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            self.fail(f"holds {len(infos)} members, far more than a checkpoint has")
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = _clip(info.filename)
            if not info.filename.endswith(".npy"):
                self.fail(f"member {name} is not a .npy array")
            if info.filename[:-4] in self.infos:
                self.fail(f"member {name} appears twice")
            if info.flag_bits & 0x41:  # 0x01: encrypted; 0x40: strong encryption
                self.fail(f"member {name} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(f"member {name} uses compression method {info.compress_type}")
            self.infos[info.filename[:-4]] = info
        declared = sum(i.file_size for i in infos)
        if declared > BOMB_SLACK + BOMB_RATIO * size:
            self.fail(f"declares {declared / 2**20:,.0f} MiB in {size / 2**20:,.1f} MiB (a bomb?)")
        self.headers = {key: self._header(key) for key in self.infos}

    def fail(self, why: str) -> NoReturn:
        raise UserError(f"{self.shown}: {why}")

    def _header(self, key: str) -> _Header:
        """Read and check one member's `.npy` header, never its data."""
        with self.zf.open(self.infos[key]) as f:
            head = f.read(10)  # magic (6), version (2), and the header length's first 2 bytes
            if len(head) < 10 or head[:6] != b"\x93NUMPY" or head[6:8] not in (b"\1\0", b"\2\0"):
                self.fail(f"member {_clip(key)}.npy is not a .npy array of version 1 or 2")
            length = head[8:10] if head[6] == 1 else head[8:10] + f.read(2)  # v2: 4 bytes
            n = int.from_bytes(length, "little")
            if n > MAX_HEADER:  # numpy would read all of it first: up to 4 GiB for v2
                self.fail(f"member {_clip(key)}.npy has an oversized .npy header ({n:,} bytes)")
            text = f.read(n)
        read = _READ_HEADER[head[6]]  # the parser of this .npy version
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy warns of a Python 2 header; no matter
                shape, fortran, dtype = read(io.BytesIO(length + text), max_header_size=MAX_HEADER)
        except (ValueError, SyntaxError, tokenize.TokenError, TypeError, OverflowError,
                RecursionError) as exc:  # fmt: skip
            self.fail(f"member {_clip(key)}.npy has a corrupt .npy header ({type(exc).__name__})")
        if dtype.hasobject:  # np.load would unpickle it, and unpickling can run any code
            raise UserError(f"{self.shown} holds pickled objects; refused (they could run code)")
        if any(d < 0 for d in shape):
            self.fail(f"member {_clip(key)}.npy has a negative dimension")
        return _Header(shape, fortran, dtype, 8 + len(length) + n)

    def expect(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Refuse member `key` unless its header says exactly `shape` and `dtype`."""
        h = self.headers[key]
        if h.dtype != dtype:  # a big-endian float32 is named ">f4", not "float32"
            name = h.dtype.name if h.dtype.isnative else h.dtype.str
            self.fail(f"{key} holds {_clip(name)}, the model needs {dtype}")
        if h.shape != shape:
            self.fail(f"{key} has shape {_clip(h.shape)}, the model needs {shape}")

    def fill(self, key: str, out: np.ndarray) -> np.ndarray:
        """Read member `key` (header checked by `expect`) into `out` and return `out`. The zip
        entry must declare exactly header + data bytes, so nothing more is ever inflated."""
        h, info = self.headers[key], self.infos[key]
        if info.file_size != h.start + out.nbytes:
            self.fail(f"{key} declares {info.file_size:,} bytes, not {h.start + out.nbytes:,}")
        same_layout = out.flags.f_contiguous if h.fortran else out.flags.c_contiguous
        dest = out if same_layout else np.empty(out.shape, out.dtype, "F" if h.fortran else "C")
        raw = memoryview(dest.T if h.fortran else dest).cast("B")  # the bytes in file order
        with self.zf.open(info) as f:
            f.read(h.start)  # the header, already checked
            done = 0
            while done < len(raw):
                piece = f.read(min(CHUNK, len(raw) - done))
                if not piece:
                    self.fail(f"{key} ends after {done:,} of {len(raw):,} bytes")
                raw[done : done + len(piece)] = piece
                done += len(piece)
            f.read(1)  # reach the member's end, where zipfile checks its CRC
        if dest is not out:
            out[...] = dest  # a column-major member into a row-major array
        if out.dtype.kind == "f" and not np.isfinite(out).all():
            self.fail(f"{key} holds NaN or inf")
        if out.dtype.kind == "i" and (out < 0).any():
            self.fail(f"{key} is negative")
        return out

    def text(self, key: str, max_chars: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """A string member (UCS-4, numpy's "<U"): `shape` of at most `max_chars` each."""
        h = self.headers[key]
        if h.dtype.kind != "U" or not h.dtype.isnative or h.dtype.itemsize > 4 * max_chars:
            self.fail(f"{key} is not text of at most {max_chars:,} characters")
        if len(h.shape) != len(shape) or any(
            s not in (n, -1) for n, s in zip(h.shape, shape, strict=True)
        ):
            self.fail(f"{key} has shape {_clip(h.shape)}, not {shape}")
        if math.prod(h.shape) > MAX_VOCAB:  # Python ints: np.prod would wrap around
            self.fail(f"{key} holds more than {MAX_VOCAB:,} strings")
        out = self.fill(key, np.empty(h.shape, h.dtype))
        codes = np.frombuffer(memoryview(out).cast("B"), np.uint32)  # UCS-4 code points
        if codes.size and codes.max() > 0x10FFFF:  # numpy would fail on them with SystemError
            self.fail(f"{key} holds invalid characters")
        return out

    def counter(self, key: str) -> int:
        """An int64 scalar member, >= 0."""
        self.expect(key, (), np.dtype(np.int64))
        return int(self.fill(key, np.empty((), np.int64)))

    def config(self) -> Config:
        """The settings: a JSON object in a string member, checked by `Config`."""
        try:
            data = json.loads(str(self.text("config", MAX_CONFIG_CHARS)))
        except (ValueError, RecursionError):
            self.fail("its settings are not valid JSON")
        try:
            return Config.from_json(data)
        except UserError as exc:
            self.fail(f"its settings are invalid: {exc}")

    def checkpoint(self) -> Checkpoint:
        """Check and read every member, smallest first; the model they make decides the rest."""
        if "format" not in self.infos or str(self.text("format", 64)) != FORMAT:
            raise UserError(f"{self.shown} is not an rnn-tui checkpoint")
        for key in SCALARS:
            if key not in self.infos:
                self.fail(f"member {key}.npy is missing")
        config = self.config()
        # numpy drops trailing NULs of a string, so an empty entry was the character "\0".
        vocab = tuple(c or "\0" for c in self.text("vocab", 1, (-1,)).tolist())
        step, chars = self.counter("step"), self.counter("chars")
        if chars < step:
            self.fail(f"claims {step:,} steps but only {chars:,} characters read")
        dtype = np.dtype(config.dtype)
        shapes = make_cell(config.cell, len(vocab), config.hidden, config.dtype).param_shapes()
        stand_in = {name: np.zeros(0, dtype) for name in shapes}  # names without the memory
        opt_names = OPTIMIZERS[config.optimizer](stand_in).state
        saved_opt = {k[4:] for k in self.infos if k.startswith("opt.")}
        wanted = {*SCALARS, *(f"param.{n}" for n in shapes)}
        wanted |= {f"opt.{n}" for n in opt_names} if saved_opt else set()
        for key in sorted(set(self.infos) - wanted):
            self.fail(
                f"holds {_clip(key)}.npy, not part of a {config.cell} model with {config.optimizer}"
            )
        for key in sorted(wanted - set(self.infos)):
            self.fail(f"member {key}.npy is missing")
        for name, shape in shapes.items():  # every header before any data
            self.expect(f"param.{name}", shape, dtype)
        params = {n: self.fill(f"param.{n}", np.empty(s, dtype)) for n, s in shapes.items()}
        state: dict[str, np.ndarray] = {}
        if saved_opt:
            state = OPTIMIZERS[config.optimizer](params).state  # zeros of the right shapes
            for name, value in state.items():
                self.expect(f"opt.{name}", value.shape, value.dtype)
            for name, value in state.items():
                self.fill(f"opt.{name}", value)
        return Checkpoint(config, vocab, params, state, step, chars)
