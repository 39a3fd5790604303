"""Files a run writes as it goes: checked at start, and never fatal to training once it runs.

`check_output` refuses, before any training, a --save, --autosave or --metrics path that could
not be written at the end (a missing folder, a folder that is a file, a read-only place), so a
long run is never lost at its last step. `MetricsLog` appends JSON lines; when the disk fills or
the file goes away it says so once and stops writing metrics, while training goes on.

Pure Python: no UI import (the app's worker process uses it too).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from typing import IO, Any

from rnn_tui.errors import UserError
from rnn_tui.textsafe import sanitize


def cell_paths(path: str, cells: Sequence[str]) -> list[str]:
    """Where one checkpoint path puts each run: itself for one run; in compare mode one file per
    cell, `run.npz` -> `run-rnn.npz`, `run-lstm.npz`."""
    if len(cells) <= 1:
        return [path]
    stem, ext = os.path.splitext(path)
    return [f"{stem}-{cell}{ext or '.npz'}" for cell in cells]


def check_output(flag: str, path: str) -> None:
    """Refuse now, with one line naming `flag` and `path`, a file that could not be written later.

    The folder must already exist (a missing one is refused, not created: a typo in a folder
    name should be caught at once, not leave a stray folder), be a folder, and take a new file
    (tried for real: as root, `os.access` says yes even where writing fails). The path must not
    be a folder. For --metrics the file is opened for appending (which creates it); a file that
    opens but cannot take data, such as /dev/full, passes here and is handled by `MetricsLog`.
    """
    shown = sanitize(path)
    if not path:
        raise UserError(f"{flag} needs a file name")
    if os.path.isdir(path):
        raise UserError(f"{flag} {shown} is a folder; give a file name in it")
    folder = os.path.dirname(path) or "."
    if not os.path.exists(folder):
        raise UserError(
            f"{flag} {shown}: folder {sanitize(folder)} does not exist (create it first)"
        )
    if not os.path.isdir(folder):
        raise UserError(f"{flag} {shown}: {sanitize(folder)} is not a folder")
    if flag == "--metrics":
        try:
            with open(path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise UserError(f"{flag} {shown}: cannot write: {exc.strerror or exc}") from None
        return
    # A checkpoint is written as a temporary file in the same folder, then renamed: try that.
    try:
        fd, tmp = tempfile.mkstemp(prefix=".rnn-tui-check-", dir=folder)
    except OSError as exc:
        raise UserError(
            f"{flag} {shown}: cannot write in folder {sanitize(folder)}: {exc.strerror or exc}"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


class MetricsLog:
    """Appends one JSON line per `write` to `path`, flushed at once.

    Any OSError (a full disk, a removed mount) closes the file and stops writing for good; the
    reason is kept in `error` and handed out once by `take_error()`, for the caller to show.
    Opening happens here too, and a failure is reported the same way, never raised.
    """

    def __init__(self, path: str, log_every: int = 10) -> None:
        self.path = path
        self.log_every = log_every  # steps between two lines; see `due`
        self.error = ""  # why writing stopped, "" while all is well
        self._told = False  # `take_error` has handed `error` out
        self._owned = True  # close the file in `close` (False for a wrapped caller's file)
        self._file: IO[str] | None = None
        try:
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            self._fail(exc)

    @classmethod
    def wrap(cls, file: IO[str], log_every: int = 10) -> MetricsLog:
        """A log writing to a file the caller opened (and closes): no `ensure`, same errors."""
        log = cls.__new__(cls)
        log.path = str(getattr(file, "name", "metrics"))
        log.log_every, log.error, log._told, log._owned = log_every, "", False, False
        log._file = file
        return log

    @property
    def stopped(self) -> bool:
        """True once writing has stopped (an error, or `close`)."""
        return self._file is None

    def due(self, step: int, diverged: bool = False) -> bool:
        """Whether a step gets a line: every `log_every` steps, and the step that diverged."""
        return diverged or step % self.log_every == 0

    def write(self, record_json: dict[str, Any]) -> bool:
        """Append one line; False if it was not written (stopped now or before)."""
        import json  # here: the app's command line loads this module before its first frame

        if self._file is None:
            return False
        try:
            self._file.write(json.dumps(record_json) + "\n")
            self._file.flush()  # a full disk shows up here, not at close
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def take_error(self) -> str | None:
        """The error message the first time it is asked for after writing stopped; else None."""
        if not self.error or self._told:
            return None
        self._told = True
        return self.error

    def ensure(self) -> bool:
        """If the file at `path` was deleted, or its folder removed, since it was opened:
        recreate the folder, reopen the file for appending and return True. False when the file
        is still there (or writing has stopped). A failure to reopen stops writing, as `write`."""
        if self._file is None or not self._owned:
            return False
        try:
            now = os.stat(self.path)
            mine = os.fstat(self._file.fileno())
            if (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                return False
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._fail(exc)
            return False
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = None
        try:
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def close(self) -> None:
        """Stop writing; close the file if this log opened it. Safe to call twice."""
        file, self._file = self._file, None
        if file is not None and self._owned:
            with contextlib.suppress(OSError):
                file.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, exc: OSError) -> None:
        self.close()
        self.error = (
            f"metrics: cannot write to {sanitize(self.path)}: {exc.strerror or exc};"
            " stopped writing metrics, training goes on"
        )
