"""Memory soak benchmark: `python -m rnn_tui.bench soak`.

Runs the real program as a user would leave it running: `rnn-tui CORPUS --metrics FILE` in a
120x40 pseudo-terminal, training with every pane live (loss chart, gradient pane, typing
samples), for `--minutes` (default 30; `--quick`: 0.1). After a warm-up (20 s; quick: 2 s) that
lets imports and first allocations settle, it samples the resident memory (VmRSS of
/proc/<pid>/status) of the app process and of its worker process (the child that trains,
`python -m rnn_tui.run.spawned`) every 10 s (quick: 2 s), and prints one line per sample:
elapsed time, both RSS figures and their sum, the training step (from the metrics file), and
the CPU and terminal output since the previous sample (so a stalled app shows). Then "q" quits; exit code 0 and no leftover process
are required, as in `rnn_tui.bench.app`.

The report gives each process's RSS at the start (first sample after the warm-up) and at the
end, the growth, and a least-squares slope in MB per hour over all the samples after the
warm-up, so a slow leak shows even when the end point is noisy. The target (growth under
20 MB over 30 minutes) is printed beside the figures, never judged: the exit code is 1 only when
something did not work (the app died, drew no screen, did not train, did not quit cleanly, or
left processes behind), 2 for bad arguments. The last line is
`summary: minutes=<m> rss_start_mb=<a> rss_end_mb=<b> growth_mb=<c> slope_mb_per_h=<d>`
for the sum of the app and the worker.

Only the standard library is used here (no Textual import): everything runs in child processes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnn_tui.bench.procfs import cpu_seconds, process_role, process_tree
from rnn_tui.bench.terminal import (
    COLS,
    FRAME_TIMEOUT,
    QUIT_TIMEOUT,
    ROWS,
    PtyApp,
    child_env,
    rnn_tui_argv,
    wait_for_lines,
)

TARGET_GROWTH_MB = 20.0  # over TARGET_MINUTES of training with every pane live
TARGET_MINUTES = 30.0
METRICS_TAIL = 64 * 1024  # bytes read from the end of the metrics file to find its last line


@dataclass(frozen=True)
class SoakPlan:
    """How long the soak runs and how often it samples."""

    minutes: float  # span from the first sample (after the warm-up) to the last one
    warmup: float  # seconds from the first metrics line to the first sample
    interval: float  # seconds between two samples


def make_soak_plan(quick: bool, minutes: float | None) -> SoakPlan:
    """The default plan (30 minutes, a sample every 10 s after 20 s) or the --quick one."""
    if quick:
        return SoakPlan(minutes=0.1 if minutes is None else minutes, warmup=2.0, interval=2.0)
    return SoakPlan(minutes=30.0 if minutes is None else minutes, warmup=20.0, interval=10.0)


# -- /proc: resident memory ----------------------------------------------------------------


def memory_kb(pid: int) -> dict[str, int]:
    """The Vm*/Rss* lines of /proc/<pid>/status in kB (e.g. "VmRSS", "RssAnon"); {} if gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return out
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if key.startswith(("Vm", "Rss")) and len(parts) == 2 and parts[1] == "kB":
            with contextlib.suppress(ValueError):
                out[key] = int(parts[0])
    return out


def rss_mb(pid: int | None) -> float:
    """VmRSS of `pid` in MB (2**20 bytes), NaN if there is no such process."""
    if pid is None:
        return math.nan
    kb = memory_kb(pid).get("VmRSS")
    return math.nan if kb is None else kb / 1024.0


def find_roles(root: int) -> dict[str, int]:
    """pid per role ("app", "worker", "resource_tracker", ...) in the process tree of `root`;
    with several processes of one role, the oldest (lowest pid) is kept."""
    roles: dict[str, int] = {}
    for p in sorted(process_tree(root)):
        roles.setdefault(process_role(p, root, "app"), p)
    return roles


# -- metrics -------------------------------------------------------------------------------


def last_step(path: Path) -> int | None:
    """The step of the last complete metrics line (only the file's tail is read: it grows)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - METRICS_TAIL))
            tail = f.read()
    except OSError:
        return None
    for line in reversed(tail.split(b"\n")[1:] if size > METRICS_TAIL else tail.split(b"\n")):
        try:  # the last piece may be a line still being written: skip what does not parse
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


# -- statistics ----------------------------------------------------------------------------


def slope_per_hour(times_s: list[float], values: list[float]) -> float:
    """Least-squares slope of `values` over `times_s` (seconds), in units per hour; NaN if
    there are fewer than two finite points or no spread in time."""
    pts = [(t, v) for t, v in zip(times_s, values, strict=True) if math.isfinite(v)]
    if len(pts) < 2:
        return math.nan
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    stt = sum((t - mt) ** 2 for t, _ in pts)
    if stt <= 0:
        return math.nan
    stv = sum((t - mt) * (v - mv) for t, v in pts)
    return stv / stt * 3600.0


@dataclass
class Sample:
    """One reading of the app's processes."""

    elapsed: float  # seconds since the first sample
    app_mb: float
    worker_mb: float
    step: int | None
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core since the last sample
    out_kb_s: float = math.nan  # terminal output since the last sample

    @property
    def total_mb(self) -> float:
        """App + worker RSS (NaN if either is missing)."""
        return self.app_mb + self.worker_mb


