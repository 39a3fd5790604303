"""Fuzzing --load: a few hundred broken, hostile or odd checkpoints, made from one good one.

Every case must either load and resume, or be refused with a one-line `UserError`; no other
exception, and loading never takes much more memory than the file and the model it declares.
The cases are seeded (`SEED`), so a failure is the same on every run and every machine.
"""

from __future__ import annotations

import functools
import io
import json
import random
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TINY

from rnn_tui.engine import checkpoint as ck
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, load_corpus
from rnn_tui.engine.resume import trainer_from_checkpoint
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError

SEED = 20240611
BASE = Config(hidden=8, seq_len=4, batch=2)  # 1,245 weights on tiny.txt: a 20 KB checkpoint
GIB = 2**30


@dataclass(frozen=True)
class Entry:
    """One zip member as written by `zip_bytes`; the defaults make a valid stored member."""

    name: str
    data: bytes  # the uncompressed bytes (the CRC is computed over these)
    method: int = zipfile.ZIP_STORED
    flags: int = 0  # general purpose bits: 0x1 says "encrypted"
    stream: bytes | None = None  # a ready compressed stream (forged bombs), else from `data`
    size: int | None = None  # the declared uncompressed size, if not len(data)
    crc: int | None = None  # the declared CRC-32, if not the real one


def zip_bytes(entries: list[Entry]) -> bytes:
    """A zip archive written by hand, so flags, methods, sizes and CRCs can be anything."""
    out, central = bytearray(), bytearray()
    for e in entries:
        if e.stream is not None:
            payload = e.stream
        elif e.method == zipfile.ZIP_DEFLATED:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
            payload = c.compress(e.data) + c.flush()
        else:
            payload = e.data
        crc = zlib.crc32(e.data) if e.crc is None else e.crc
        size = len(e.data) if e.size is None else e.size
        name = e.name.encode("utf-8")
        flags = e.flags | (0x800 if not e.name.isascii() else 0)  # 0x800: the name is UTF-8
        fixed = (flags, e.method, 0, 0x21, crc, len(payload), size, len(name))  # date 1980-01-01
        central += struct.pack("<IHH", 0x02014B50, 20, 20) + struct.pack("<HHHHIIIH", *fixed)
        central += struct.pack("<HHHHII", 0, 0, 0, 0, 0, len(out)) + name
        out += struct.pack("<IH", 0x04034B50, 20) + struct.pack("<HHHHIIIH", *fixed)
        out += struct.pack("<H", 0) + name + payload
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                      len(out), 0)  # fmt: skip
    return bytes(out + central + end)


def members(blob: bytes) -> list[Entry]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return [Entry(i.filename, z.read(i)) for i in z.infolist()]


def npy(array: np.ndarray) -> bytes:
    """`.npy` bytes of `array`; object arrays are pickled, as a hostile file would do."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def npy_raw(header: str, data: bytes = b"", version: int = 1) -> bytes:
    """`.npy` bytes with any header text: the parser, not the writer, is under test."""
    h = header.encode("latin1")
    length = struct.pack("<H" if version == 1 else "<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + length + h + data


def header_end(data: bytes) -> int:
    """Where the data starts in a `.npy` member: after magic, version, length and header."""
    if data[6] == 1:
        return 10 + struct.unpack("<H", data[8:10])[0]
    return 12 + struct.unpack("<I", data[8:12])[0]


def array_of(entries: list[Entry], name: str) -> np.ndarray:
    (e,) = [e for e in entries if e.name == name]
    return np.load(io.BytesIO(e.data), allow_pickle=False)


def put(entries: list[Entry], name: str, data: bytes, **changes) -> list[Entry]:
    """`entries` with member `name` replaced (or added at the end)."""
    new = Entry(name, data, **changes)
    out = [new if e.name == name else e for e in entries]
    return out if new in out else [*out, new]


def drop(entries: list[Entry], name: str) -> list[Entry]:
    return [e for e in entries if e.name != name]


@functools.cache
def zero_bomb(shape: tuple[int, ...], zeros: int) -> Entry:
    """A deflated `param.Wxh` declaring a float32 `.npy` header for `shape`, then `zeros` zero
    bytes (a multiple of 1 MiB). The stream repeats one fully flushed 1 MiB block, so it is
    built in no time; only the CRC reads the whole gigabyte."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    head = npy_raw(text.ljust(117) + "\n")  # 128 bytes in all, as numpy pads it
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    mib = bytes(2**20)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)  # no history: the same bytes each time
    n = zeros // 2**20
    stream = first + block * n + c.flush()
    crc = zlib.crc32(head)
    for _ in range(n):
        crc = zlib.crc32(mib, crc)
    return Entry("param.Wxh.npy", b"", 8, stream=stream, size=len(head) + zeros, crc=crc)


