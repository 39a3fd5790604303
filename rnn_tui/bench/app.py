"""Live-app benchmark: `python -m rnn_tui.bench app`.

Runs the real program as a user would, in one run with one configuration (the default `Config`
on the given corpus), and prints what it measures:

1. throughput: `rnn-tui CORPUS --headless --metrics A` and the full app `rnn-tui CORPUS
   --metrics B` in a 120x40 pseudo-terminal, each for `--seconds` of training, interleaved
   (headless, app, headless, app, ...). Each run's chars/s comes from its metrics lines, after a
   warm-up; the result is the median over the rounds of app / headless ("live share");
2. key latency: with training running in the app, the byte "t" (temperature down: harmless) is
   written to the terminal `--keys` times at random 100-300 ms intervals; the app's key trace
   (`RNN_TUI_KEY_TRACE`) says when each handler ran; latency = handler time - write time (both
   `time.monotonic()`, one clock for every process on Linux);
3. idle CPU: space pauses training; once the current sample has finished typing, the CPU time
   of the app and all its child processes over a few seconds, as % of one core;
4. first frame: spawn to the first terminal output that holds the drawn screen, median of
   three launches;
5. clean quit: "q" must end the app with exit code 0 within 5 s, leaving no process behind.

Timings are printed, never judged: the targets are shown beside them. The exit code is non-zero
only when something did not work (no screen, a quit that hangs or fails, leftover processes).
The last line is `summary: live_share=<x> key_p95_ms=<y> idle_cpu_pct=<z> first_frame_ms=<w>`.

Only the standard library is used here (no Textual import): everything runs in child processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import platform
import random
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

COLS, ROWS = 120, 40  # size of the pseudo-terminal the app draws into
KEY = b"t"  # temperature down: only changes the sampling temperature, safe to repeat
KEY_ACTION = "temp_down"  # the action name the app writes to its key trace for KEY
PAUSE_KEY, PAUSE_ACTION = b" ", "toggle_pause"
QUIT_KEY = b"q"
QUIT_TIMEOUT = 5.0  # seconds the app may take to exit after "q"
FRAME_TIMEOUT = 30.0  # seconds to wait for the first frame before calling the launch failed
# Bytes that only appear once the screen is drawn: the footer's "Quit" and the status badge.
FRAME_MARKERS = (b"Quit", b"STARTING", b"TRAINING")
KEY_TRACE_ENV = "RNN_TUI_KEY_TRACE"  # the app's variable (rnn_tui.ui.app.KEY_TRACE_ENV)
TYPE_CHARS_PER_S = 60.0  # the sample pane's typing speed (rnn_tui.ui.app.CHARS_PER_S)
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
    launches: int  # app launches for the first-frame median (throughput runs count)
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
            launches=2,
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
    )


# -- /proc: process trees and CPU time -----------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat counts CPU time in these ticks


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return data[data.rfind(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (None if it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # utime and stime are fields 14 and 15 of stat(5): indexes 11 and 12 after the name.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """`pid` and all its living descendants (via /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            with (
                contextlib.suppress(OSError),  # the thread or process ended meanwhile
                open(f"/proc/{p}/task/{tid}/children", encoding="ascii") as f,
            ):
                todo.extend(int(c) for c in f.read().split())
    return out


def process_role(pid: int, root: int, root_role: str) -> str:
    """A short name for a process of a tree: `root_role` for the root, worker for a
    multiprocessing child, else its command name."""
    if pid == root:
        return root_role
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "resource_tracker" in cmd:
        return "resource_tracker"
    if "spawn_main" in cmd:  # multiprocessing's spawn start method runs this in the child
        return "worker"
    return Path(cmd.split(" ", 1)[0]).name or "?"


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds so far of every process in the tree of `root`."""
    out = {}
    for p in process_tree(root):
        s = cpu_seconds(p)
        if s is not None:
            out[p] = s
    return out


def cpu_share(
    before: dict[int, float], after: dict[int, float], seconds: float, root: int, root_role: str
) -> dict[str, float]:
    """% of one core used per role between two `tree_cpu` readings `seconds` apart."""
    shares: dict[str, float] = {}
    for p, s in after.items():
        used = s - before.get(p, 0.0)  # a process born in between counts from zero
        role = process_role(p, root, root_role)
        shares[role] = shares.get(role, 0.0) + 100.0 * used / seconds
    return shares


def machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks of all CPUs so far, from the first line of /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            # cpu user nice system idle iowait irq softirq steal guest guest_nice
            vals = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0, 0, 0
    idle = vals[3] + vals[4]  # idle + iowait
    return sum(vals) - idle - vals[7], vals[7], sum(vals)  # busy leaves out the stolen time


def machine_share(before: tuple[int, int, int], after: tuple[int, int, int]) -> tuple[float, float]:
    """(busy %, steal %) of all CPUs together between two `machine_ticks` readings."""
    total = after[2] - before[2]
    if total <= 0:
        return math.nan, math.nan
    return 100.0 * (after[0] - before[0]) / total, 100.0 * (after[1] - before[1]) / total


def session_members(sid: int) -> list[int]:
    """Living processes of session `sid` (the app is its session leader, its children join)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        # Index 3 after the name is the session id; zombies (state Z) are already dead.
        if fields is not None and int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(name))
    return out


