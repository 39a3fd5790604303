"""Smoke test of the live-app benchmark (`python -m rnn_tui.bench app --quick`).

No timing is asserted: machines are noisy. Only that the benchmark drives the real app in a
pseudo-terminal from launch to a clean quit and ends with its machine-readable summary line.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"^summary: live_share=(\S+) key_p95_ms=(\S+) idle_cpu_pct=(\S+) first_frame_ms=(\S+)"
    r" bare_frame_ms=(\S+) frame_ratio=(\S+) out_kb_s=(\S+) out_kb_s_wide=(\S+)"
    r" ui_cpu_pct=(\S+) words_s=(\S+)$"
)


def test_quick_app_bench_ends_with_summary() -> None:
    """If this fails, `python -m rnn_tui.bench app` no longer gets through a session of the real
    app in a terminal: the app does not draw its screen, does not train (no metrics), ignores the
    keys (no handler in the key trace), does not quit with q (exit code 0 within 5 s), leaves
    its worker process behind, or the benchmark itself crashes; whoever runs it to check the
    app's responsiveness gets an error or a summary line of garbage instead of numbers. The
    time to the first words may be nan (a very busy machine); every other figure is a number.
    """
    out = subprocess.run(
        [sys.executable, "-m", "rnn_tui.bench", "app", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert out.returncode == 0, f"exit code {out.returncode}\n{out.stdout}\n{out.stderr}"
    last = out.stdout.rstrip("\n").splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, f"last line is not the summary: {last!r}\n{out.stdout}"
    *figures, words = m.groups()
    for value in figures:
        x = float(value)
        assert math.isfinite(x) and x >= 0, last
    assert words == "nan" or float(words) > 0, last


def test_a_rate_can_start_later_than_the_warm_up() -> None:
    """If this fails, the throughput with the probe open counts the seconds in which the probe
    was being opened (or leaves out the warm-up it should)."""
    from rnn_tui.bench.app_measure import rate

    points = [(0.0, 0), (1.0, 100), (2.0, 300), (3.0, 600)]
    assert rate(points, 0.5, 10.0) == 250.0  # from the first line after the warm-up
    assert rate(points, 0.5, 10.0, start=1.5) == 300.0  # from the first line after `start`
    assert rate(points, 1.5, 10.0, start=0.2) == 300.0  # the later of the two wins
