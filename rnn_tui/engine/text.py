"""Reading a corpus as text: a UTF-8 file becomes a sorted character vocabulary.

The file is read in chunks of `CHUNK_BYTES` with an incremental UTF-8 decoder (`_Source`);
`scan_vocab` validates it and collects its characters, `read_text` keeps the text of a small
file. Turning the text into ids is `data.py`'s work, with NumPy; this module is pure Python,
so the command line can check a corpus, and the app draw its first frame, without NumPy.

Every way a file can be unusable is turned into a `UserError` with one line that names the
file (made safe to print by `sanitize`) and says what is wrong, so the CLI can print it
without a traceback.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnn_tui.errors import UserError
from rnn_tui.textsafe import sanitize

if TYPE_CHECKING:
    import numpy as np

    from rnn_tui.engine.config import Config

MAX_CORPUS_BYTES = 256 * 1024 * 1024  # a limit on the file, so a wrong path cannot fill memory
CHUNK_BYTES = 1 << 18  # read and decode this much at a time; bounds the temporary arrays
PROGRESS_EVERY = 0.05  # seconds between progress calls (at most ~20 a second)

Progress = Callable[[int, int], None]  # (bytes_done, bytes_total)

_ASCII = bytes(range(128))
_HIGH = bytes(range(128, 256))


def _show(path: str) -> str:
    """A file name made safe for a one-line message: controls become visible stand-ins."""
    return sanitize(path).replace("\n", "\u2424")


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

    def decode(self, ids: np.ndarray | list[int]) -> str:
        """Ids back to text."""
        chars = self.chars
        return "".join(chars[int(i)] for i in ids)


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
    return f"cannot read corpus {_show(path)}: {reason}"


class _Source:
    """The bytes of a corpus file, read in chunks, once per pass.

    A pseudo-file (st_size 0 with content, as under /proc, or a size with no blocks behind it,
    as under /sys) changes between reads: it is read once, up to `max_bytes`, and its passes
    are over that copy.
    """

    def __init__(self, path: str, max_bytes: int, passes: int, progress: Progress | None):
        self.path, self.name, self.max_bytes = path, _show(path), max_bytes
        try:
            st = os.stat(path)  # follows symlinks; a loop raises ELOOP here
        except OSError as exc:
            raise UserError(_describe_os_error(path, exc)) from None
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"corpus {self.name} is a directory; give a text file")
        if not stat.S_ISREG(st.st_mode):
            # A FIFO or device would block or never end: refuse before opening it.
            raise UserError(
                f"corpus {self.name} is not a regular file (a pipe or device?); give a text file"
            )
        if st.st_size > max_bytes:
            raise UserError(
                f"corpus {self.name} is {st.st_size / 2**20:.0f} MiB; the limit is"
                f" {max_bytes / 2**20:.0f} MiB"
            )
        try:
            self.file = open(path, "rb")  # noqa: SIM115 (closed on leaving the `with`)
        except OSError as exc:
            raise UserError(_describe_os_error(path, exc)) from None
        try:
            self.before = os.fstat(self.file.fileno())
            # No size, or a size with no blocks on disk (sysfs says 4096 for a few bytes).
            pseudo = self.before.st_size == 0 or self.before.st_blocks == 0
            self.copy = self.file.read(max_bytes) if pseudo else None
        except OSError as exc:
            self.file.close()
            raise UserError(_describe_os_error(path, exc)) from None
        size = len(self.copy) if self.copy is not None else self.before.st_size
        self.size, self.sizes = size, []  # bytes read by each pass
        self.total, self.done, self.last = size * passes, 0, 0.0
        self.progress = progress
        self.bom = False  # the text began with a byte-order mark

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def chunks(self) -> Iterator[bytes]:
        if self.copy is not None:
            for at in range(0, len(self.copy), CHUNK_BYTES):
                yield self.copy[at : at + CHUNK_BYTES]
            self.sizes.append(len(self.copy))
            return
        n = 0
        try:
            self.file.seek(0)
            while chunk := self.file.read(min(CHUNK_BYTES, self.max_bytes + 1 - n)):
                n += len(chunk)
                if n > self.max_bytes:
                    limit = self.max_bytes / 2**20
                    raise UserError(
                        f"corpus {self.name} grew past the {limit:.0f} MiB limit while read"
                    )
                yield chunk
        except OSError as exc:
            raise UserError(_describe_os_error(self.path, exc)) from None
        self.sizes.append(n)

    def texts(self) -> Iterator[tuple[str, bytes]]:
        """The file's text chunk by chunk, without a leading byte-order mark, each with the bytes
        read for it (which may hold part of a character, or the mark). Bad UTF-8 raises a
        UserError naming its byte offset and line."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = lines = 0  # bytes and newlines fed to the decoder so far
        start = True  # no character yet: a byte-order mark would be the first
        for chunk in self._with_end():
            pending = len(decoder.getstate()[0])  # bytes of a character split across chunks
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                bad = offset - pending + exc.start
                line = lines + exc.object.count(b"\n", 0, exc.start) + 1
                raise UserError(
                    f"corpus {self.name} is not UTF-8 text: byte 0x{exc.object[exc.start]:02x}"
                    f" at offset {bad} (line {line})"
                ) from None
            offset += len(chunk)
            lines += chunk.count(b"\n")
            self._advance(len(chunk))
            if start and text:
                start = False
                self.bom = text[0] == "\ufeff"
                text = text[1:] if self.bom else text  # a byte-order mark is not text
            yield text, chunk

    def _with_end(self) -> Iterator[bytes]:
        yield from self.chunks()
        yield b""  # the end: flush the decoder (an unfinished character is an error)

    def _advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.progress and n and now - self.last >= PROGRESS_EVERY and self.done < self.total:
            self.last = now
            self.progress(self.done, self.total)

    def finish(self) -> None:
        """Refuse the file if it changed between the first look and the last read."""
        after = os.fstat(self.file.fileno())
        if self.copy is None:
            changed = (self.before.st_size, self.before.st_mtime_ns) != (
                after.st_size,
                after.st_mtime_ns,
            )
            if changed or any(n != after.st_size for n in self.sizes):
                raise UserError(
                    f"corpus {self.name} changed while it was read; try again once it is written"
                )
        if self.progress and self.total:
            self.progress(self.total, self.total)

    def scan(self) -> tuple[Vocab, int]:
        """Pass 1: the vocabulary and the number of characters."""
        if self.size == 0:
            raise UserError(f"corpus {self.name} is empty")
        seen = bytearray()  # ASCII bytes seen so far, each once
        high: set[str] = set()  # the other characters
        rest = codecs.getincrementaldecoder("utf-8")()  # for the non-ASCII bytes alone
        first = True  # no non-ASCII character yet: a byte-order mark would be the first
        n = 0
        for text, chunk in self.texts():
            n += len(text)
            seen += bytes(set(chunk.translate(None, seen + _HIGH)))  # ASCII not seen before
            if not chunk.isascii():  # UTF-8 without its ASCII bytes is still UTF-8
                more = rest.decode(chunk.translate(None, _ASCII))
                if first and more:
                    first, more = False, more[1:] if self.bom else more
                high.update(more)
        return Vocab(tuple(sorted(high.union(map(chr, seen))))), n


