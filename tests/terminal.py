"""tmux for the functional tests: one private server for the whole test run, kept alive between
sessions.

Two things made tests that drove the user's default tmux server flaky:
- when a test killed the last session, the server began to exit, and a `new-session` issued in
  that moment failed ("server exited unexpectedly"): the next test then read an empty screen for
  a minute and failed without saying why;
- anything else on the machine using tmux shared that server and its options.

So every call goes to a server on its own socket (`-L`), started without any configuration file
(`-f /dev/null`) and held open by a session that only sleeps; `new_session` checks that its
session exists and says why if not. `stop_server` ends it all at the end of the run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SOCKET = f"rnn-tui-tests-{os.getpid()}"
KEEPER = "keeper"  # a session that holds the server open between the tests' own sessions


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", SOCKET, "-f", os.devnull, *args],
        capture_output=True,
        text=True,
        check=False,
    )


def tmux(*args: str) -> str:
    """Run a tmux command on the tests' server; its standard output (empty on failure)."""
    return _run(*args).stdout


def _ensure_server() -> None:
    if _run("has-session", "-t", KEEPER).returncode != 0:
        _run("new-session", "-d", "-s", KEEPER, "sleep 86400")


def new_session(name: str, width: int, height: int, cwd: str, command: str) -> None:
    """Start `command` in a detached session of `width` x `height`; fail loudly if tmux did not
    make it, with tmux's own words."""
    _ensure_server()
    made = _run(
        "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), "-c", cwd, command
    )
    if made.returncode != 0:
        raise AssertionError(f"tmux could not start session {name}: {made.stderr.strip()}")
    size = tmux("display-message", "-p", "-t", name, "#{window_width}x#{window_height}").strip()
    assert size == f"{width}x{height}", f"tmux gave session {name} {size!r}, not {width}x{height}"


def stop_server() -> None:
    """End the tests' server and every session on it, and remove its socket file (nothing if it
    never started)."""
    path = tmux("display-message", "-p", "#{socket_path}").strip()
    _run("kill-server")
    if path:
        Path(path).unlink(missing_ok=True)