# -- children ------------------------------------------------------------------------------


def child_env(trace: str | None) -> dict[str, str]:
    """The environment of a child: a 256-colour xterm, no size override, the key trace or not."""
    env = dict(os.environ)
    env["TERM"] = "xterm-256color"
    for var in ("COLUMNS", "LINES", KEY_TRACE_ENV):
        env.pop(var, None)  # COLUMNS/LINES would override the pty's size
    if trace is not None:
        env[KEY_TRACE_ENV] = trace
    return env


def rnn_tui_argv(corpus: Path, *extra: str) -> list[str]:
    """`rnn-tui CORPUS ...` with this interpreter (the console script runs the same code)."""
    return [sys.executable, "-m", "rnn_tui", str(corpus), *extra]


def wait_for_lines(path: Path, deadline: float, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until `path` holds a complete line; False if the process ended or time ran out."""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), open(path, "rb") as f:  # not created yet: wait on
            if b"\n" in f.read(65536):
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of `proc` (its own, from start_new_session) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5.0)


class PtyApp:
    """The app running in its own pseudo-terminal, its output read (and mostly dropped) by a
    thread: a pty whose buffer fills up blocks the app's next write, and so the whole UI."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        # The size the app sees: struct winsize is rows, columns, x pixels, y pixels.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.master = master
        self.first_frame: float | None = None  # monotonic time of the first drawn screen
        self.frame_seen = threading.Event()
        self.bytes_read = 0
        self._recent: deque[bytes] = deque(maxlen=64)  # last chunks, for error messages
        self.t_spawn = time.monotonic()
        try:
            # A new session: the app and the worker it spawns share one process group to kill.
            self.proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # only the child holds the slave now: EIO on read once all exit
        self._reader = threading.Thread(target=self._drain, name="pty-reader", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        """Read the terminal output until the app's side closes; note the first frame."""
        tail = b""  # the end of the previous chunk, so a marker split in two is still found
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # EIO: every process holding the slave has exited
                return
            if not chunk:
                return
            now = time.monotonic()
            self.bytes_read += len(chunk)
            self._recent.append(chunk)
            if self.first_frame is None:
                window = tail + chunk
                if any(m in window for m in FRAME_MARKERS):
                    self.first_frame = now
                    self.frame_seen.set()
                tail = window[-16:]

    def wait_frame(self, timeout: float) -> bool:
        """Wait for the first frame; False if the app exits or `timeout` s pass without one."""
        deadline = time.monotonic() + timeout
        while not self.frame_seen.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(0.5)  # the output the app wrote before it died
                return self.frame_seen.is_set()
        return True

    def write(self, data: bytes) -> float:
        """Type `data` into the app's terminal; returns the monotonic time just before."""
        t = time.monotonic()
        with contextlib.suppress(OSError):  # the app has gone: the key is reported missing
            os.write(self.master, data)
        return t

    @property
    def frame_ms(self) -> float:
        """Spawn to first frame in ms (NaN if none was seen)."""
        return math.nan if self.first_frame is None else (self.first_frame - self.t_spawn) * 1e3

    def recent_output(self, limit: int = 1200) -> str:
        """The end of what the app printed, escape sequences and all, for error messages."""
        text = b"".join(self._recent)[-limit:].decode(errors="replace")
        return "".join(c if c.isprintable() or c == "\n" else " " for c in text)

    def quit(self) -> tuple[int | None, float]:
        """Press q and wait; (exit code or None on a hang, seconds taken). Kills on a hang."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        with contextlib.suppress(OSError):
            os.write(self.master, QUIT_KEY)
        try:
            code: int | None = self.proc.wait(QUIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
            kill_group(self.proc)
        return code, time.monotonic() - t0

    def close(self, grace: float = 3.0) -> list[int]:
        """Kill whatever is left of the app's session after `grace` seconds (the worker and
        multiprocessing's resource tracker exit shortly after the app); return their pids."""
        deadline = time.monotonic() + (grace if self.proc.poll() is not None else 0.0)
        left = session_members(self.proc.pid)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = session_members(self.proc.pid)
        for p in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        if self.proc.poll() is None:
            kill_group(self.proc)
        self._reader.join(2.0)
        with contextlib.suppress(OSError):
            os.close(self.master)
        return left


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


def rate(points: list[tuple[float, int]], warmup: float, end: float) -> float:
    """chars/s between the first line `warmup` s after the run's first line and `end`."""
    if not points:
        return math.nan
    t0 = points[0][0] + warmup
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
        text = _cpu_text(self.cpu)
        if not math.isnan(self.machine_busy):
            text += f"; other processes {self.others:.0f}%"
            if self.steal >= 0.5:
                text += f", {self.steal:.0f}% of the machine stolen"
        return text


# -- the phases ----------------------------------------------------------------------------


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


@dataclass
class Launch:
    """One app launch: first frame and how it quit."""

    frame_ms: float = math.nan
    exit_code: int | None = None
    quit_s: float = math.nan
    leftovers: list[int] = field(default_factory=list)
    error: str = ""


def run_app_once(
    corpus: Path, plan: AppPlan, metrics: Path, trace: Path, *, train: bool, extras: bool
) -> tuple[Launch, Run, KeyResult | None, IdleResult | None]:
    """Launch the app in a pty. With `train`, time `plan.seconds` of training; with `extras`,
    then the key latency and the idle CPU. Always quit with q and clean up."""
    launch, run = Launch(), Run("app")
    keys: KeyResult | None = None
    idle: IdleResult | None = None
    app = PtyApp(rnn_tui_argv(corpus, "--metrics", str(metrics)), child_env(str(trace)))
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
            b0, t0 = app.bytes_read, time.monotonic()
            run.measure(app.proc.pid, "ui", plan.seconds)
            run.chars_per_s = rate(read_metrics(metrics), plan.warmup, time.time())
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


# -- the whole benchmark -------------------------------------------------------------------


def _ms(x: float) -> str:
    """Milliseconds without decimals, or "nan"."""
    return "nan" if math.isnan(x) else f"{x:.0f}"


def _cpu_text(cpu: dict[str, float]) -> str:
    """e.g. "ui 31% worker 97%": roles under half a percent left out."""
    if not cpu:
        return "-"
    return " ".join(f"{role} {pct:.0f}%" for role, pct in sorted(cpu.items()) if pct >= 0.5) or "0%"


def run_app_bench(
    corpus: Path, seconds: float | None = None, keys: int | None = None, quick: bool = False
) -> int:
    """Run every phase and print the report; the summary is the last line. Returns 0 when the
    app worked (drew, trained, quit cleanly), 1 otherwise; 2 for a missing corpus."""
    from rnn_tui.engine.config import Config  # light: no numpy, no Textual

    corpus = corpus.resolve()  # checked by bench.main, like the numbers
    c = Config()
    plan = make_app_plan(quick, seconds, keys, c.sample_len)
    print(
        f"rnn_tui bench app: corpus {corpus} ({corpus.stat().st_size:,} bytes), default config"
        f" ({c.cell} H={c.hidden} B={c.batch} T={c.seq_len} {c.dtype}), pty {COLS}x{ROWS}",
        flush=True,
    )
    print(
        f"{plan.rounds} round(s) of headless then app, {plan.seconds:g} s of training each,"
        f" first {plan.warmup:g} s left out; python {platform.python_version()},"
        f" {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    headless: list[Run] = []
    apps: list[Run] = []
    launches: list[Launch] = []
    key_res: KeyResult | None = None
    idle_res: IdleResult | None = None
    problems: list[str] = []
    try:  # every child is stopped by the finally blocks below, Ctrl-C or not
        with tempfile.TemporaryDirectory(prefix="rnn-tui-bench-app-") as tmp:
            d = Path(tmp)
            for r in range(plan.rounds):
                h = run_headless(corpus, plan, d / f"headless{r}.jsonl")
                headless.append(h)
                last = r == plan.rounds - 1
                launch, a, k, i = run_app_once(
                    corpus, plan, d / f"app{r}.jsonl", d / f"trace{r}.txt", train=True, extras=last
                )
                apps.append(a)
                launches.append(launch)
                key_res, idle_res = k or key_res, i or idle_res
                print(
                    f"round {r + 1}: headless {h.chars_per_s:,.0f} chars/s (cpu {h.cpu_text()});"
                    f" app {a.chars_per_s:,.0f} chars/s (cpu {a.cpu_text()};"
                    f" terminal output {a.out_kb_s:.0f} KB/s)",
                    flush=True,
                )
                problems += [x.error for x in (h, a, launch) if x.error]
            for r in range(plan.launches - len(launches)):  # more launches for the first frame
                launch, *_ = run_app_once(
                    corpus,
                    plan,
                    d / f"launch{r}.jsonl",
                    d / f"ltrace{r}.txt",
                    train=False,
                    extras=False,
                )
                launches.append(launch)
                if launch.error:
                    problems.append(launch.error)
    except KeyboardInterrupt:
        print("interrupted: the app and its workers were stopped", file=sys.stderr)
        return 130

    # -- report ----------------------------------------------------------------------------
    print()
    ratios = [
        a.chars_per_s / h.chars_per_s
        for h, a in zip(headless, apps, strict=True)
        if h.chars_per_s > 0 and a.chars_per_s > 0
    ]
    share = statistics.median(ratios) if ratios else math.nan
    hs = [h.chars_per_s for h in headless]
    as_ = [a.chars_per_s for a in apps]
    print(
        f"throughput: headless {', '.join(f'{x:,.0f}' for x in hs)} chars/s;"
        f" app {', '.join(f'{x:,.0f}' for x in as_)} chars/s"
    )
    print(
        f"  live share app/headless: {', '.join(f'{x:.2f}' for x in ratios) or 'nan'}"
        f" -> median {share:.2f} (target >= {TARGET_SHARE:.2f})"
    )
    if key_res is not None:
        p50, p95 = key_res.pct(50), key_res.pct(95)
        mx = max(key_res.latencies_ms, default=math.nan)
        print(
            f"key latency ({KEY.decode()!r} while training, write -> handler): sent {key_res.sent},"
            f" matched {len(key_res.latencies_ms)}, missing {key_res.missing};"
            f" p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {mx:.1f} ms (target p95 <= {TARGET_P95_MS:g} ms)"
        )
    else:
        p95 = math.nan
        print("key latency: not measured (the app did not train)")
    if idle_res is not None:
        idle = idle_res.total
        print(
            f"idle while paused ({plan.idle_seconds:g} s, {plan.settle:g} s after space):"
            f" {idle:.1f}% of one core ({_cpu_text(idle_res.cpu)}; target < {TARGET_IDLE_PCT:g}%);"
            f" pause handled: {'yes' if idle_res.pause_seen else 'NO'};"
            f" metrics lines while paused: {idle_res.lines_while_paused}"
        )
        if idle_res.cpu:
            detail = ", ".join(f"{role} {pct:.2f}%" for role, pct in sorted(idle_res.cpu.items()))
            print(f"  per process: {detail}")
    else:
        idle = math.nan
        print("idle CPU: not measured (the app did not train)")
    frames = [x.frame_ms for x in launches]
    good_frames = [x for x in frames if not math.isnan(x)]
    frame = statistics.median(good_frames) if good_frames else math.nan
    print(
        f"first frame (spawn -> screen drawn): {', '.join(_ms(x) + ' ms' for x in frames)};"
        f" median {_ms(frame)} ms (target <= {TARGET_FRAME_MS:g} ms)"
    )
    codes = " ".join(str(x.exit_code) for x in launches)
    quits = [x.quit_s for x in launches if not math.isnan(x.quit_s)]
    left = sorted({p for x in launches for p in x.leftovers})
    print(
        f"quit with q: exit codes {codes}; slowest {max(quits, default=math.nan):.2f} s"
        f" (limit {QUIT_TIMEOUT:g} s); leftover processes: {left or 'none'}"
    )
    if left:
        problems.append(f"processes left behind after quitting (killed): {left}")
    busiest = max((x.others for x in headless + apps if not math.isnan(x.others)), default=0.0)
    if busiest >= 20.0:
        print(
            f"note: other processes used up to {busiest:.0f}% of a core during the runs"
            f" ({os.cpu_count()} CPUs): the figures above are pessimistic"
        )
    for p in problems:
        print(f"problem: {p}")
    print(
        f"summary: live_share={share:.3f} key_p95_ms={p95:.1f} idle_cpu_pct={idle:.2f}"
        f" first_frame_ms={frame:.0f}",
        flush=True,
    )
    ok = not problems and all(x.exit_code == 0 for x in launches)
    return 0 if ok else 1
