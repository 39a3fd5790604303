"""The runs of the live-app benchmark: headless training stopped with Ctrl-C, and the app
launched in a pseudo-terminal, measured, and quit with q.
"""

from __future__ import annotations

import contextlib
import math
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rnn_tui.bench.app_measure import (
    IdleResult,
    KeyResult,
    Run,
    measure_idle,
    press_keys,
    rate,
    read_metrics,
    read_trace,
)
from rnn_tui.bench.app_plan import AppPlan
from rnn_tui.bench.terminal import (
    COLS,
    FRAME_TIMEOUT,
    ROWS,
    PtyApp,
    child_env,
    kill_group,
    rnn_tui_argv,
    wait_for_lines,
)


@contextlib.contextmanager
def sigint_for_children() -> Iterator[None]:
    """Let children started inside get Ctrl-C as usual even if this process ignores SIGINT.

    A command started in the background by a non-interactive shell ignores SIGINT, and an
    ignored signal stays ignored across exec: the headless child would never see the Ctrl-C
    that stops it. A handled signal is reset to the default at exec, so handle it meanwhile.
    """
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    ignored = main and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_headless(corpus: Path, plan: AppPlan, metrics: Path) -> Run:
    """`rnn-tui CORPUS --headless` for `plan.seconds` of training, stopped with Ctrl-C."""
    run = Run("headless")
    with sigint_for_children():
        proc = subprocess.Popen(
            rnn_tui_argv(corpus, "--headless", "--steps", str(10**9), "--metrics", str(metrics)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_env(None),
            start_new_session=True,
        )
    try:
        # Headless writes its metrics through a buffer: the first lines show up after ~8 KB.
        if not wait_for_lines(metrics, time.monotonic() + FRAME_TIMEOUT, proc):
            run.error = f"headless run wrote no metrics (exit code {proc.poll()})"
            return run
        run.measure(proc.pid, "headless", plan.seconds)
        end = time.time()
        proc.send_signal(signal.SIGINT)  # Ctrl-C: it stops, flushes the metrics and exits
        try:
            proc.wait(15.0)
        except subprocess.TimeoutExpired:
            run.error = "headless run ignored Ctrl-C for 15 s (killed)"
        # Ctrl-C lands after `end`, so the last lines (flushed at exit) are all within it.
        run.chars_per_s = rate(read_metrics(metrics), plan.warmup, end)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    return run


@dataclass
class Launch:
    """One app launch: first frame and how it quit."""

    frame_ms: float = math.nan
    exit_code: int | None = None
    quit_s: float = math.nan
    leftovers: list[int] = field(default_factory=list)
    error: str = ""
    words_s: float = math.nan  # spawn to the first sample line of corpus words, seconds


# Open the probe, leave its input, held-out text, look back: each key with the action it runs.
PROBE_KEYS = (
    (b"i", "toggle_probe"),
    (b"\r", "submit"),
    (b"g", "probe_held_out"),
    (b"b", "probe_shading"),
)
KEY_WAIT = 5.0  # seconds a probe key's action may take to show in the key trace


def run_app_once(
    corpus: Path,
    plan: AppPlan,
    metrics: Path,
    trace: Path,
    *,
    train: bool,
    extras: bool,
    probe: bool = False,
    size: tuple[int, int] = (COLS, ROWS),
) -> tuple[Launch, Run, KeyResult | None, IdleResult | None]:
    """Launch the app in a pty. With `train`, time `plan.seconds` of training; with `extras`,
    then the key latency and the idle CPU; with `probe`, train with the probe pane open on a
    held-out passage, looking back (recomputed at every new weight copy). Always quit with q
    and clean up."""
    launch, run = Launch(), Run("app+probe" if probe else "app")
    keys: KeyResult | None = None
    idle: IdleResult | None = None
    app = PtyApp(rnn_tui_argv(corpus, "--metrics", str(metrics)), child_env(str(trace)), size)
    try:
        if not app.wait_frame(FRAME_TIMEOUT):
            launch.error = (
                f"no frame within {FRAME_TIMEOUT:g} s (exit code {app.proc.poll()});"
                f" last output: {app.recent_output()!r}"
            )
            return launch, run, keys, idle
        launch.frame_ms = app.frame_ms
        deadline = time.monotonic() + FRAME_TIMEOUT
        if not wait_for_lines(metrics, deadline, app.proc):  # the worker trains
            run.error = f"the app wrote no metrics (exit code {app.proc.poll()})"
        elif train:
            # The trainer starts before the UI: its first metrics come while the app is still
            # building its panes and loading plotext. That start-up is not training; measure
            # the app from `plan.warmup` seconds later.
            time.sleep(plan.warmup)
            for key, action in PROBE_KEYS if probe else ():
                # The next key only once this one's action ran: a key sent while the probe
                # opens can land in its input line (a "q" typed there would never quit).
                done = len(read_trace(trace, action))
                app.write(key)
                deadline = time.monotonic() + KEY_WAIT
                while len(read_trace(trace, action)) == done and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(0.3)  # and what the action set off (a focus moved by a message)
            b0, t0, start = app.bytes_read, time.monotonic(), time.time()
            run.measure(app.proc.pid, "ui", plan.seconds)
            # The rate of the seconds measured: with the probe, from once it is open, so
            # opening it (a one-off) is not counted as what keeping it open costs.
            run.chars_per_s = rate(read_metrics(metrics), plan.warmup, time.time(), start)
            run.out_kb_s = (app.bytes_read - b0) / (time.monotonic() - t0) / 1e3
            if extras:
                keys = press_keys(app, trace, plan)
                idle = measure_idle(app, trace, metrics, plan)
        else:
            time.sleep(0.5)  # a moment of training before quitting, as a user would
        if app.proc.poll() is not None:
            launch.error = (
                f"the app exited early with code {app.proc.returncode}: {app.recent_output()!r}"
            )
            return launch, run, keys, idle
        launch.exit_code, launch.quit_s = app.quit()
        if launch.exit_code != 0:
            launch.error = f"quit gave exit code {launch.exit_code}: {app.recent_output()!r}"
    finally:
        launch.leftovers = app.close()
    return launch, run, keys, idle


BARE_ARGV = [sys.executable, "-m", "rnn_tui.bench.bare_app"]  # the yardstick of the first frame
WORDS_TIMEOUT = 60.0  # seconds to wait for the first sample line of words


def launch_for_words(corpus: Path, words: frozenset[str]) -> Launch:
    """Launch the app as a user would (`rnn-tui CORPUS`), note its first frame and the first
    sample line holding WORDS_NEEDED distinct words of `words`, then quit with q."""
    launch = Launch()
    app = PtyApp(rnn_tui_argv(corpus), child_env(None), words=words)
    try:
        if not app.wait_frame(FRAME_TIMEOUT):
            launch.error = f"no frame within {FRAME_TIMEOUT:g} s: {app.recent_output()!r}"
            return launch
        launch.frame_ms = app.frame_ms
        if app.wait_words(WORDS_TIMEOUT):
            launch.words_s = app.words_s
        elif app.proc.poll() is not None:
            launch.error = (
                f"the app exited early with code {app.proc.returncode}: {app.recent_output()!r}"
            )
            return launch
        launch.exit_code, launch.quit_s = app.quit()
    finally:
        launch.leftovers = app.close()
    return launch


def launch_bare() -> Launch:
    """Launch the bare Textual app the same way, note its first frame, quit with q."""
    launch = Launch()
    app = PtyApp(BARE_ARGV, child_env(None))
    try:
        if not app.wait_frame(FRAME_TIMEOUT):
            launch.error = f"bare app: no frame within {FRAME_TIMEOUT:g} s"
            return launch
        launch.frame_ms = app.frame_ms
        time.sleep(0.3)
        launch.exit_code, launch.quit_s = app.quit()
    finally:
        launch.leftovers = app.close()
    return launch


def side_by_side(
    n: int,
    pause: float,
    bare: Callable[[], Launch],
    app: Callable[[], Launch],
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Launch], list[Launch]]:
    """`n` launches of the bare app and `n` of the app: (bare ones, app ones). Each launch
    comes after the same `pause`, and the two take turns going first. A launch right after a
    busy one starts sooner here (measured: the bare app 405 ms right after the app's words
    against 461 ms after 2 s of rest, 8 launches each; the app 539 against 582 ms right after
    the bare app), so a fixed order (the bare app always after the app's two busy seconds)
    favoured the bare app by about a tenth."""
    bares: list[Launch] = []
    apps: list[Launch] = []
    for i in range(n):
        pair = ((bare, bares), (app, apps))
        for launch, into in pair if i % 2 == 0 else pair[::-1]:
            sleep(pause)
            into.append(launch())
    return bares, apps
