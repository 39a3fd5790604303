"""The engine must not import the UI: it runs in worker processes and tests without it."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE = [
    "rnn_tui.data",
    "rnn_tui.model",
    "rnn_tui.model.rnn",
    "rnn_tui.model.reference",
    "rnn_tui.optim",
    "rnn_tui.trainer",
    "rnn_tui.sampling",
    "rnn_tui.checkpoint",
    "rnn_tui.headless",
    "rnn_tui.config",
    "rnn_tui.textsafe",
    "rnn_tui.worker",
    "rnn_tui.presets",
    "rnn_tui.longlag",
]


@pytest.mark.parametrize("module", ENGINE)
def test_engine_module_imports_no_ui(module: str) -> None:
    """If this fails, the math layer drags in Textual or plotext (slow start, wrong layering)."""
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in ('textual', 'plotext', 'rich') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
