"""The engine must not import the UI: it runs in worker processes and tests without it.

The import contracts in pyproject.toml ([tool.importlinter]) state the layering statically; the
subprocess test below checks what actually ends up in sys.modules at run time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

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
    "rnn_tui.engine.probe",
    "rnn_tui.run.probe_cli",
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


def test_import_contracts_hold() -> None:
    """If this fails, a module imports across a layer (e.g. the engine reaches the UI, or the
    UI reaches the CLI) or two packages import each other: the output names the import."""
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), f"{lint} is missing: pip install -e '.[test]' installs import-linter"
    # Analyse this checkout's package, whatever copy of rnn_tui is installed.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
