"""The attach benchmark's arithmetic: windows of metrics lines, shares against the no-viewer
windows around each count."""

from __future__ import annotations

import math

import pytest

from rnn_tui.bench.attach import Row, _report, _window_rate


def test_window_rate_uses_the_lines_inside_the_window() -> None:
    """If this fails, the trainer's chars/s for a viewer count mixes in other windows."""
    points = [(0.0, 0), (1.0, 100), (2.0, 300), (3.0, 600), (4.0, 1000)]
    assert _window_rate(points, 1.0, 3.0) == pytest.approx(250.0, rel=1e-12)
    assert math.isnan(_window_rate(points, 1.5, 1.9))  # fewer than two lines


def test_each_count_is_compared_with_the_no_viewer_windows_around_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """If this fails, the table's share compares a count with a baseline from another time."""
    rows = []
    for viewers, rate in ((0, 100.0), (1, 80.0), (0, 60.0), (2, 35.0), (0, 70.0)):
        row = Row(viewers, rate, 50.0, 90.0)
        if viewers:
            row.snapshot_hz, row.bytes_s, row.viewer_cpu = [9.0] * viewers, [3e5] * viewers, [12.0]
        rows.append(row)
    assert _report(rows) == 0
    out = capsys.readouterr().out
    assert "| 0 | 77 | 100% |" in out  # (100 + 60 + 70) / 3
    assert "| 1 | 80 | 100% |" in out  # 80 / ((100 + 60) / 2)
    assert "| 2 | 35 | 54% |" in out  # 35 / ((60 + 70) / 2)
    assert "| 9.0 (min 9.0) | 300 (min 300) | 12% (max 12%) |" in out
