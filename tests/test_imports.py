"""The engine must not import the UI: it runs in worker processes and tests without it."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE = [
    "rnn_tui.engine.data",
    "rnn_tui.engine.model",
    "rnn_tui.engine.model.rnn",
    "rnn_tui.engine.model.reference",
    "rnn_tui.engine.optim",
    "rnn_tui.engine.trainer",
    "rnn_tui.engine.sampling",
    "rnn_tui.engine.checkpoint",
    "rnn_tui.run.headless",
    "rnn_tui.engine.config",
    "rnn_tui.textsafe",
    "rnn_tui.run.worker",
    "rnn_tui.engine.presets",
    "rnn_tui.engine.longlag",
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