def good_checkpoint(corpus: Corpus, folder: Path, config: Config = BASE, opt: bool = True) -> bytes:
    """A checkpoint after two steps; without its optimizer state if not `opt`."""
    trainer = Trainer(corpus, config)
    trainer.step()
    trainer.step()
    path = ck.save_checkpoint(folder / f"{config.cell}-{config.optimizer}.npz", trainer)
    blob = Path(path).read_bytes()
    if not opt:  # weights only, as written after the trainer process died
        blob = zip_bytes([e for e in members(blob) if not e.name.startswith("opt.")])
    return blob


def config_cases(base: list[Entry]) -> list[tuple[str, bytes]]:
    """The settings member replaced by odd JSON: wrong kinds, wrong types, wrong ranges."""
    settings = json.loads(str(array_of(base, "config.npy")))
    texts = ["[]", "null", "3", '"rnn"', "{", "[" * 5000 + "]" * 5000, "1" * 5000, "x" * 100000]
    typed = [("seed", 1.5), ("batch", 2.5), ("seq_len", 8.5), ("eval_every", 2.5), ("eval_chars", 1.5),
             ("reset_at", 5), ("lr", "3"), ("hidden", True), ("lr", float("nan")), ("hidden", 0),
             ("hidden", 4096), ("cell", "xyz"), ("cell", None), ("dtype", "float16"),
             ("optimizer", "sgd"), ("optimizer", "adagrad"), ("dtype", "float64"), ("cell", "lstm"),
             ("clip", float("inf")), ("val_fraction", 1.5), ("seed", -1), ("hidden", 10**400),
             ("batch", 3), ("seq_len", 10000), ("reset_at", "\n\x1b[2J")]  # fmt: skip
    out = [(f"config {t[:30]!r}", t) for t in texts]
    out += [(f"config {k}={v!r:.20}", json.dumps({**settings, k: v})) for k, v in typed]
    out += [
        ("config without hidden", json.dumps({k: settings[k] for k in settings if k != "hidden"}))
    ]
    out += [("config with a future field", json.dumps({**settings, "future_field": [1, 2]}))]
    out = [(label, zip_bytes(put(base, "config.npy", npy(np.array(t))))) for label, t in out]
    for arr in (np.array([1, 2]), np.array(7), np.array(["{}", "{}"]), np.array(b"{}")):
        out.append((f"config array {arr.dtype}", zip_bytes(put(base, "config.npy", npy(arr)))))
    return out