@dataclass
class SoakResult:
    """Everything one soak run saw."""

    samples: list[Sample] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # role -> pid at the first sample
    memory_start: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> status kB
    memory_end: dict[str, dict[str, int]] = field(default_factory=dict)
    exit_code: int | None = None
    quit_s: float = math.nan
    leftovers: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _fmt_step(step: int | None) -> str:
    return "-" if step is None else f"{step:,}"


def _cpu_of(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per role (roles whose process is gone are left out)."""
    out = {}
    for role, p in pids.items():
        s = cpu_seconds(p)
        if s is not None:
            out[role] = s
    return out


def print_header() -> None:
    """The column titles of the sample lines."""
    print(
        f"{'elapsed':>8} {'app MB':>8} {'worker MB':>10} {'sum MB':>8} {'step':>10}"
        f"  {'cpu app/worker %':>16} {'out KB/s':>9}",
        flush=True,
    )


def print_sample(s: Sample) -> None:
    """One line per sample."""
    m, sec = divmod(s.elapsed, 60.0)
    cpu = f"{s.cpu.get('app', math.nan):.0f}/{s.cpu.get('worker', math.nan):.0f}" if s.cpu else "-"
    out = "-" if math.isnan(s.out_kb_s) else f"{s.out_kb_s:.1f}"
    print(
        f"{int(m):>4}:{sec:04.1f} {s.app_mb:>8.1f} {s.worker_mb:>10.1f} {s.total_mb:>8.1f}"
        f" {_fmt_step(s.step):>10}  {cpu:>16} {out:>9}",
        flush=True,
    )


def soak(app: PtyApp, metrics: Path, plan: SoakPlan, res: SoakResult) -> None:
    """Wait out the warm-up, then sample until `plan.minutes` have passed; problems (the app
    dying, a missing worker, training that stops) go to `res.problems`."""
    deadline = time.monotonic() + FRAME_TIMEOUT
    if not wait_for_lines(metrics, deadline, app.proc):  # the worker trains
        res.problems.append(f"the app wrote no metrics (exit code {app.proc.poll()})")
        return
    time.sleep(plan.warmup)
    pids = find_roles(app.proc.pid)
    res.pids = dict(pids)
    if "worker" not in pids:
        res.problems.append(f"no worker process under the app (processes: {pids})")
    res.memory_start = {role: memory_kb(p) for role, p in pids.items()}
    described = ", ".join(
        f"{role} {p} ({rss_mb(p):.1f} MB)" for role, p in sorted(pids.items(), key=lambda x: x[1])
    )
    print(f"processes after the warm-up: {described}", flush=True)
    print_header()
    span = plan.minutes * 60.0
    n = max(1, math.ceil(span / plan.interval - 1e-9))
    t0 = time.monotonic()
    cpu_prev, t_prev, b_prev = _cpu_of(pids), t0, app.bytes_read
    for k in range(n + 1):
        target = t0 + min(k * plan.interval, span)
        time.sleep(max(0.0, target - time.monotonic()))
        now = time.monotonic()
        if app.proc.poll() is not None:
            res.problems.append(
                f"the app exited after {now - t0:.0f} s with code {app.proc.returncode}:"
                f" {app.recent_output()!r}"
            )
            return
        worker = find_roles(app.proc.pid).get("worker")
        if worker is not None and worker != pids.get("worker"):
            res.problems.append(f"the worker changed from pid {pids.get('worker')} to {worker}")
            pids["worker"] = worker
        sample = Sample(
            elapsed=now - t0,
            app_mb=rss_mb(app.proc.pid),
            worker_mb=rss_mb(worker),
            step=last_step(metrics),
        )
        if k > 0:
            cpu_now, dt = _cpu_of(pids), now - t_prev
            sample.cpu = {
                role: 100.0 * (s - cpu_prev.get(role, 0.0)) / dt for role, s in cpu_now.items()
            }
            sample.out_kb_s = (app.bytes_read - b_prev) / dt / 1e3
            cpu_prev, t_prev, b_prev = cpu_now, now, app.bytes_read
        res.samples.append(sample)
        print_sample(sample)
    res.memory_end = {role: memory_kb(p) for role, p in pids.items()}
    first, last = res.samples[0], res.samples[-1]
    if first.step is None or last.step is None or last.step <= first.step:
        res.problems.append(
            f"training made no progress (step {_fmt_step(first.step)} -> {_fmt_step(last.step)})"
        )
    if math.isnan(last.worker_mb):
        res.problems.append("the worker process was gone at the end")


def _kb_text(mem: dict[str, int], key: str) -> str:
    kb = mem.get(key)
    return "-" if kb is None else f"{kb / 1024:.1f}"


def report(plan: SoakPlan, res: SoakResult) -> list[str]:
    """The closing lines; the summary is the last one."""
    lines = [""]
    s = res.samples
    minutes = s[-1].elapsed / 60.0 if s else math.nan
    times = [x.elapsed for x in s]
    rows = (
        ("app", [x.app_mb for x in s]),
        ("worker", [x.worker_mb for x in s]),
        ("app+worker", [x.total_mb for x in s]),
    )
    lines.append(
        f"resident memory (VmRSS, MB) over {minutes:.2f} min, {len(s)} samples"
        f" after a {plan.warmup:g} s warm-up:"
    )
    lines.append(f"  {'process':<12}{'start':>9}{'end':>9}{'growth':>9}{'slope MB/h':>12}")
    total = (math.nan, math.nan, math.nan, math.nan)
    for name, vals in rows:
        start = vals[0] if vals else math.nan
        end = vals[-1] if vals else math.nan
        slope = slope_per_hour(times, vals) if vals else math.nan
        lines.append(f"  {name:<12}{start:>9.1f}{end:>9.1f}{end - start:>+9.1f}{slope:>+12.2f}")
        total = (start, end, end - start, slope)
    for role, mem in sorted(res.memory_end.items()):
        before = res.memory_start.get(role, {})
        parts = [
            f"{key} {_kb_text(before, key)} -> {_kb_text(mem, key)}"
            for key in ("RssAnon", "RssFile", "RssShmem", "VmHWM")
            if key in mem
        ]
        lines.append(f"  {role} {res.pids.get(role, '?')}: {'; '.join(parts)} (MB)")
    start, end, growth, slope = total
    at_target = slope * TARGET_MINUTES / 60.0
    lines.append(
        f"target: growth < {TARGET_GROWTH_MB:g} MB over {TARGET_MINUTES:g} min;"
        f" measured {growth:+.1f} MB over {minutes:.2f} min, slope {slope:+.2f} MB/h"
        f" ({at_target:+.1f} MB per {TARGET_MINUTES:g} min at that rate)"
    )
    lines.append(
        f"quit with q: exit code {res.exit_code} in {res.quit_s:.2f} s (limit {QUIT_TIMEOUT:g} s);"
        f" leftover processes: {res.leftovers or 'none'}"
    )
    if res.leftovers:
        res.problems.append(f"processes left behind after quitting (killed): {res.leftovers}")
    lines += [f"problem: {p}" for p in res.problems]
    lines.append(
        f"summary: minutes={minutes:.2f} rss_start_mb={start:.1f} rss_end_mb={end:.1f}"
        f" growth_mb={growth:.1f} slope_mb_per_h={slope:.2f}"
    )
    return lines


def run_soak_bench(corpus: Path, minutes: float | None = None, quick: bool = False) -> int:
    """Run the soak and print the report; the summary is the last line. Returns 0 when the app
    worked throughout (drew, trained, quit cleanly, left nothing behind), 1 otherwise; 2 for bad
    arguments; 130 on Ctrl-C."""
    from rnn_tui.engine.config import Config  # light: no numpy, no Textual

    corpus = corpus.resolve()  # checked by cli.main, like the numbers
    plan = make_soak_plan(quick, minutes)
    c = Config()
    print(
        f"rnn_tui bench soak: corpus {corpus} ({corpus.stat().st_size:,} bytes), default config"
        f" ({c.cell} H={c.hidden} B={c.batch} T={c.seq_len} {c.dtype}), pty {COLS}x{ROWS},"
        f" all panes live",
        flush=True,
    )
    print(
        f"{plan.minutes:g} min after a {plan.warmup:g} s warm-up, a sample every"
        f" {plan.interval:g} s; python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    res = SoakResult()
    try:  # the app and its worker are stopped by the finally block, Ctrl-C or not
        with tempfile.TemporaryDirectory(prefix="rnn-tui-bench-soak-") as tmp:
            metrics = Path(tmp) / "metrics.jsonl"
            app = PtyApp(rnn_tui_argv(corpus, "--metrics", str(metrics)), child_env(None))
            try:
                if not app.wait_frame(FRAME_TIMEOUT):
                    res.problems.append(
                        f"no frame within {FRAME_TIMEOUT:g} s (exit code {app.proc.poll()});"
                        f" last output: {app.recent_output()!r}"
                    )
                else:
                    soak(app, metrics, plan, res)
                    if app.proc.poll() is None:
                        res.exit_code, res.quit_s = app.quit()
                        if res.exit_code != 0:
                            res.problems.append(
                                f"quit gave exit code {res.exit_code}: {app.recent_output()!r}"
                            )
            finally:
                res.leftovers = app.close()
    except KeyboardInterrupt:
        print("interrupted: the app and its worker were stopped", file=sys.stderr)
        return 130
    print("\n".join(report(plan, res)), flush=True)
    return 0 if not res.problems and res.exit_code == 0 else 1
