"""Smoke test of the memory soak benchmark (`python -m rnn_tui.bench soak --quick`).

No memory figure is asserted: a 20-second run says nothing about leaks, and RSS is noisy. Only
that the benchmark keeps the real app training in a pseudo-terminal, samples the memory of the
app and its worker, quits cleanly and ends with its machine-readable summary line.
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
    r"^summary: minutes=(\S+) rss_start_mb=(\S+) rss_end_mb=(\S+) growth_mb=(\S+)"
    r" slope_mb_per_h=(\S+)$"
)


def test_quick_soak_bench_ends_with_summary() -> None:
    """If this fails, `python -m rnn_tui.bench soak` can no longer check the app for memory
    leaks: the app does not draw its screen or train (no metrics), dies while training, has no
    worker process to measure, does not quit with q (exit code 0 within 5 s), leaves its worker
    behind, or the benchmark itself crashes; whoever leaves it running for half an hour to see
    whether the app's memory grows gets an error or a summary line of garbage instead of
    megabytes.
    """
    out = subprocess.run(
        [sys.executable, "-m", "rnn_tui.bench", "soak", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, f"exit code {out.returncode}\n{out.stdout}\n{out.stderr}"
    last = out.stdout.rstrip("\n").splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, f"last line is not the summary: {last!r}\n{out.stdout}"
    values = [float(v) for v in m.groups()]
    assert all(math.isfinite(x) for x in values), last
    assert values[0] > 0, last  # minutes sampled
