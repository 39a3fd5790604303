"""Style is part of the build: the same ruff rules for everyone, checked by `pytest`."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    exe = (
        shutil.which("ruff", path=str(__import__("pathlib").Path(sys.executable).parent)) or "ruff"
    )
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_is_clean() -> None:
    """If this fails, code went in that the project's lint rules reject (see pyproject.toml)."""
    out = ruff("check", "rnn_tui", "tests")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean() -> None:
    """If this fails, a file is not formatted: run `ruff format rnn_tui tests`."""
    out = ruff("format", "--check", "rnn_tui", "tests")
    assert out.returncode == 0, out.stdout + out.stderr
