"""Readings from /proc for the benchmarks that run the real app: process trees, CPU time per
process and for the whole machine, session members. Linux only; standard library only.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

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
    """A short name for a process of a tree: `root_role` for the root, worker for a trainer
    (`python -m rnn_tui.run.spawned`, or multiprocessing's spawned child), else its command
    name."""
    if pid == root:
        return root_role
    cmd = _cmdline(pid)
    if cmd is None:
        return "gone"
    if "resource_tracker" in cmd:
        return "resource_tracker"
    if "spawn_main" in cmd or "rnn_tui.run.spawned" in cmd:  # multiprocessing's or our own
        return "worker"
    return Path(cmd.split(" ", 1)[0]).name or "?"


def _cmdline(pid: int) -> str | None:
    """The command line of `pid`, its arguments joined by spaces; None if it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


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


def cpu_text(cpu: dict[str, float]) -> str:
    """e.g. "ui 31% worker 97%": roles under half a percent left out."""
    if not cpu:
        return "-"
    return " ".join(f"{role} {pct:.0f}%" for role, pct in sorted(cpu.items()) if pct >= 0.5) or "0%"
