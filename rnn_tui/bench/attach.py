"""Attach benchmark: `python -m rnn_tui.bench attach`.

One headless trainer, `rnn-tui CORPUS --headless --listen 127.0.0.1:PORT --metrics M`, runs
for the whole benchmark. Then, for each count in COUNTS, and for 0 between two counts, that many
viewers `rnn-tui attach 127.0.0.1:PORT` start in pseudo-terminals of 120x40; once all have
drawn their first screen and a warm-up has passed, a window of `--seconds` is measured, and the
viewers quit (q). For each count it prints:

- the trainer's chars/s in the window (from its metrics lines, which carry wall-clock times) as
  a share of its chars/s with no viewer, measured just before and just after (the first row:
  every no-viewer window together);
- each viewer's snapshot rate and bytes read per second (the viewer's source counts them and
  appends them to the file `RNN_TUI_ATTACH_TRACE` names when it quits), mean and lowest;
- each viewer's CPU (its process, from /proc), as % of one core, mean and highest;
- the trainer process's CPU in the window.

On a machine with few cores, viewers compete with the trainer for CPU: a lower share there says
as much about the core count as about the publishing. Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnn_tui.bench.app_measure import read_metrics
from rnn_tui.bench.procfs import cpu_seconds, machine_share, machine_ticks, tree_cpu
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

COUNTS = (0, 1, 2, 4, 8)  # viewers attached at once, in turn
QUICK_COUNTS = (0, 1, 2)
TRACE_ENV = "RNN_TUI_ATTACH_TRACE"  # rnn_tui.run.remote.TRACE_ENV
TOKEN = "bench-attach-token"


@dataclass
class Row:
    """What one viewer count measured."""

    viewers: int
    chars_per_s: float = math.nan  # the trainer's, in the window
    trainer_cpu: float = math.nan  # % of one core
    machine_busy: float = math.nan  # % of all CPUs
    snapshot_hz: list[float] = field(default_factory=list)  # per viewer
    bytes_s: list[float] = field(default_factory=list)  # per viewer
    viewer_cpu: list[float] = field(default_factory=list)  # per viewer, % of one core
    error: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _window_rate(points: list[tuple[float, int]], start: float, end: float) -> float:
    """chars/s between the first and last metrics line within [start, end] (wall clock)."""
    kept = [(t, c) for t, c in points if start <= t <= end]
    if len(kept) < 2 or kept[-1][0] <= kept[0][0]:
        return math.nan
    return (kept[-1][1] - kept[0][1]) / (kept[-1][0] - kept[0][0])


def _measure(row: Row, trainer: int, viewers: list[PtyApp], seconds: float) -> tuple[float, float]:
    """Sleep `seconds`, noting the CPU of the trainer, each viewer and the machine; return the
    window's wall-clock start and end."""
    pids = [v.proc.pid for v in viewers]
    t0, w0, m0 = time.monotonic(), time.time(), machine_ticks()
    cpu0 = [cpu_seconds(p) or 0.0 for p in pids]
    tr0 = sum(tree_cpu(trainer).values())
    time.sleep(seconds)
    dt = time.monotonic() - t0
    row.viewer_cpu = [
        100.0 * ((cpu_seconds(p) or 0.0) - c) / dt for p, c in zip(pids, cpu0, strict=True)
    ]
    row.trainer_cpu = 100.0 * (sum(tree_cpu(trainer).values()) - tr0) / dt
    row.machine_busy = machine_share(m0, machine_ticks())[0]
    return w0, time.time()


def _one_count(
    n: int, port: int, token_file: Path, trace: Path, trainer: int, seconds: float, warmup: float
) -> tuple[Row, tuple[float, float]]:
    row = Row(n)
    trace.unlink(missing_ok=True)
    env = child_env(None)
    env[TRACE_ENV] = str(trace)
    argv = rnn_tui_argv(Path("attach"), f"127.0.0.1:{port}", "--token-file", str(token_file))
    viewers = [PtyApp(argv, env) for _ in range(n)]
    window = (math.nan, math.nan)
    try:
        for v in viewers:
            if not v.wait_frame(FRAME_TIMEOUT):
                row.error = f"a viewer drew nothing: {v.recent_output(300)}"
                return row, window
        time.sleep(warmup)
        window = _measure(row, trainer, viewers, seconds)
        for v in viewers:
            code, _ = v.quit()
            if code != 0:
                row.error = f"a viewer quit with {code}: {v.recent_output(300)}"
    finally:
        for v in viewers:
            v.close()
    lines = trace.read_text().splitlines() if trace.exists() else []
    for line in lines:
        rec = json.loads(line)
        row.snapshot_hz.append(rec["snapshots"] / rec["seconds"])
        row.bytes_s.append(rec["bytes"] / rec["seconds"])
    if len(lines) != n and not row.error:
        row.error = f"{len(lines)} of {n} viewers reported what they read"
    return row, window


