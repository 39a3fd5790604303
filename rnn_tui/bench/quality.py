"""Learning per minute: `python -m rnn_tui.bench quality --corpus FILE --minutes M`.

Trains each cell with its own defaults (`rnn-tui FILE --headless --cell C --seconds 60*M`), one
cell at a time so they do not share the cores, and prints the best and the last held-out loss
each reached, in nats and in bits per character, with the steps it took and when the best came,
the CPU seconds the run got and the load average as it ended: on a shared machine a run under
load takes fewer steps in its minutes, and reaches less.
The held-out loss is the trainer's own evaluation (`Config.eval_chars` characters of the last
`val_fraction` of the text every `eval_every` steps), read from the run's metrics lines.

A 1 MB English text to run it on: `python -m rnn_tui.bench.english /tmp/english.txt`. The last
line is `summary: best_val_bits rnn=<x> lstm=<y> gru=<z>`.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rnn_tui.engine.model import LN2

CELLS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class Outcome:
    """What one cell reached in its time."""

    cell: str
    steps: int  # training steps taken
    seconds: float  # wall time of the whole run, start-up included
    best: float  # lowest held-out loss, nats/char (NaN if none was measured)
    best_step: int  # the step it was measured at
    last: float  # the last held-out loss, nats/char
    cpu: float = math.nan  # CPU seconds the run got (user + system): under load, fewer steps


def read_outcome(cell: str, metrics: Path, seconds: float) -> Outcome:
    """The held-out losses in a run's metrics lines (torn or foreign lines are skipped)."""
    best, best_step, last, steps = math.nan, 0, math.nan, 0
    for line in metrics.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        steps = max(steps, int(row.get("step") or 0))
        val = row.get("val_loss")
        if val is None:
            continue
        last = float(val)
        if not last >= best:  # also true while best is NaN
            best, best_step = last, int(row.get("val_step") or row["step"])
    return Outcome(cell, steps, seconds, best, best_step, last)


def train_cell(corpus: Path, cell: str, seconds: float, workdir: Path) -> Outcome:
    """One headless run of `cell` with its defaults for `seconds` of training."""
    metrics = workdir / f"{cell}.jsonl"
    cmd = [sys.executable, "-m", "rnn_tui", str(corpus), "--headless", "--cell", cell]
    cmd += ["--seconds", str(seconds), "--metrics", str(metrics)]
    t0, used0 = time.monotonic(), _children_cpu()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall, cpu = time.monotonic() - t0, _children_cpu() - used0
    if done.returncode != 0:
        raise RuntimeError(f"{cell}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return replace(read_outcome(cell, metrics, wall), cpu=cpu)


def _children_cpu() -> float:
    """CPU seconds used so far by the finished child processes (user + system)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _row(o: Outcome) -> str:
    bits = o.best / LN2
    return (
        f"{o.cell:<5} {o.steps:>7,} {o.best:>10.3f} {bits:>9.3f} {o.best_step:>9,}"
        f" {o.last:>10.3f} {o.seconds:>7.1f} {o.cpu:>6.1f} {_load()}"
    )


def _load() -> str:
    """The 1-minute load average now: a shared machine's runs get fewer steps under load."""
    return f"{os.getloadavg()[0]:.2f}"


def run_quality_bench(corpus: Path, minutes: float | None, quick: bool = False) -> int:
    """Print one line per cell, then the summary; exit 1 if a run failed."""
    minutes = minutes if minutes is not None else (0.1 if quick else 5.0)
    seconds = 60 * minutes
    size = corpus.stat().st_size
    print(
        f"learning per minute: {corpus} ({size:,} bytes), {minutes:g} min per cell, one at a time"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'cell':<5} {'steps':>7} {'best nats':>10} {'best bits':>9} {'at step':>9}"
        f" {'last nats':>10} {'wall s':>7} {'cpu s':>6} load at end"
    )
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="rnn-tui-quality-") as tmp:
        for cell in CELLS:
            try:
                o = train_cell(corpus, cell, seconds, Path(tmp))
            except RuntimeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            outcomes.append(o)
            print(_row(o), flush=True)
    print("summary: best_val_bits " + " ".join(f"{o.cell}={o.best / LN2:.3f}" for o in outcomes))
    return 0
