"""`--serve --shared`: one run for a class. One headless trainer publishes its run on loopback
(`--listen`, rnn_tui.run.listen); every browser session is `rnn-tui attach` on it, read-only,
so `--max-sessions` limits viewers, not trainers. Whoever holds the token file (the server's
own user) controls the run with `rnn-tui attach ... --control` from a terminal.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rnn_tui.errors import UserError
from rnn_tui.run.address import new_token
from rnn_tui.textsafe import sanitize

START_TIMEOUT = 120.0  # seconds the trainer may take to read its corpus and listen
FOREVER = str(10**12)  # training steps: the run lasts as long as the server


class SharedTrainer:
    """The one trainer every session attaches to: its process, port and token file."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, folder: Path) -> None:
        self.proc = proc
        self.port = port
        self.folder = folder  # private (0700): the token file and the trainer's output
        self.token_file = folder / "token"
        self.log = folder / "trainer.log"

    @classmethod
    def start(cls, argv: Sequence[str]) -> SharedTrainer:
        """`rnn-tui <argv> --headless --listen 127.0.0.1:0`, until it says where it listens;
        a UserError (its last line) if it ends first."""
        folder = Path(tempfile.mkdtemp(prefix="rnn-tui-shared-"))
        token_file, log = folder / "token", folder / "trainer.log"
        token_file.write_text(new_token() + "\n", encoding="utf-8")
        os.chmod(token_file, 0o600)
        command = [
            sys.executable, "-m", "rnn_tui", *argv, "--headless", "--steps", FOREVER,
            "--listen", "127.0.0.1:0", "--token-file", str(token_file),
        ]  # fmt: skip
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = log.read_text(encoding="utf-8", errors="replace")
            if m := re.search(r"listening on 127\.0\.0\.1:(\d+)", text):
                return cls(proc, int(m.group(1)), folder)
            if proc.poll() is not None:
                last = text.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
                raise UserError(f"--shared: the trainer did not start: {sanitize(last[0])}")
            time.sleep(0.1)
        proc.kill()
        raise UserError(f"--shared: the trainer did not listen within {START_TIMEOUT:g} s")

    def viewer_argv(self) -> list[str]:
        """What each browser session runs: the app, attached read-only."""
        where = f"127.0.0.1:{self.port}"
        return [
            sys.executable,
            "-m",
            "rnn_tui",
            "attach",
            where,
            "--token-file",
            str(self.token_file),
        ]

    def control_line(self) -> str:
        """How the server's user takes control of the run, from a terminal."""
        return (
            f"rnn-tui: --shared: one trainer for every session (its output: {self.log}); control"
            f" it with  rnn-tui attach 127.0.0.1:{self.port} --token-file {self.token_file}"
            " --control"
        )

    def stop(self) -> None:
        """End the trainer (SIGTERM: it saves what --save and --autosave ask) and its files."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.token_file, self.log):
            with contextlib.suppress(OSError):
                f.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()