def build_cases(corpus: Corpus, folder: Path) -> list[tuple[str, bytes]]:
    """Every case as (description, file bytes). Seeded: the same list on every run."""
    rng = random.Random(SEED)
    blob = good_checkpoint(corpus, folder)
    base = members(blob)
    names = [e.name for e in base]
    cases: list[tuple[str, bytes]] = []

    def add(label: str, content: bytes | list[Entry]) -> None:
        """A case: a list of members is zipped, bytes are the file as it is."""
        cases.append((label, content if isinstance(content, bytes) else zip_bytes(content)))

    def flip(e: Entry, lo: int, hi: int) -> list[Entry]:
        """`base` with one random bit of `e.data[lo:hi]` flipped (and a CRC made right)."""
        data = bytearray(e.data)
        data[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
        return put(base, e.name, bytes(data))

    add("valid", blob)
    add("valid deflated", [replace(e, method=zipfile.ZIP_DEFLATED) for e in base])
    add("no optimizer state", good_checkpoint(corpus, folder, opt=False))
    for config in (BASE.with_(cell="lstm"), BASE.with_(cell="gru", dtype="float64"),
                   BASE.with_(optimizer="sgd"), BASE.with_(optimizer="adagrad")):  # fmt: skip
        add(f"valid {config.cell} {config.optimizer}", good_checkpoint(corpus, folder, config))
    for i in range(160):  # one bit of one .npy header
        e = base[rng.randrange(len(base))]
        add(f"header bit {i} of {e.name}", flip(e, 0, header_end(e.data)))
    for i in range(30):  # a bit of the weights themselves: may load, may turn into NaN
        e = base[rng.randrange(5, len(base))]
        add(f"data bit {i} of {e.name}", flip(e, header_end(e.data), len(e.data)))
    for cut in sorted(rng.sample(range(len(blob)), 40)):  # cut anywhere
        add(f"truncated at {cut}", blob[:cut])
    for _ in range(30):  # a byte of the archive itself: headers, CRCs, the directory
        data, pos = bytearray(blob), rng.randrange(len(blob))
        data[pos] = rng.randrange(256)
        add(f"archive byte {pos}", bytes(data))
    for _ in range(15):  # one member's bytes under another's name
        a, b = rng.sample(names, 2)
        other = {a: base[names.index(b)].data, b: base[names.index(a)].data}
        add(f"swapped {a} and {b}", [replace(e, data=other.get(e.name, e.data)) for e in base])
    wxh = array_of(base, "param.Wxh.npy")
    add("extra param", [*base, Entry("param.extra.npy", npy(wxh))])
    add("extra opt", [*base, Entry("opt.extra.npy", npy(wxh))])
    add("extra npy", [*base, Entry("notes.npy", npy(np.array("hi")))])
    add("non-npy member", [*base, Entry("notes.txt", b"hello")])
    add("folder member", [*base, Entry("dir/", b"")])
    add("control chars in a name", [*base, Entry("\x1b[2J\x07.npy", b"")])
    add("duplicate member", [*base, base[6]])
    add("8000 members", [*base, *[Entry(f"x{i}.npy", b"") for i in range(8000)]])
    add("empty archive", [])
    add("empty file", b"")
    add("random bytes", rng.randbytes(3000))
    add("zip magic then junk", b"PK\x03\x04" + rng.randbytes(500))
    for n in names:
        add(f"missing {n}", drop(base, n))
    for dtype in ("int8", "bool", "complex64", "float16", "float64", ">f4", "<U3", "object", "V4"):
        name = rng.choice([n for n in names if n.startswith(("param.", "opt.m", "opt.v"))])
        add(f"{name} as {dtype}", put(base, name, npy(array_of(base, name).astype(dtype))))
    vocab = array_of(base, "vocab.npy")
    for name, value in [("step.npy", np.array(2.0)), ("step.npy", np.array([2])),
                        ("step.npy", np.array(2, np.int32)), ("step.npy", np.array(-1, np.int64)),
                        ("chars.npy", np.array(-5, np.int64)), ("chars.npy", np.array(1, np.int64)),
                        ("step.npy", np.array(2**62, np.int64)), ("step.npy", np.array("2")),
                        ("opt.t.npy", np.array(-3, np.int64)), ("opt.t.npy", np.array(2.0)),
                        ("format.npy", np.array("rnn-tui checkpoint 2")),
                        ("format.npy", np.array(1)), ("format.npy", np.array("x" * 100000)),
                        ("vocab.npy", np.array([], "<U1")), ("vocab.npy", np.array(list("ab"))),
                        ("vocab.npy", np.arange(69)), ("vocab.npy", np.array(["ab"] * 69)),
                        ("vocab.npy", vocab.reshape(3, 23)), ("vocab.npy", vocab[::-1].copy()),
                        ("vocab.npy", np.array(["a"] * 69))]:  # fmt: skip
        add(f"{name} = {value!r:.40}", put(base, name, npy(value)))
    for name in ("param.Wxh.npy", "param.Why.npy", "param.by.npy", "opt.m.Wxh.npy"):
        value = array_of(base, name)
        for label, bad in [("transposed", value.T.copy() if value.ndim == 2 else value[:, None]),
                           ("extra axis", value[None]), ("one short", value.reshape(-1)[:-1]),
                           ("scalar", value.reshape(-1)[:1].reshape(()))]:  # fmt: skip
            add(f"{name} {label}", put(base, name, npy(bad)))
        for bad_value in (np.nan, np.inf, -np.inf):
            bad = value.copy()
            bad.reshape(-1)[rng.randrange(bad.size)] = bad_value
            add(f"{name} holds {bad_value}", put(base, name, npy(bad)))
    wxh_data = base[names.index("param.Wxh.npy")].data
    data = wxh_data[header_end(wxh_data) :]
    for header in [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 8), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2**62,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 8), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-8, -69), }",
        "{'descr': '<f4', 'fortran_order': True, 'shape': (8, 69), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 69L), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 69), '''",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 69), \"",
        "{'descr': '<U999999999999', 'fortran_order': False, 'shape': (8, 69), }",
        "{'descr': [('a', 'O')], 'fortran_order': False, 'shape': (8, 69), }",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (8, 69), }",
        "[1, 2, 3]",
        "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 300 + ")" * 300 + "}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 69), }" + " " * 20000,
    ]:
        add(f"header {header[:60]!r}", put(base, "param.Wxh.npy", npy_raw(header, data)))
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 69), }"
    for label, raw in [("npy v2", npy_raw(hdr, data, 2)), ("npy v3", npy_raw(hdr, data, 3)),
                       ("v2 header of 4 GiB", b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + data),
                       ("bad magic", b"\x93NUMPZ" + wxh_data[6:]), ("header only", wxh_data[:60]),
                       ("no bytes", b""), ("extra bytes", wxh_data + b"\0" * 16)]:  # fmt: skip
        add(label, put(base, "param.Wxh.npy", raw))
    for name in rng.sample(names, 4):  # flag and method of one member
        e = base[names.index(name)]
        add(f"{name} encrypted", put(base, name, e.data, flags=1))
        for method in (1, 12, 14, 99):
            add(f"{name} method {method}", put(base, name, e.data, method=method))
    bomb = zero_bomb((2**28,), GIB)  # 1 GiB of zeros in about 1 MB
    add("1 GiB bomb as a weight", [*drop(base, "param.Wxh.npy"), bomb])
    add("1 GiB bomb, unknown name", [*base, replace(bomb, name="bomb.npy")])
    add("1 GiB bomb, right header", [*drop(base, "param.Wxh.npy"), zero_bomb((8, 69), GIB)])
    add("size says 1 GiB", put(base, "param.Wxh.npy", wxh_data, size=GIB))
    add("size says 1 byte", put(base, "param.Wxh.npy", wxh_data, size=1))
    add("size too large", put(base, "param.Wxh.npy", wxh_data, method=8, size=len(wxh_data) + 64))
    add("wrong crc", put(base, "param.Wxh.npy", wxh_data, crc=1))
    add("a 4096-wide model of deflated zeros", big_model_bomb(base))
    return cases + config_cases(base)


