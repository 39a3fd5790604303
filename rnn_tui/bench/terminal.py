"""The real app in a pseudo-terminal, and the other children of the benchmarks: their
environment and command line, waiting for their first metrics line, killing what is left.

Standard library only (no Textual import): the app runs in a child process.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import deque
from pathlib import Path

from rnn_tui.bench.procfs import session_members
from rnn_tui.bench.screen import Screen, sample_rows, words_in

COLS, ROWS = 120, 40  # size of the pseudo-terminal the app draws into
WIDE = (200, 60)  # the larger terminal of the output measurement
WORDS_NEEDED = 3  # "words sooner": distinct corpus words on one sample line
QUIT_KEY = b"q"
QUIT_TIMEOUT = 5.0  # seconds the app may take to exit after "q"
FRAME_TIMEOUT = 30.0  # seconds to wait for the first frame before calling the launch failed
# Bytes that only appear once the screen is drawn: the footer's "Quit" and the status badge.
FRAME_MARKERS = (b"Quit", b"STARTING", b"TRAINING")
KEY_TRACE_ENV = "RNN_TUI_KEY_TRACE"  # the app's variable (rnn_tui.ui.app.KEY_TRACE_ENV)


def child_env(trace: str | None) -> dict[str, str]:
    """The environment of a child: a 256-colour xterm, no size override, the key trace or not."""
    env = dict(os.environ)
    env["TERM"] = "xterm-256color"
    for var in ("COLUMNS", "LINES", KEY_TRACE_ENV):
        env.pop(var, None)  # COLUMNS/LINES would override the pty's size
    if trace is not None:
        env[KEY_TRACE_ENV] = trace
    return env


def rnn_tui_argv(corpus: Path, *extra: str) -> list[str]:
    """`rnn-tui CORPUS ...` with this interpreter (the console script runs the same code)."""
    return [sys.executable, "-m", "rnn_tui", str(corpus), *extra]


def wait_for_lines(path: Path, deadline: float, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until `path` holds a complete line; False if the process ended or time ran out."""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), open(path, "rb") as f:  # not created yet: wait on
            if b"\n" in f.read(65536):
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of `proc` (its own, from start_new_session) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5.0)


class PtyApp:
    """The app running in its own pseudo-terminal, its output read (and mostly dropped) by a
    thread: a pty whose buffer fills up blocks the app's next write, and so the whole UI."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        size: tuple[int, int] = (COLS, ROWS),
        words: frozenset[str] | None = None,
        keep: bool = False,
    ) -> None:
        """Start `argv` in a `size` (columns, rows) terminal. With `words` (a corpus's words),
        the output is also followed on a `Screen` until a sample line holds WORDS_NEEDED of them
        (`words_at`). With `keep`, every byte of the output is kept in `output` (tests)."""
        master, slave = os.openpty()
        cols, rows = size
        # The size the app sees: struct winsize is rows, columns, x pixels, y pixels.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.first_frame: float | None = None  # monotonic time of the first drawn screen
        self.frame_seen = threading.Event()
        self.bytes_read = 0
        self.words = words
        self.screen = Screen(cols, rows) if words is not None else None
        self.words_at: float | None = None  # monotonic time of the first line of words
        self.words_seen = threading.Event()
        self.output: bytearray | None = bytearray() if keep else None
        self._recent: deque[bytes] = deque(maxlen=64)  # last chunks, for error messages
        self.t_spawn = time.monotonic()
        try:
            # A new session: the app and the worker it spawns share one process group to kill.
            self.proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # only the child holds the slave now: EIO on read once all exit
        self._reader = threading.Thread(target=self._drain, name="pty-reader", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """Read the terminal output until the app's side closes; note the first frame."""
        tail = b""  # the end of the previous chunk, so a marker split in two is still found
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # EIO: every process holding the slave has exited
                return
            if not chunk:
                return
            now = time.monotonic()
            self.bytes_read += len(chunk)
            self._recent.append(chunk)
            if self.output is not None:
                self.output += chunk
            if self.first_frame is None:
                window = tail + chunk
                if any(m in window for m in FRAME_MARKERS):
                    self.first_frame = now
                    self.frame_seen.set()
                tail = window[-16:]
            if self.screen is not None and self.words is not None and self.words_at is None:
                self.screen.feed(chunk)
                if words_in(sample_rows(self.screen.lines()), self.words) >= WORDS_NEEDED:
                    self.words_at = now
                    self.words_seen.set()
                    self.screen = None  # seen: stop following the screen

    def wait_frame(self, timeout: float) -> bool:
        """Wait for the first frame; False if the app exits or `timeout` s pass without one."""
        deadline = time.monotonic() + timeout
        while not self.frame_seen.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(0.5)  # the output the app wrote before it died
                return self.frame_seen.is_set()
        return True

    def wait_words(self, timeout: float) -> bool:
        """Wait for the first sample line of words; False if the app exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not self.words_seen.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return self.words_seen.is_set()
        return True

    @property
    def words_s(self) -> float:
        """Spawn to the first sample line of words in s (NaN if none was seen)."""
        return math.nan if self.words_at is None else self.words_at - self.t_spawn

    def write(self, data: bytes) -> float:
        """Type `data` into the app's terminal; returns the monotonic time just before."""
        t = time.monotonic()
        with contextlib.suppress(OSError):  # the app has gone: the key is reported missing
            os.write(self.master, data)
        return t

    @property
    def frame_ms(self) -> float:
        """Spawn to first frame in ms (NaN if none was seen)."""
        return math.nan if self.first_frame is None else (self.first_frame - self.t_spawn) * 1e3

    def recent_output(self, limit: int = 1200) -> str:
        """The end of what the app printed, escape sequences and all, for error messages."""
        text = b"".join(self._recent)[-limit:].decode(errors="replace")
        return "".join(c if c.isprintable() or c == "\n" else " " for c in text)

    def quit(self) -> tuple[int | None, float]:
        """Press q and wait; (exit code or None on a hang, seconds taken). Kills on a hang."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        with contextlib.suppress(OSError):
            os.write(self.master, QUIT_KEY)
        try:
            code: int | None = self.proc.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
            kill_group(self.proc)
        return code, time.monotonic() - t0

    def close(self, grace: float = 3.0) -> list[int]:
        """Kill whatever is left of the app's session after `grace` seconds (the worker, and
        where it is multiprocessing's, its resource tracker, exit shortly after the app);
        return their pids."""
        deadline = time.monotonic() + (grace if self.proc.poll() is not None else 0.0)
        left = session_members(self.proc.pid)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = session_members(self.proc.pid)
        for p in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        if self.proc.poll() is None:
            kill_group(self.proc)
        self._reader.join(2.0)
        with contextlib.suppress(OSError):
            os.close(self.master)
        return left
