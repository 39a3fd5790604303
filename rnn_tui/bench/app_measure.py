"""What the live-app benchmark reads while a program runs: throughput from its metrics file,
CPU of its processes, key-to-handler latency from the app's key trace, CPU while paused.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rnn_tui.bench.app_plan import KEY, KEY_ACTION, PAUSE_ACTION, PAUSE_KEY, AppPlan
from rnn_tui.bench.procfs import (
    cpu_seconds,
    cpu_share,
    cpu_text,
    machine_share,
    machine_ticks,
    tree_cpu,
)
from rnn_tui.bench.terminal import PtyApp

# -- metrics -------------------------------------------------------------------------------


def read_metrics(path: Path) -> list[tuple[float, int]]:
    """(time.time(), cumulative chars) of every complete metrics line; bad lines skipped."""
    points = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
            points.append((float(rec["time"]), int(rec["chars"])))
        except (ValueError, KeyError, TypeError):
            continue  # e.g. a line cut short when the process was interrupted
    return points


def rate(
    points: list[tuple[float, int]], warmup: float, end: float, start: float = -math.inf
) -> float:
    """chars/s between the first line `warmup` s after the run's first line (and not before
    `start`, e.g. once the probe is open) and `end`."""
    if not points:
        return math.nan
    t0 = max(points[0][0] + warmup, start)
    kept = [(t, c) for t, c in points if t0 <= t <= end]
    if len(kept) < 2 or kept[-1][0] <= kept[0][0]:
        return math.nan
    (ta, ca), (tb, cb) = kept[0], kept[-1]
    return (cb - ca) / (tb - ta)


@dataclass
class Run:
    """One throughput run: its rate and the CPU its processes used while it trained."""

    kind: str  # "headless" or "app"
    chars_per_s: float = math.nan
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core per process role
    machine_busy: float = math.nan  # % of all CPUs busy meanwhile (any process)
    steal: float = math.nan  # % of all CPUs taken by the hypervisor meanwhile
    others: float = math.nan  # % of one core used by processes outside this benchmark
    out_kb_s: float = math.nan  # terminal output of the app, KB/s
    error: str = ""

    def measure(self, root: int, root_role: str, seconds: float) -> None:
        """Sleep `seconds`, noting the CPU of the process tree of `root` and of the machine."""
        me = os.getpid()  # this process reads the app's terminal: its CPU is ours too
        cpu0, m0, t0 = tree_cpu(root), machine_ticks(), time.monotonic()
        own0 = cpu_seconds(me) or 0.0
        time.sleep(seconds)
        cpu1, m1, dt = tree_cpu(root), machine_ticks(), time.monotonic() - t0
        own = 100.0 * ((cpu_seconds(me) or 0.0) - own0) / dt
        self.cpu = cpu_share(cpu0, cpu1, dt, root, root_role)
        self.machine_busy, self.steal = machine_share(m0, m1)
        n_cpu = os.cpu_count() or 1
        # Busy CPU of the whole machine, in % of one core, less what this benchmark used.
        self.others = max(0.0, self.machine_busy * n_cpu - sum(self.cpu.values()) - own)

    def cpu_text(self) -> str:
        """e.g. "ui 31% worker 97%; machine 70% busy" (per process: % of one core)."""
        text = cpu_text(self.cpu)
        if not math.isnan(self.machine_busy):
            text += f"; other processes {self.others:.0f}%"
            if self.steal >= 0.5:
                text += f", {self.steal:.0f}% of the machine stolen"
        return text


# -- keys and pause ------------------------------------------------------------------------


@dataclass
class KeyResult:
    """Key-to-handler latencies of one burst of key presses."""

    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Key presses with no handler run in the trace."""
        return self.sent - len(self.latencies_ms)

    def pct(self, q: float) -> float:
        """The q-th percentile (0-100) of the latencies, NaN if none."""
        xs = sorted(self.latencies_ms)
        if not xs:
            return math.nan
        if len(xs) == 1 or q >= 100:
            return xs[-1]
        # quantiles(n=100) gives the 99 cut points between percentiles 1..99.
        return statistics.quantiles(xs, n=100, method="inclusive")[max(1, round(q)) - 1]


def read_trace(path: Path, action: str) -> list[float]:
    """Monotonic times of every `action` line of the app's key trace, in file order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1] == action:
            with contextlib.suppress(ValueError):
                out.append(float(parts[0]))
    return out


def match_keys(writes: list[float], handled: Iterable[float]) -> list[float]:
    """Pair each write with its handler: keys are handled in order, so the i-th write gets the
    first unused handler time at or after it. Returns latencies (s) of the matched writes; a
    key the app lost leaves the last write(s) unmatched."""
    times = sorted(handled)
    out, j = [], 0
    for w in writes:
        while j < len(times) and times[j] < w:
            j += 1  # a handler before this write belongs to no later key: skip it
        if j == len(times):
            break
        out.append(times[j] - w)
        j += 1
    return out


def press_keys(app: PtyApp, trace: Path, plan: AppPlan) -> KeyResult:
    """Press KEY `plan.keys` times at random intervals and match the handler times."""
    rng = random.Random(plan.seed)
    before = len(read_trace(trace, KEY_ACTION))  # handler lines already there (none expected)
    writes = []
    for _ in range(plan.keys):
        time.sleep(rng.uniform(*plan.key_gap))
        writes.append(app.write(KEY))
    deadline = time.monotonic() + 3.0  # let the last handlers run
    while time.monotonic() < deadline and len(read_trace(trace, KEY_ACTION)) - before < len(writes):
        time.sleep(0.05)
    handled = read_trace(trace, KEY_ACTION)[before:]
    return KeyResult(sent=len(writes), latencies_ms=[x * 1e3 for x in match_keys(writes, handled)])


@dataclass
class IdleResult:
    """CPU of the app's process tree while training is paused."""

    cpu: dict[str, float] = field(default_factory=dict)  # % of one core per process role
    lines_while_paused: int = -1  # metrics lines written while paused (0: training stopped)
    pause_seen: bool = False  # whether the app's trace shows the pause handler ran

    @property
    def total(self) -> float:
        """% of one core used by the whole process tree (NaN if not measured)."""
        return sum(self.cpu.values()) if self.cpu else math.nan


def measure_idle(app: PtyApp, trace: Path, metrics: Path, plan: AppPlan) -> IdleResult:
    """Pause with space, let the sample finish, measure CPU over `plan.idle_seconds`, resume."""
    res = IdleResult()
    n_pause = len(read_trace(trace, PAUSE_ACTION))
    app.write(PAUSE_KEY)
    time.sleep(plan.settle)
    res.pause_seen = len(read_trace(trace, PAUSE_ACTION)) > n_pause
    lines0 = len(read_metrics(metrics))
    cpu0, t0 = tree_cpu(app.proc.pid), time.monotonic()
    time.sleep(plan.idle_seconds)
    res.cpu = cpu_share(cpu0, tree_cpu(app.proc.pid), time.monotonic() - t0, app.proc.pid, "ui")
    res.lines_while_paused = len(read_metrics(metrics)) - lines0
    app.write(PAUSE_KEY)  # resume
    return res
