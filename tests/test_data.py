"""Loading a corpus: vocabulary, encoding, the held-out split, and refusing bad files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnn_tui.engine import data
from rnn_tui.engine.data import (
    Vocab,
    corpus_from_text,
    encode,
    ids_dtype,
    load_corpus,
    read_text,
    scan_vocab,
)
from rnn_tui.errors import UserError


def test_vocabulary_is_sorted_and_stable(text_file) -> None:
    """If this fails, character ids change between runs and checkpoints stop fitting."""
    c = load_corpus(text_file("banana bread\n" * 10))
    assert c.vocab.chars == ("\n", " ", "a", "b", "d", "e", "n", "r")
    assert c.vocab.chars == tuple(sorted(c.vocab.chars))


def test_held_out_split_is_the_last_tenth(text_file) -> None:
    """If this fails, the held-out loss is measured on text the model trained on."""
    text = "".join(chr(97 + i % 26) for i in range(1000))
    c = load_corpus(text_file(text))
    assert len(c.val) == 100 and len(c.train) == 900
    assert c.vocab.decode(c.val) == text[900:]
    assert c.vocab.decode(c.train) == text[:900]


@given(st.text(min_size=1))
def test_encode_decode_round_trip(text: str) -> None:
    """If this fails, some characters come back different from what was read: samples show
    the wrong letters."""
    vocab = Vocab.from_text(text)
    ids = encode(vocab, text)
    assert ids.dtype == ids_dtype(vocab.size) and len(ids) == len(text)
    assert vocab.decode(ids) == text


def test_encoding_an_unknown_character_is_refused() -> None:
    """If this fails, a prime text with a new character silently becomes another character."""
    with pytest.raises(UserError, match="not in the vocabulary"):
        encode(Vocab.from_text("abc"), "abz")


def test_byte_order_mark_is_dropped(text_file) -> None:
    """If this fails, an invisible U+FEFF joins the vocabulary of files saved by some editors."""
    assert "\ufeff" not in read_text(text_file("\ufeffhello".encode()))


BAD_FILES = [
    ("missing", None, "no such file"),
    ("directory", "dir", "is a directory"),
    ("empty", b"", "is empty"),
    ("not utf-8", b"hello\nw\xffrld", r"not UTF-8 text: byte 0xff at offset 7 \(line 2\)"),
    ("one distinct character", b"aaaaaaaaaaaa", "one distinct character"),
    ("too short for a window", b"abcab", "too short"),
]


@pytest.mark.parametrize(("label", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_corpus_is_refused_in_one_line(tmp_path: Path, label, content, message) -> None:
    """If this fails, a user who points at the wrong file gets a traceback or a vague error."""
    path = tmp_path / "corpus.txt"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as info:
        load_corpus(path, min_train_chars=33)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_too_large_corpus_names_the_limit(text_file) -> None:
    """If this fails, a huge file is read into memory until the machine swaps."""
    with pytest.raises(UserError, match="limit is 1 MiB"):
        load_corpus(text_file("ab" * 600_000), max_bytes=2**20)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """If this fails, pointing at a named pipe hangs the program forever."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_corpus(fifo)


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    """If this fails, a symlink loop gives an OSError traceback."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(UserError, match="symbolic links"):
        load_corpus(a)


def test_permission_denied_is_one_line(text_file, monkeypatch) -> None:
    """If this fails, an unreadable file gives a PermissionError traceback. (Simulated: the
    tests may run as root, who can read anything.)"""
    path = text_file("hello world\n" * 20)
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(UserError, match="permission denied"):
        load_corpus(path)


def test_file_changing_while_read_is_refused(text_file, monkeypatch) -> None:
    """If this fails, a corpus still being written (a download, an editor saving) is trained
    on half-written, and the user never knows why the model is odd."""
    path = text_file("hello world\n" * 20)
    real_fstat = os.fstat
    calls = {"n": 0}

    def growing(fd):
        calls["n"] += 1
        st = real_fstat(fd)
        if calls["n"] == 2:  # the second look, after the read: the file has grown
            with open(path, "a") as f:
                f.write("more text\n")
            return real_fstat(fd)
        return st

    monkeypatch.setattr(os, "fstat", growing)
    with pytest.raises(UserError, match="changed while it was read"):
        load_corpus(path)


# -- compact ids, streaming in chunks ---------------------------------------------------------


def test_ids_are_one_compact_array(text_file) -> None:
    """If this fails, a large corpus takes 4 bytes (or more) per character, or train and val
    are copies: memory runs out on corpora that fit the limit."""
    c = load_corpus(text_file("hello, world\n" * 50))
    assert c.train.dtype == np.uint8 and c.val.dtype == np.uint8
    assert c.train.base is not None and c.train.base is c.val.base
    assert np.shares_memory(c.train, c.train.base) and np.shares_memory(c.val, c.val.base)
    assert c.vocab.decode(c.train) + c.vocab.decode(c.val) == "hello, world\n" * 50
    generated = corpus_from_text("abcab" * 20, "generated")
    assert generated.train.dtype == np.uint8 and generated.train.base is generated.val.base


def test_ids_widen_past_256_characters(text_file) -> None:
    """If this fails, ids of a large vocabulary wrap around in uint8 and become other letters."""
    text = "".join(chr(0x100 + i) for i in range(300)) * 3
    c = load_corpus(text_file(text))
    assert c.vocab.size == 300 and c.train.dtype == np.uint16
    assert c.vocab.decode(c.train) + c.vocab.decode(c.val) == text
    assert [ids_dtype(n) for n in (2, 256, 257, 65536, 65537)] == [
        np.uint8,
        np.uint8,
        np.uint16,
        np.uint16,
        np.int32,
    ]


# Text whose multi-byte characters (2, 3 and 4 bytes) fall across every chunk boundary.
MIXED = "\ufeffné — 𝄞 x\n" * 7 + "\ufeff tail\n"


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
def test_characters_split_across_chunks(text_file, monkeypatch, chunk: int) -> None:
    """If this fails, a character whose bytes straddle two reads is refused as bad UTF-8 or
    becomes two wrong characters (or a leading byte-order mark leaks into the text)."""
    path = text_file(MIXED)
    monkeypatch.setattr(data, "CHUNK_BYTES", chunk)
    c = load_corpus(path)
    assert c.vocab.decode(c.train) + c.vocab.decode(c.val) == MIXED[1:]
    assert "\ufeff" in c.vocab.chars  # a U+FEFF inside the text is a character like others
    assert scan_vocab(path) == (c.vocab, c.n_chars) and read_text(path) == MIXED[1:]
    without_later_marks = MIXED[1:].replace("\ufeff", "")
    c2 = load_corpus(text_file("\ufeff" + without_later_marks))
    assert "\ufeff" not in c2.vocab.chars and c2.n_chars == len(without_later_marks)


@pytest.mark.parametrize("chunk", [1, 4, 1 << 18])
def test_bad_utf8_in_a_later_chunk_names_its_offset_and_line(text_file, monkeypatch, chunk):
    """If this fails, the user is sent to the wrong place in a large file to fix it."""
    good = "línea\n" * 40  # 7 bytes a line
    path = text_file(good.encode() + b"ok \xe2\x82 x\n")  # a 3-byte character cut short
    monkeypatch.setattr(data, "CHUNK_BYTES", chunk)
    for read in (load_corpus, scan_vocab):
        with pytest.raises(UserError, match=r"byte 0xe2 at offset 283 \(line 41\)"):
            read(path)
    truncated = text_file(good.encode() + b"\xf0\x9d\x84", "cut.txt")  # ends mid-character
    with pytest.raises(UserError, match=r"byte 0xf0 at offset 280 \(line 41\)"):
        load_corpus(truncated)


def test_scan_vocab_matches_load_corpus(text_file) -> None:
    """If this fails, the UI shows one vocabulary while the trainer learns another."""
    path = text_file("Grüße, 世界! naïve café\n" * 30)
    c = load_corpus(path)
    assert scan_vocab(path) == (c.vocab, c.n_chars)
    for content, message in ((b"", "is empty"), (b"a\xffb", "not UTF-8")):
        with pytest.raises(UserError, match=message):
            scan_vocab(text_file(content, "bad.txt"))


@pytest.mark.parametrize(
    "path",
    [
        "/proc/self/status",
        "/proc/cpuinfo",
        "/sys/devices/system/cpu/online",
        "/sys/kernel/mm/transparent_hugepage/enabled",
    ],
)
def test_pseudo_file_is_not_said_to_change(path: str) -> None:
    """If this fails, a /proc file (st_size 0, content on read) or a /sys file (st_size 4096
    for a few bytes) is refused as 'changed while read' instead of being read once as it is."""
    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    try:
        c = load_corpus(path)
    except UserError as exc:  # it may be refused for another reason, never for changing
        assert "changed" not in str(exc)
    else:
        assert c.n_chars > 0


def test_file_rewritten_between_passes_is_refused(text_file, monkeypatch) -> None:
    """If this fails, a file rewritten between the two reads (same size, mtime put back) gets
    ids of characters the vocabulary does not hold."""
    path = text_file("hello world\n" * 20)
    stamp = path.stat().st_mtime_ns
    real_scan = data._Source.scan

    def rewrite_after(src):
        out = real_scan(src)
        path.write_text("hello wOrld\n" * 20)  # a character the first pass did not see
        os.utime(path, ns=(stamp, stamp))
        return out

    monkeypatch.setattr(data._Source, "scan", rewrite_after)
    with pytest.raises(UserError, match="changed while it was read"):
        load_corpus(path)


def test_escape_sequence_in_file_name_is_not_printed_raw(tmp_path: Path) -> None:
    """If this fails, a crafted file name recolours or moves the cursor of the user's
    terminal when the error is printed."""
    name = "a\x1b[31mb\nc.txt"
    for content, message in ((None, "no such file"), (b"a\xffb", "not UTF-8"), (b"", "empty")):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(UserError, match=message) as info:
            load_corpus(path)
        shown = str(info.value)
        assert "\x1b" not in shown and "\n" not in shown and "a\u241b[31mb" in shown
        with pytest.raises(UserError) as info:
            corpus_from_text("", name)
        assert "\x1b" not in str(info.value)


def test_progress_rises_to_the_total(text_file, monkeypatch) -> None:
    """If this fails, a progress bar goes backwards, stops short, or floods the UI."""
    path = text_file("abcdefgh\n" * 5000)
    monkeypatch.setattr(data, "CHUNK_BYTES", 1000)
    for read, passes in ((load_corpus, 2), (scan_vocab, 1)):
        calls: list[tuple[int, int]] = []
        read(path, progress=lambda done, total, calls=calls: calls.append((done, total)))
        total = passes * path.stat().st_size
        assert calls[-1] == (total, total) and all(t == total for _, t in calls)
        assert all(a[0] < b[0] for a, b in zip(calls, calls[1:], strict=False))
        assert len(calls) < 10  # 90 chunks read in well under 0.5 s: a few calls at most


MEMORY_CHILD = """
import sys
from rnn_tui.engine.data import load_corpus

def hwm():
    with open("/proc/self/status") as f:
        return int(f.read().split("VmHWM:")[1].split()[0]) * 1024

base = hwm()
c = load_corpus(sys.argv[1])
print(hwm() - base, c.train.dtype, c.n_chars)
"""


@pytest.mark.functional
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_loading_20_mb_stays_under_four_times_its_size(tmp_path: Path) -> None:
    """If this fails, loading a large corpus needs many times its size in memory again (it
    once took 25x: 5 GB for a 200 MB file)."""
    from rnn_tui.bench.corpus import write_corpus

    path = tmp_path / "big.txt"
    size = write_corpus(str(path), 20_000_000)
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    grew, dtype, n = out.stdout.split()
    assert dtype == "uint8" and 0.9 * size < int(n) < size  # some characters are multi-byte
    assert int(grew) < 4 * size, f"peak grew {int(grew) / size:.1f}x the file"
