"""Corpus loading: a UTF-8 text file becomes a sorted character vocabulary and one id array.

The file is read twice in chunks (`text._Source`): pass 1 validates it and collects its
characters (`text.scan_vocab` stops there), pass 2 writes each
character's id into an array allocated once, of the smallest integer type that holds the
vocabulary (uint8 up to 256 characters, uint16 up to 65536, int32 beyond). Peak memory is that
array plus a few chunks: about the file's size for ASCII text, not a multiple of it.

Every way a file can be unusable is turned into a `UserError` with one line that names the
file (made safe to print by `sanitize`) and says what is wrong, so the CLI can print it
without a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.text import (
    CHUNK_BYTES,
    MAX_CORPUS_BYTES,
    Progress,
    Vocab,
    _show,
    _Source,
    check_learnable,
)
from rnn_tui.engine.text import read_text as read_text  # the reading half, re-exported
from rnn_tui.engine.text import scan_vocab as scan_vocab
from rnn_tui.errors import UserError


def ids_dtype(vocab_size: int) -> np.dtype:
    """The smallest integer type that holds ids 0..vocab_size-1: uint8, uint16 or int32."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.int32)


def encode(vocab: Vocab, text: str) -> np.ndarray:
    """Characters to ids, `(len(text),)` of `ids_dtype(vocab.size)`; a character outside the vocabulary
    is an error."""
    enc = _Encoder(vocab)
    ids = np.empty(len(text), ids_dtype(vocab.size))
    for at in range(0, len(text), CHUNK_BYTES):
        part = text[at : at + CHUNK_BYTES]
        bad = enc.into(part, ids[at : at + len(part)])
        if bad >= 0:
            raise UserError(
                f"character {part[bad]!r} at position {at + bad} is not in the vocabulary"
            )
    return ids


class _Encoder:
    """Writes the ids of a piece of text into an array, by table lookup on code points."""

    def __init__(self, vocab: Vocab) -> None:
        points = [ord(c) for c in vocab.chars]
        top = max(128, *points) + 1  # covers ASCII, for the byte table below
        self.lut = np.full(top + 1, -1, np.int32)  # (top+1,) id of each code point, -1: none
        self.lut[points] = np.arange(len(points))  # the last entry stands for every point >= top
        self.top = top
        self.table: bytes | None = None  # byte -> id, for ASCII text and a uint8 vocabulary
        self.unknown = b""  # the bytes `table` has no id for
        if vocab.size <= 256:
            table = bytearray(256)
            for p in points:
                if p < 128:
                    table[p] = self.lut[p]
            self.table = bytes(table)
            self.unknown = bytes(b for b in range(256) if b >= 128 or self.lut[b] < 0)

    def into(self, text: str, out: np.ndarray, raw: bytes = b"") -> int:
        """Write the ids of `text: (n,)` into `out: (n,)`; return -1, or the position of the
        first character not in the vocabulary. `raw`: the bytes read for `text`, if known."""
        if self.table is not None and text.isascii():
            raw = raw if len(raw) == len(text) else text.encode("ascii")  # then they are its bytes
            ids = raw.translate(self.table, self.unknown)  # deletes unknown bytes: then shorter
            if len(ids) == len(text):
                out[:] = np.frombuffer(ids, np.uint8)
                return -1
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")
        ids = self.lut[np.minimum(points, self.top)]  # (n,) int32
        if len(ids) and ids.min() < 0:
            return int(np.argmax(ids < 0))
        out[:] = ids
        return -1


@dataclass(frozen=True)
class Corpus:
    """A loaded text: its vocabulary and the ids of its training and held-out parts.

    `train` and `val` are slices of one array of `ids_dtype(vocab.size)`, not copies."""

    path: str  # as the user gave it, for messages and the status line
    vocab: Vocab
    train: np.ndarray  # (N_train,) uint8|uint16|int32 ids: the first part of the text
    val: np.ndarray  # (N_val,) uint8|uint16|int32 ids: the last `val_fraction` of the text

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path

    @property
    def n_chars(self) -> int:
        return len(self.train) + len(self.val)


def _split(path: str, vocab: Vocab, ids: np.ndarray, n_val: int) -> Corpus:
    """train and val as two views of `ids`, not copies."""
    cut = len(ids) - n_val
    return Corpus(path=path, vocab=vocab, train=ids[:cut], val=ids[cut:])


def load_corpus(
    path: str | os.PathLike[str],
    val_fraction: float = 0.1,
    min_train_chars: int = 2,
    max_bytes: int = MAX_CORPUS_BYTES,
    progress: Progress | None = None,
) -> Corpus:
    """Load `path` and split it: the first `1 - val_fraction` trains, the rest is held out.

    `min_train_chars` is what one training window needs (seq_len + 1): a shorter text is refused.
    `progress(bytes_done, bytes_total)` is called now and then (at most ~20 times a second)
    and last with done == total; the total counts both passes over the file (twice its size).
    Returns train: (N_train,) and val: (N_val,) ids of `ids_dtype(vocab.size)`, views of one array.
    """
    p = str(path)
    with _Source(p, max_bytes, 2, progress) as src:
        vocab, n = src.scan()
        n_val = int(n * val_fraction)
        check_learnable(src.name, vocab, n, n_val, min_train_chars)
        ids = np.empty(
            n, ids_dtype(vocab.size)
        )  # (N,) all the ids; pages are touched as they are filled
        enc, at = _Encoder(vocab), 0
        for text, raw in src.texts():  # pass 2
            if at + len(text) > n or enc.into(text, ids[at : at + len(text)], raw) >= 0:
                at = -1  # more characters, or another one, than pass 1 saw
                break
            at += len(text)
        if at != n:
            src.sizes.append(-1)  # so finish() reports the change
        src.finish()
    return _split(p, vocab, ids, n_val)


def corpus_from_text(
    text: str, name: str, val_fraction: float = 0.1, min_train_chars: int = 2
) -> Corpus:
    """A corpus from text already in memory (a generated one); `name` stands in for a path.
    train: (N_train,) and val: (N_val,) ids of `ids_dtype(vocab.size)`, views of one array."""
    vocab = Vocab.from_text(text)
    n_val = int(len(text) * val_fraction)
    check_learnable(_show(name), vocab, len(text), n_val, min_train_chars)
    return _split(name, vocab, encode(vocab, text), n_val)
