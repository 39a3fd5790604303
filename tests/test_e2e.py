"""End to end: the real `rnn-tui corpora/tiny.txt` in a real terminal (tmux), as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import ROOT
from terminal import new_session, tmux
from test_faults import gone_within

pytestmark = [pytest.mark.functional, pytest.mark.needs("tmux")]


def children(pid: str) -> list[str]:
    out = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout
    return out.split()


def test_real_app_trains_types_and_quits(tmp_path: Path) -> None:
    """If this fails, the command a user types first does not work: no live training, no
    samples, or a traceback / stuck process on quit."""
    session = f"rnn-tui-e2e-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit-code"
    script = Path(sys.executable).with_name("rnn-tui")
    cmd = f"{script if script.exists() else sys.executable + ' -m rnn_tui'} corpora/tiny.txt"
    # Textual draws on stderr, so nothing is redirected: a traceback would stay on the screen.
    new_session(session, 100, 30, str(ROOT), f"{cmd}; echo $? > {done}; sleep 60")
    try:
        deadline = time.monotonic() + 60
        steps: list[int] = []
        screen = ""
        while time.monotonic() < deadline:
            screen = tmux("capture-pane", "-p", "-t", session)
            m = re.search(r"step\s+([\d,]+)", screen)
            if m:
                steps.append(int(m.group(1).replace(",", "")))
            typed = re.search(r"step [\d,]+ · temperature", screen)
            if len(set(steps)) >= 3 and steps[-1] > steps[0] and typed:
                break
            time.sleep(0.5)
        assert len(set(steps)) >= 3 and steps[-1] > steps[0], screen
        assert typed, screen
        shell = tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip()
        app_pids = children(shell)
        family = app_pids + [p for a in app_pids for p in children(a)]
        assert len(family) >= 2, "expected the app and its trainer process"
        tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.2)
        time.sleep(0.3)
        after = tmux("capture-pane", "-p", "-t", session)
        assert done.exists() and done.read_text().strip() == "0", after
        assert "Traceback" not in after and "Error" not in after, after
        assert gone_within(family, 2.0) == [], "processes left behind after quitting"
    finally:
        tmux("kill-session", "-t", session)