def big_model_bomb(base: list[Entry]) -> bytes:
    """Settings declaring hidden 4096 (a 64 MiB W_hh) and every weight as deflated zeros with
    the right shape: only the ratio of declared to stored bytes gives it away."""
    settings = json.loads(str(array_of(base, "config.npy"))) | {"hidden": 4096, "optimizer": "sgd"}
    out = [e for e in base if not e.name.startswith(("param.", "opt.", "config."))]
    out.append(Entry("config.npy", npy(np.array(json.dumps(settings)))))
    for name, shape in {"Wxh": (4096, 69), "Whh": (4096, 4096), "bh": (4096,), "Why": (69, 4096),
                        "by": (69,)}.items():  # fmt: skip
        data = npy(np.zeros(shape, np.float32))
        out.append(Entry(f"param.{name}.npy", data, zipfile.ZIP_DEFLATED))
    return zip_bytes(out)


# Cases that may go either way (a flipped bit can leave a valid file), and cases that must load;
# every other case must be refused.
EITHER = ("header bit", "data bit", "archive byte", "swapped", "npy v3", "config batch=3",
          "config seq_len=10000", "config reset_at='\\n",
          "header \"{'descr': '<f4', 'fortran_order': True",
          "header \"{'descr': '<f4', 'fortran_order': False, 'shape': (8, 69L)")  # fmt: skip
