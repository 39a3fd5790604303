"""How long the probe takes: `python -m rnn_tui.bench probe`.

The probe pane recomputes everything whenever new weights arrive: surprisal and top-5 for every
character of its text (one forward pass and one readout) and the looking-back profile of the
character under the cursor (one forward and one backward pass through the steps before it).
This times both, for each cell, on a passage of the corpus, with BLAS on one thread as the
trainer has it. Times are medians of many calls, in milliseconds, wall time (what a user
waits), and for the whole recomputation also this thread's CPU time (what the code costs,
whatever else the machine runs); the last line is `summary: probe_ms <cell>=<ms> ...`, wall
time of the whole recomputation at the target size.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from rnn_tui.engine.blas import pin_blas_threads
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.probe import looking_back, probe, probe_model

CELLS = ("rnn", "lstm", "gru")
TARGET = (500, 128)  # (characters, H): a recomputation must take under 30 ms here
SIZES = ((500, 128), (500, 256), (2000, 128))
QUICK_SIZES = ((100, 16),)


def _median_ms(fn, seconds: float) -> tuple[float, float]:  # noqa: ANN001 - a thunk
    """The median wall time and the median CPU time of this thread of `fn()`, in ms, over as
    many calls as fit in `seconds` (>= 5). CPU time leaves out the moments other processes
    held the core: on a busy machine it says what the code costs, wall time what a user waits."""
    wall, cpu = [], []
    end = time.perf_counter() + seconds
    while len(wall) < 5 or time.perf_counter() < end:
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def _both(pm, text: str, j: int) -> None:  # noqa: ANN001 - a ProbeModel
    """What the pane does when new weights arrive: probe the text, then look back from j,
    reusing the probe's forward pass."""
    result = probe(pm, text)
    looking_back(pm, result.ids, j, result.trace)


def run_probe_bench(corpus_path: Path, seconds: float | None = None, quick: bool = False) -> int:
    """Print one line per (cell, N, H): forward + top-5, looking back, both; then the summary."""
    pin_blas_threads(1)
    corpus = load_corpus(corpus_path)
    chars = corpus.vocab.chars
    passage = "".join(chars[i] for i in corpus.val[:2000])  # held-out text, as the pane loads
    per = seconds if seconds is not None else (0.05 if quick else 1.0)
    sizes = QUICK_SIZES if quick else SIZES
    print(f"probe timings, ms (median), BLAS 1 thread, {platform.processor() or 'cpu'}")
    print(
        f"{'cell':<5} {'chars':>5} {'H':>4} {'surprisal+top5':>15} {'looking back':>13} {'both':>7}"
        f" {'both, CPU':>10}"
    )
    summary = {}
    for n, hidden in sizes:
        for name in CELLS:
            config = Config(cell=name, hidden=hidden)
            cell = make_cell(name, len(chars), hidden, config.dtype)
            pm = probe_model(cell.init_params(np.random.default_rng(0)), config, chars)
            sample = passage[:n]
            result = probe(pm, sample)
            j = int(np.flatnonzero(result.scored)[-1])  # the cursor at the end: the longest path
            fwd, _ = _median_ms(lambda pm=pm, s=sample: probe(pm, s), per)
            back, _ = _median_ms(
                lambda pm=pm, r=result, j=j: looking_back(pm, r.ids, j, r.trace), per
            )
            both, both_cpu = _median_ms(lambda pm=pm, s=sample, j=j: _both(pm, s, j), per)
            print(
                f"{name:<5} {n:>5} {hidden:>4} {fwd:>15.1f} {back:>13.1f} {both:>7.1f}"
                f" {both_cpu:>10.1f}"
            )
            if (n, hidden) == TARGET or quick:
                summary[name] = both
    print("summary: probe_ms " + " ".join(f"{k}={v:.1f}" for k, v in summary.items()))
    return 0
