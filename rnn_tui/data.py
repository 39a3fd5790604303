"""Corpus loading: a UTF-8 text file becomes a sorted character vocabulary and two id arrays.

Every way a file can be unusable is turned into a `UserError` with one line that names the
file and says what is wrong, so the CLI can print it without a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

import numpy as np

from rnn_tui.errors import UserError

MAX_CORPUS_BYTES = 256 * 1024 * 1024  # ids are int32, so 256 MiB of text is at most 1 GiB of ids


@dataclass(frozen=True)
class Vocab:
    """A sorted tuple of distinct characters; a character's id is its index.

    Sorting makes the ids the same on every run and every machine (a `set` is not ordered).
    """

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Characters to ids, `(len(text),)` int32; a character outside the vocabulary is an error."""
        # Code points of the text and of the vocabulary: both sorted the same way as `str`.
        points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        table = np.frombuffer("".join(self.chars).encode("utf-32-le"), dtype="<u4")
        ids = np.searchsorted(table, points)
        ids_c = np.minimum(ids, len(table) - 1)
        missing = table[ids_c] != points
        if missing.any():
            where = int(np.argmax(missing))
            raise UserError(
                f"character {text[where]!r} at position {where} is not in the vocabulary"
            )
        return ids.astype(np.int32)

    def decode(self, ids: np.ndarray | list[int]) -> str:
        """Ids back to text."""
        chars = self.chars
        return "".join(chars[int(i)] for i in ids)


@dataclass(frozen=True)
class Corpus:
    """A loaded text: its vocabulary and the ids of its training and held-out parts."""

    path: str  # as the user gave it, for messages and the status line
    vocab: Vocab
    train: np.ndarray  # (N_train,) int32 ids: the first part of the text
    val: np.ndarray  # (N_val,) int32 ids: the last `val_fraction` of the text

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path

    @property
    def n_chars(self) -> int:
        return len(self.train) + len(self.val)


def _describe_os_error(path: str, exc: OSError) -> str:
    reasons = {
        errno.ENOENT: "no such file",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.ENAMETOOLONG: "the file name is too long",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot read corpus {path}: {reason}"


def read_text(path: str | os.PathLike[str], max_bytes: int = MAX_CORPUS_BYTES) -> str:
    """Read a UTF-8 text file, refusing anything that is not a readable regular file of text."""
    p = str(path)
    try:
        st = os.stat(p)  # follows symlinks; a loop raises ELOOP here
    except OSError as exc:
        raise UserError(_describe_os_error(p, exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"corpus {p} is a directory; give a text file")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device would block or never end: refuse before opening it.
        raise UserError(f"corpus {p} is not a regular file (a pipe or device?); give a text file")
    if st.st_size > max_bytes:
        raise UserError(
            f"corpus {p} is {st.st_size / 2**20:.0f} MiB; the limit is {max_bytes / 2**20:.0f} MiB"
        )
    try:
        with open(p, "rb") as f:
            before = os.fstat(f.fileno())
            raw = f.read(max_bytes + 1)
            after = os.fstat(f.fileno())
    except OSError as exc:
        raise UserError(_describe_os_error(p, exc)) from None
    if len(raw) > max_bytes:
        raise UserError(f"corpus {p} grew past the {max_bytes / 2**20:.0f} MiB limit while read")
    changed = (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns)
    if changed or len(raw) != after.st_size:
        raise UserError(f"corpus {p} changed while it was read; try again once it is written")
    if not raw:
        raise UserError(f"corpus {p} is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(
            f"corpus {p} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
            f" (line {line})"
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not part of the text


def load_corpus(
    path: str | os.PathLike[str],
    val_fraction: float = 0.1,
    min_train_chars: int = 2,
    max_bytes: int = MAX_CORPUS_BYTES,
) -> Corpus:
    """Load `path` and split it: the first `1 - val_fraction` trains, the rest is held out.

    `min_train_chars` is what one training window needs (seq_len + 1): a shorter text is refused.
    """
    p = str(path)
    return corpus_from_text(read_text(p, max_bytes), p, val_fraction, min_train_chars)


def corpus_from_text(
    text: str, name: str, val_fraction: float = 0.1, min_train_chars: int = 2
) -> Corpus:
    """A corpus from text already in memory (a generated one); `name` stands in for a path."""
    if not text:
        raise UserError(f"corpus {name} is empty")
    vocab = Vocab.from_text(text)
    if vocab.size < 2:
        raise UserError(
            f"corpus {name} holds one distinct character ({text[0]!r}); there is nothing to learn"
        )
    ids = vocab.encode(text)
    n_val = int(len(ids) * val_fraction)
    train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
    if len(train) < min_train_chars:
        raise UserError(
            f"corpus {name} is too short: {len(train)} training characters, one window needs"
            f" {min_train_chars} (shorten --seq-len or give a longer text)"
        )
    return Corpus(path=name, vocab=vocab, train=train, val=val)