MUST_LOAD = ("valid", "no optimizer state", "npy v2", "config with a future field")


def expected(label: str) -> str | None:
    """'loaded' or 'refused' for a case that must go one way, None for one that may go either."""
    if label.startswith(EITHER):
        return None
    return "loaded" if label.startswith(MUST_LOAD) else "refused"


def check_case(corpus: Corpus, label: str, path: Path) -> str | None:
    """Load `path` and resume from it, as `--load` does (tracemalloc running). None if that went
    as `expected`, else what went wrong: another exception, a message with a newline or other
    control character, memory out of proportion to the file, or the wrong outcome."""
    size = path.stat().st_size
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        ckpt = ck.load_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1] - before
        if peak > 3 * size + 2**21:  # file + 2 x model + slack; a model that loads is <= file
            return f"loading took {peak / 2**20:.1f} MiB for {size / 2**10:.0f} KiB"
        trainer_from_checkpoint(corpus, ckpt, str(path))
        outcome, detail = "loaded", ""
    except UserError as exc:
        outcome, detail = "refused", str(exc)
        if any(ord(c) < 32 for c in detail):  # newline, CR, ESC: not one clean line
            return f"message not one clean line: {detail[:120]!r}"
    except Exception as exc:  # noqa: BLE001 - any other exception is what is being counted
        return f"{type(exc).__name__}: {str(exc)[:100]}"
    peak = tracemalloc.get_traced_memory()[1] - before
    if peak > 3 * size + 2**24:  # a trainer for the tiny model costs well under 16 MiB
        return f"{outcome} after taking {peak / 2**20:.1f} MiB"
    if expected(label) not in (None, outcome):
        return f"{outcome}, must be {expected(label)}: {detail[:100]}"
    return None


@pytest.fixture(scope="module")
def tiny() -> Corpus:
    return load_corpus(TINY)


@pytest.fixture(scope="module")
def cases(tiny, tmp_path_factory) -> list[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    out = []
    for i, (label, blob) in enumerate(build_cases(tiny, folder)):
        path = folder / f"case{i:03}.npz"
        path.write_bytes(blob)
        out.append((label, path))
    return out


@pytest.mark.functional
def test_every_mutation_loads_or_is_refused_in_one_line(tiny, cases) -> None:
    """If this fails, some damaged or hostile checkpoint gives a traceback, a message on several
    lines, or takes memory out of proportion to its size (a decompression bomb)."""
    tracemalloc.start()
    try:
        failures = [(label, why) for label, path in cases if (why := check_case(tiny, label, path))]
    finally:
        tracemalloc.stop()
    assert len(cases) > 400
    assert not failures, f"{len(failures)} of {len(cases)} cases failed: {failures[:8]}"


CLI_CASES = ["valid", "no optimizer state", "param.Wxh.npy holds nan", "1 GiB bomb as a weight",
             "param.Why.npy transposed", "config '[]'", "header bit 3 "]  # fmt: skip


@pytest.mark.functional
def test_cli_loads_or_refuses_without_traceback(cases) -> None:
    """If this fails, `rnn-tui --load` prints a traceback for some broken file."""
    chosen = [(label, p) for label, p in cases if any(label.startswith(c) for c in CLI_CASES)]
    assert len(chosen) >= len(CLI_CASES)
    for label, path in chosen:
        argv = [sys.executable, "-m", "rnn_tui", str(TINY), "--load", str(path), "--headless"]
        out = subprocess.run([*argv, "--steps", "1"], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode in (0, 2), (label, out.stderr[-500:])
        assert "Traceback" not in out.stderr, (label, out.stderr[-500:])
        if out.returncode == 2:
            assert len(out.stderr.strip().splitlines()) == 1, (label, out.stderr)
        if label in ("valid", "no optimizer state"):
            assert out.returncode == 0, (label, out.stderr)
