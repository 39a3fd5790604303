"""What the live-app benchmark (`rnn_tui.bench.app`) does, for how long, and the targets its
figures are printed beside.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY = b"t"  # temperature down: only changes the sampling temperature, safe to repeat
KEY_ACTION = "temp_down"  # the action name the app writes to its key trace for KEY
PAUSE_KEY, PAUSE_ACTION = b" ", "toggle_pause"
TYPE_CHARS_PER_S = 60.0  # the sample pane's typing speed (rnn_tui.ui.mirror.CHARS_PER_S)
TARGET_SHARE, TARGET_P95_MS, TARGET_IDLE_PCT, TARGET_FRAME_MS = 0.90, 50.0, 3.0, 1000.0


@dataclass(frozen=True)
class AppPlan:
    """What one run measures, and for how long."""

    seconds: float  # training seconds per throughput run (after the first metrics line)
    rounds: int  # headless/app pairs; the live share is the median of their ratios
    warmup: float  # seconds after a run's first metrics line left out of its rate
    keys: int  # key presses timed
    key_gap: tuple[float, float]  # random pause between two key presses, seconds
    settle: float  # seconds after pausing before idle CPU is measured (sample finishes typing)
    idle_seconds: float  # seconds over which idle CPU is measured
    launches: int  # launches of the bare app and of the app, side by side (first frame, words)
    launch_pause: float  # seconds of rest before each of those launches (app_runs.side_by_side)
    seed: int = 0  # for the random key intervals


def make_app_plan(quick: bool, seconds: float | None, keys: int | None, sample_len: int) -> AppPlan:
    """The default plan (~2 minutes) or the --quick smoke plan (~15 s)."""
    # A full sample takes sample_len / TYPE_CHARS_PER_S seconds to type (4 s by default).
    settle = sample_len / TYPE_CHARS_PER_S + 0.5
    if quick:
        return AppPlan(
            seconds=2.0 if seconds is None else seconds,
            rounds=1,
            warmup=0.5,
            keys=8 if keys is None else keys,
            key_gap=(0.1, 0.3),
            settle=1.0,  # the smoke test only checks that the measurement runs
            idle_seconds=1.0,
            launches=1,
            launch_pause=0.2,
        )
    return AppPlan(
        seconds=20.0 if seconds is None else seconds,
        rounds=2,
        warmup=2.0,
        keys=60 if keys is None else keys,
        key_gap=(0.1, 0.3),
        settle=max(3.0, settle),
        idle_seconds=5.0,
        launches=3,
        launch_pause=2.0,
    )
