"""Loading a corpus: vocabulary, encoding, the held-out split, and refusing bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnn_tui.data import Vocab, load_corpus, read_text
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
    ids = vocab.encode(text)
    assert ids.dtype == np.int32 and len(ids) == len(text)
    assert vocab.decode(ids) == text


def test_encoding_an_unknown_character_is_refused() -> None:
    """If this fails, a prime text with a new character silently becomes another character."""
    with pytest.raises(UserError, match="not in the vocabulary"):
        Vocab.from_text("abc").encode("abz")


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