def check_learnable(name: str, vocab: Vocab, n: int, n_val: int, min_train: int) -> None:
    if n == 0:
        raise UserError(f"corpus {name} is empty")
    if vocab.size < 2:
        raise UserError(
            f"corpus {name} holds one distinct character ({vocab.chars[0]!r}); there is nothing"
            " to learn"
        )
    if n - n_val < min_train:
        raise UserError(
            f"corpus {name} is too short: {n - n_val} training characters, one window needs"
            f" {min_train} (shorten the window or give a longer text)"
        )


def scan_vocab(
    path: str | os.PathLike[str],
    max_bytes: int = MAX_CORPUS_BYTES,
    progress: Progress | None = None,
) -> tuple[Vocab, int]:
    """The vocabulary of `path` and its number of characters, without its ids (pass 1 only):
    the same checks and messages as `load_corpus` for the file itself."""
    with _Source(str(path), max_bytes, 1, progress) as src:
        vocab, n = src.scan()
        src.finish()
    if n == 0:
        raise UserError(f"corpus {src.name} is empty")
    return vocab, n


def read_text(path: str | os.PathLike[str], max_bytes: int = MAX_CORPUS_BYTES) -> str:
    """Read a whole UTF-8 text file (for small files; `load_corpus` streams), refusing anything
    that is not a readable regular file of text. A leading byte-order mark is dropped."""
    with _Source(str(path), max_bytes, 1, None) as src:
        text = "".join(t for t, _ in src.texts())
        src.finish()
    if src.size == 0:
        raise UserError(f"corpus {src.name} is empty")
    return text


def check_fits(n_train: int, config: Config, name: str) -> None:
    """Refuse a text too short for B streams of at least one window (T + 1 characters) each:
    the streams are equal cuts of the `n_train` training characters."""
    if n_train // config.batch < config.seq_len + 1:
        need = config.batch * (config.seq_len + 1)
        raise UserError(
            f"corpus {sanitize(name)} has {n_train} training characters; batch {config.batch}"
            f" x (window {config.seq_len} + 1) needs {need}: lower the batch or the window"
        )
