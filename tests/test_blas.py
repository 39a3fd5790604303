"""The process tuning of `rnn_tui.engine.blas` that leans on the C runtime: flushing subnormals.

`flush_subnormals` writes into glibc's `fenv_t` by byte offset; if that layout (or the
platform) changes under it, it returns False and these tests fail rather than the trainer
quietly running on the slow path again. Each check runs in a fresh interpreter: the setting
belongs to a thread, and pytest's own must keep IEEE arithmetic for the other tests.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from conftest import TINY

SUPPORTED = platform.system() == "Linux" and platform.machine().lower() in (
    "x86_64",
    "amd64",
    "aarch64",
)
needs_flushing = pytest.mark.skipif(
    not SUPPORTED, reason="flushing is implemented for Linux x86-64/AArch64"
)


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_arithmetic_keeps_subnormals_until_asked():
    out = _run(
        "import numpy as np\n"
        "from rnn_tui.engine.blas import subnormals_flushed\n"
        "f = np.float32\n"
        "print(subnormals_flushed(), f(1e-30) * f(1e-10) > 0, f(1e-40) * f(1e10) > 0)"
    )
    assert out == "False True True"  # IEEE: 1e-40 is representable, and read as itself


@needs_flushing
def test_flush_takes_effect_here_and_in_threads_started_later():
    out = _run(
        "import threading\n"
        "import numpy as np\n"
        "from rnn_tui.engine.blas import flush_subnormals, subnormals_flushed\n"
        "ok = flush_subnormals()\n"
        "f = np.float32\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append(subnormals_flushed()))\n"
        "t.start(); t.join()\n"
        "print(ok, subnormals_flushed(), float(f(1e-30) * f(1e-10)), seen[0],\n"
        "      float(np.float64(1e-300) * np.float64(1e-10)), float(f(1e-30) * f(1e-5)))"
    )
    ok, now, tiny32, in_thread, tiny64, normal = out.split()
    assert (ok, now, in_thread) == ("True", "True", "True")
    assert float(tiny32) == 0.0 and float(tiny64) == 0.0  # float32 and float64 alike
    assert float(normal) == pytest.approx(1e-35, rel=1e-6)  # a normal result is untouched


@needs_flushing
def test_a_with_block_flushes_inside_and_puts_it_back():
    """If this fails, headless mode (or bench train) called inside a longer-lived process
    leaves that thread flushing subnormals after it returns."""
    out = _run(
        "from rnn_tui.engine.blas import subnormals_flushed, subnormals_flushed_while\n"
        "before = subnormals_flushed()\n"
        "with subnormals_flushed_while() as on:\n"
        "    inside = subnormals_flushed()\n"
        "print(before, on, inside, subnormals_flushed())"
    )
    assert out == "False True True False"


@needs_flushing
def test_the_headless_cli_trains_flushed_and_leaves_the_thread_as_it_found_it():
    out = _run(
        "import contextlib, io\n"
        "from rnn_tui.cli import main\n"
        "from rnn_tui.engine.blas import subnormals_flushed\n"
        "from rnn_tui.run import headless\n"
        "seen = []\n"
        "real = headless.run_headless_cli\n"
        "def spy(*args):\n"
        "    seen.append(subnormals_flushed())\n"
        "    return real(*args)\n"
        "headless.run_headless_cli = spy\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main([{str(TINY)!r}, '--headless', '--steps', '3', '--hidden', '8'])\n"
        "print(code, seen, subnormals_flushed())"
    )
    assert out == "0 [True] False"  # flushed while it trained, as before once it returned


@needs_flushing
def test_the_worker_process_trains_flushed():
    """The worker flushes before it builds its trainers, in the thread that then trains them
    (here the build stops it, as a corpus that changed since the app checked it would)."""
    out = _run(
        "from rnn_tui.engine.blas import subnormals_flushed\n"
        "from rnn_tui.errors import UserError\n"
        "from rnn_tui.run import worker\n"
        "seen = []\n"
        "def build(spec):\n"
        "    seen.append(subnormals_flushed())\n"
        "    raise UserError('stop here')\n"
        "class Pipe:\n"
        "    put = close = join_thread = lambda self, *a: None\n"
        "worker.build_trainers = build\n"
        "worker.worker_main(None, None, Pipe(), '', None, 10, 1)\n"
        "print(seen)"
    )
    assert out == "[True]"


def test_unsupported_platforms_are_told_no(monkeypatch):
    from rnn_tui.engine import blas

    before = blas.subnormals_flushed()
    monkeypatch.setattr(blas.platform, "machine", lambda: "sparc64")
    assert blas.flush_subnormals() is False
    with blas.subnormals_flushed_while() as on:
        assert on is False
    assert blas.subnormals_flushed() is before  # nothing was touched