def _stats(xs: list[float], fmt: str, low: bool = True, unit: str = "") -> str:
    """'mean (min x)' or 'mean (max x)' of per-viewer figures; '-' for none."""
    if not xs:
        return "-"
    edge = min(xs) if low else max(xs)
    mean = format(statistics.fmean(xs), fmt)
    return f"{mean}{unit} ({'min' if low else 'max'} {format(edge, fmt)}{unit})"


def run_attach_bench(corpus: Path, seconds: float | None = None, quick: bool = False) -> int:
    """Run every viewer count and print the table. 0 when everything worked, 1 otherwise."""
    seconds = seconds or (3.0 if quick else 10.0)
    warmup = 1.0 if quick else 3.0
    counts = QUICK_COUNTS if quick else COUNTS
    print(
        f"rnn_tui bench attach: corpus {corpus.resolve()}, default config, one headless trainer"
        f" with --listen; viewers `rnn-tui attach` in {COLS}x{ROWS} ptys; {seconds:g} s measured"
        f" per count after {warmup:g} s; {os.cpu_count()} CPUs, load average"
        f" {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="rnn-tui-bench-attach-") as tmp:
        d = Path(tmp)
        token_file, metrics, trace = d / "token", d / "metrics.jsonl", d / "trace.jsonl"
        token_file.write_text(TOKEN + "\n")
        port = _free_port()
        argv = rnn_tui_argv(
            corpus.resolve(), "--headless", "--steps", str(10**9), "--metrics", str(metrics),
            "--listen", f"127.0.0.1:{port}", "--token-file", str(token_file),
        )  # fmt: skip
        trainer = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_env(None),
            start_new_session=True,
        )
        rows: list[tuple[Row, tuple[float, float]]] = []
        try:
            if not wait_for_lines(metrics, time.monotonic() + FRAME_TIMEOUT, trainer):
                print(f"error: the trainer wrote no metrics (exit code {trainer.poll()})")
                return 1
            # No viewer before and after each count: its share is against the two windows
            # around it, so a machine whose load drifts meanwhile skews it less.
            schedule = [0] + [m for n in counts[1:] for m in (n, 0)]
            for n in schedule:
                rows.append(_one_count(n, port, token_file, trace, trainer.pid, seconds, warmup))
                print(f"  {n} viewer(s) measured", flush=True)
        finally:
            trainer.send_signal(signal.SIGINT)  # it flushes its metrics and exits
            try:
                trainer.wait(15.0)
            except subprocess.TimeoutExpired:
                kill_group(trainer)
        points = read_metrics(metrics)
    for row, (start, end) in rows:
        row.chars_per_s = _window_rate(points, start, end)
    return _report([r for r, _ in rows])


def _report(rows: list[Row]) -> int:
    """The table: the no-viewer windows together first, then each count against the no-viewer
    windows just before and after it."""
    zeros = [r for r in rows if r.viewers == 0]
    if not zeros:
        return 1
    none = Row(0)
    none.chars_per_s = statistics.fmean(r.chars_per_s for r in zeros)
    none.trainer_cpu = statistics.fmean(r.trainer_cpu for r in zeros)
    none.machine_busy = statistics.fmean(r.machine_busy for r in zeros)
    shown = [(none, none.chars_per_s)]
    for i, r in enumerate(rows):
        if r.viewers:
            around = [rows[j].chars_per_s for j in (i - 1, i + 1) if 0 <= j < len(rows)]
            shown.append((r, statistics.fmean(around)))
    print()
    print(
        "| viewers | trainer chars/s | share of 0 viewers | trainer CPU | snapshots/s per viewer"
        " | KB/s per viewer | viewer CPU | machine busy |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r, base in shown:
        share = r.chars_per_s / base if base > 0 else math.nan
        print(
            f"| {r.viewers} | {r.chars_per_s:,.0f} | {share:.0%} | {r.trainer_cpu:.0f}%"
            f" | {_stats(r.snapshot_hz, '.1f')} | {_stats([b / 1e3 for b in r.bytes_s], '.0f')}"
            f" | {_stats(r.viewer_cpu, '.0f', low=False, unit='%')} | {r.machine_busy:.0f}% |"
        )
    errors = [f"{r.viewers} viewers: {r.error}" for r in rows if r.error]
    for e in errors:
        print(f"error: {e}")
    print(
        "snapshots/s and KB/s: mean over the viewers (lowest); viewer CPU: mean (highest), % of"
        " one core; machine busy: all CPUs"
    )
    return 1 if errors else 0
