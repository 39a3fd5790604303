"""Shared fixtures: small corpora written on the fly, and the project's own tiny corpus.

Also shared by the functional tests: `wait_for` (poll a condition inside a running app, with a
deadline generous enough for a loaded machine), `wait_until` (the same outside an app: a process,
a server), `patience` (scale any other deadline the same way) and the `needs` marker (skip a
test when a program it drives is missing; fail it on CI)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "corpora" / "tiny.txt"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for tests/gradcheck.py, terminal.py

from terminal import stop_server  # noqa: E402

ON_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# Deadlines are for a machine that may be running a benchmark or another suite beside the tests:
# a condition that normally holds in a second is given a minute. On a slower machine still, set
# RNN_TUI_TEST_TIMEOUT_SCALE (e.g. 3) to stretch every deadline that goes through `patience`.
TIMEOUT_SCALE = float(os.environ.get("RNN_TUI_TEST_TIMEOUT_SCALE", "1") or 1)
WAIT = 60.0


def patience(seconds: float) -> float:
    """`seconds`, stretched by RNN_TUI_TEST_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE


async def wait_for(
    pilot, cond: Callable[[], bool], timeout: float = WAIT, what: str = "the app"
) -> None:
    """Let the app run until `cond()` holds; fail after `timeout` seconds (times the scale)."""
    loop = asyncio.get_running_loop()
    limit = patience(timeout)
    end = loop.time() + limit
    while not cond():
        assert loop.time() < end, f"timed out after {limit:g} s waiting for {what}"
        await pilot.pause(0.05)


async def booted(pilot) -> None:
    """Wait until the app has built its panes: `RnnApp.boot` runs after the first frame, and
    keys other than q do nothing before it has."""
    await wait_for(pilot, lambda: pilot.app.booted, what="the panes (RnnApp.boot)")


def wait_until(check: Callable[[], Any], seconds: float = WAIT, what: str = "the condition") -> Any:
    """Poll `check()` until it returns something true and return that; fail after `seconds`
    (times the scale). For processes and servers outside an app."""
    limit = patience(seconds)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {limit:g} s: {what}")


# Programs some functional tests drive, and how to get them. `@pytest.mark.needs("tmux")` skips
# the test where the program is missing, but on CI (CI set) a missing program is an error: the
# test would otherwise pass by not running.
PROGRAMS = {
    "tmux": (("tmux",), "apt-get install tmux; .ci/run installs it"),
    "chromium": (("chromium", "chromium-browser"), "apt-get install chromium; .ci/run installs it"),
}


def find_program(name: str) -> str | None:
    return next(filter(None, map(shutil.which, PROGRAMS[name][0])), None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """End the tests' own tmux server (see tests/terminal.py), with anything left on it."""
    if find_program("tmux") is not None:
        stop_server()


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        for name in mark.args:
            if name not in PROGRAMS:
                pytest.fail(f"needs({name!r}): unknown program; known: {', '.join(PROGRAMS)}")
            if find_program(name) is None:
                hint = PROGRAMS[name][1]
                if ON_CI:
                    pytest.fail(f"{name} is missing on CI, so this test cannot run ({hint})")
                pytest.skip(f"needs {name} ({hint})")


@pytest.fixture
def text_file(tmp_path: Path):
    """Write `text` (str or bytes) to a file and return its path."""

    def make(content: str | bytes, name: str = "corpus.txt") -> Path:
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    return make
