"""Training throughput benchmark: `python -m rnn_tui.bench`.

Measures characters trained per second with BLAS pinned to one thread, in one run so the
numbers sit side by side:

1. the plain reference (`rnn_tui.engine.model.reference`: one stream, one-hot, float64, a Python loop)
   with min-char-rnn's inline Adagrad, at H=100, B=1, T=25;
2. the real `Trainer` (whole `step()` calls: batching, forward, backward, profile, clipping, Adam)
   for every (cell, H, B) row of `FAST_ROWS` whose cell exists in `rnn_tui.engine.model.CELLS`,
   and once in the reference's own shape (one stream, the same H and T) for a like-for-like ratio;
3. for every cell at H=128 and H=256, B=32, a matmul-only bound (`rnn_tui.bench.bound`): the
   very matrix products one `Trainer.step()` performs (W_h h_{t-1} per step, W_h^T da_t per
   step, dW_h, the readout's three), at the same shapes, layouts and dtype, on preallocated
   arrays, timed alone; nothing else. Each bound pass alternates with a real step of the same
   (cell, H, B, T); the table gives both medians and the share reached, bound time / step
   time (1 would mean everything but the products is free), in wall time and in the thread's
   CPU time, which leaves out the moments other processes held the core.

Every configuration is timed in many short rounds (~0.1 s), interleaved across configurations so
a burst of load on a shared machine hits them all alike; a configuration's rate is the median of
its rounds. The last line is
`summary: speedup_same_shape=<x> (B=1, H=100, T=25 as the reference) speedup_batched=<y>
(B=32, H=100, T=32) share_of_bound=<z>` (one line): the trainer's speed over the reference in
the reference's shape, then batched as the app trains, then the share of the matmul bound
reached by the RNN at H=256, B=32 in CPU time (every cell's, in both times, is in the table).

The configurations live in `rnn_tui.bench.timed`; the command line in `rnn_tui.bench.cli`.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnn_tui.bench.bound import StepVsBound
from rnn_tui.bench.timed import REF_SEQ_LEN, ReferenceBench, Timed, TrainerBench
from rnn_tui.engine.blas import keep_freed_memory, pin_blas_threads, subnormals_flushed_while
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, load_corpus
from rnn_tui.engine.model import CELLS
from rnn_tui.errors import UserError

# The trainer rows of the table: (cell, hidden H, batch B). A row whose cell is not in
# rnn_tui.engine.model.CELLS is skipped. The gated cells are compared with the RNN at H=128, B=32.
FAST_ROWS: tuple[tuple[str, int, int], ...] = (
    ("rnn", 100, 1),
    ("rnn", 100, 32),
    ("rnn", 256, 1),
    ("rnn", 256, 32),
    ("rnn", 512, 1),
    ("rnn", 512, 32),
    ("rnn", 128, 32),
    ("lstm", 128, 32),
    ("gru", 128, 32),
)
# The rows compared with their matmul-only bound: every cell at H=128 and H=256, B=32.
BOUND_ROWS: tuple[tuple[str, int, int], ...] = tuple(
    (cell, H, 32) for H in (128, 256) for cell in ("rnn", "lstm", "gru")
)
# --quick: the same table at tiny sizes, for the smoke test.
QUICK_ROWS: tuple[tuple[str, int, int], ...] = (
    ("rnn", 16, 1),
    ("rnn", 16, 4),
    ("rnn", 32, 1),
    ("rnn", 32, 4),
)
QUICK_BOUND_ROWS: tuple[tuple[str, int, int], ...] = (
    ("rnn", 32, 4),
    ("lstm", 16, 4),
    ("gru", 16, 4),
)

ROUND_SECONDS = 0.1  # default round length: shorter than the load bursts seen on a shared machine


@dataclass(frozen=True)
class Plan:
    """What one run measures, and for how long."""

    ref_hidden: int  # H of the reference (B is always 1, T is REF_SEQ_LEN)
    rows: tuple[tuple[str, int, int], ...]  # trainer rows (cell, H, B), before the CELLS filter
    batched_row: tuple[
        str, int, int
    ]  # the row whose rate over the reference is the batched speedup
    bound_row: tuple[str, int, int]  # the row whose share of its bound is in the summary
    bound_rows: tuple[tuple[str, int, int], ...]  # rows (cell, H, B) timed beside their bound
    seq_len: int  # T of the trainer rows and of the bound
    seconds: float  # timed seconds per configuration, summed over its rounds
    rounds: int  # interleaved timing rounds; a configuration's rate is their median
    warmup: int  # untimed steps before the rounds


def make_plan(quick: bool, seconds: float | None, rounds: int | None, seq_len: int | None) -> Plan:
    """The default plan (H 100/256/512 x B 1/32, ~2 s each) or the tiny --quick one."""
    secs = (0.2 if quick else 2.0) if seconds is None else seconds
    n_rounds = rounds or max(2, round(secs / ROUND_SECONDS))
    default_t = 8 if quick else Config().seq_len  # tiny windows for --quick
    T = default_t if seq_len is None else seq_len
    if quick:
        return Plan(
            ref_hidden=16,
            rows=QUICK_ROWS,
            batched_row=("rnn", 16, 4),
            bound_row=("rnn", 32, 4),
            bound_rows=QUICK_BOUND_ROWS,
            seq_len=T,
            seconds=secs,
            rounds=n_rounds,
            warmup=1,
        )
    return Plan(
        ref_hidden=100,
        rows=FAST_ROWS,
        batched_row=("rnn", 100, 32),
        bound_row=("rnn", 256, 32),
        bound_rows=BOUND_ROWS,
        seq_len=T,
        seconds=secs,
        rounds=n_rounds,
        warmup=3,
    )


Key = tuple[str, int, int, int]  # (cell, H, B, T) of a trainer row


def key_of(config: Config) -> Key:
    """The (cell, H, B, T) a trainer row is known by."""
    return config.cell, config.hidden, config.batch, config.seq_len


def same_shape_key(plan: Plan) -> Key:
    """The trainer row in the reference's shape: an RNN, one stream, the reference's H and T."""
    return "rnn", plan.ref_hidden, 1, REF_SEQ_LEN


def trainer_configs(plan: Plan) -> list[Config]:
    """The same-shape row first, then every row of the plan whose cell exists (no duplicates)."""
    cell, H, B, T = same_shape_key(plan)
    configs = [Config(cell=cell, hidden=H, batch=B, seq_len=T)]
    for c, H, B in plan.rows:
        config = Config(cell=c, hidden=H, batch=B, seq_len=plan.seq_len)
        if c in CELLS and key_of(config) not in map(key_of, configs):
            configs.append(config)
    return configs


# -- reporting -------------------------------------------------------------------------------


def blas_description(pinned: int) -> str:
    """Which BLAS numpy uses and with how many threads (threadpoolctl if installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            parts = [
                f"{i.get('internal_api', '?')} {i.get('version', '?')}"
                f" ({i.get('architecture') or '?'}), {i.get('num_threads', '?')} thread(s)"
                for i in libs
            ]
            return f"blas: {'; '.join(parts)} [threadpoolctl; pinned {pinned} library]"
    try:  # numpy's build information; it knows the library, not the thread count
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception:
        name = "unknown"
    return f"blas: {name}, thread count unknown (install threadpoolctl) [pinned {pinned} library]"


def _fmt_rate(x: float) -> str:
    return f"{x:>12,.0f}"


def bound_table(pairs: list[StepVsBound]) -> tuple[list[str], dict[Key, float]]:
    """Each row's bound beside its real step, in wall time and in CPU time, and what each
    bound is made of; also each row's CPU-time share, by (cell, H, B, T)."""
    lines = [
        "matmul-only bound: the step's own matrix products (forward W_h h per step, backward"
        " W_h^T da per step,",
        " dW_h, readout, dWhy, dh_out; the RNN's power iteration), same shapes, layouts and"
        " dtype, timed alone,",
        " alternated one for one with real trainer steps; share = bound ms / step ms, medians"
        " (see rnn_tui.bench.bound).",
        " CPU = this thread's CPU time, which leaves out the moments other processes held the"
        " core.",
        f"{'':<19}{'--------- wall ---------':>26}{'------ thread CPU ------':>26}",
        f"{'cell':<6}{'H':>5}{'B':>4}{'T':>4}" + f"{'bound ms':>10}{'step ms':>9}{'share':>7}" * 2,
    ]
    shares: dict[Key, float] = {}
    for pair in pairs:
        c = pair.config
        bw, sw, bc, sc = pair.medians_ms()
        shares[key_of(c)] = bc / sc
        lines.append(
            f"{c.cell:<6}{c.hidden:>5}{c.batch:>4}{c.seq_len:>4}"
            f"{bw:>10.2f}{sw:>9.2f}{bw / sw:>7.2f}{bc:>10.2f}{sc:>9.2f}{bc / sc:>7.2f}"
        )
    lines.append("per product, ms per step (mean over every timed pass, wall):")
    for pair in pairs:
        parts = ", ".join(f"{name.split()[0]} {ms:.2f}" for name, ms in pair.bound.breakdown())
        lines.append(f"  {pair.config.cell} H={pair.config.hidden}: {parts}")
    return lines, shares


def report(
    plan: Plan,
    corpus: Corpus,
    ref: ReferenceBench,
    fast: list[TrainerBench],
    pairs: list[StepVsBound],
    pinned: int,
) -> tuple[list[str], float, float, float]:
    """The printed lines, the same-shape and batched speedups over the reference, and the share
    of the bound."""
    per_round = plan.seconds / plan.rounds
    lines = [
        f"rnn_tui bench: corpus {corpus.path} ({corpus.n_chars:,} chars, V={corpus.vocab.size}),"
        f" {plan.seconds:g} s per config in {plan.rounds} interleaved rounds of {per_round:.2f} s,"
        " median round",
        blas_description(pinned),
        f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs",
        "",
        f"{'config':<34}{'chars/s':>12}{'vs ref':>9}{'IQR':>8}{'with evals':>13}",
    ]
    lines.append(f"{ref.label:<34}{_fmt_rate(ref.rate)}{1.0:>8.2f}x{ref.spread:>7.0%}{'-':>13}")
    for f in fast:
        ratio = f.rate / ref.rate
        lines.append(
            f"{f.label:<34}{_fmt_rate(f.rate)}{ratio:>8.2f}x{f.spread:>7.0%}"
            f"{f.rate_with_eval:>13,.0f}"
        )
    every = fast[0].config.eval_every if fast else Config().eval_every
    lines.append(
        "(IQR: interquartile range of the round rates / median. chars/s leaves out the steps"
    )
    lines.append(
        f" that ran the held-out evaluation; 'with evals' adds one every {every} steps, as the app does)"
    )
    lines.append("")
    by_key = {key_of(f.config): f for f in fast}
    table, shares = bound_table(pairs)
    lines += table
    share = shares[(*plan.bound_row, plan.seq_len)]
    same, batched = by_key[same_shape_key(plan)], by_key[(*plan.batched_row, plan.seq_len)]
    same_x, batched_x = same.rate / ref.rate, batched.rate / ref.rate
    lines.append(
        f"speedup over the reference: {same_x:.2f}x like for like ({same.label}: one stream,"
        f" the reference's H and T), {batched_x:.2f}x batched ({batched.label})"
    )
    _, H, _, T = same_shape_key(plan)
    _, bH, bB = plan.batched_row
    lines.append(
        f"summary: speedup_same_shape={same_x:.2f} (B=1, H={H}, T={T} as the reference)"
        f" speedup_batched={batched_x:.2f} (B={bB}, H={bH}, T={plan.seq_len})"
        f" share_of_bound={share:.2f}"
    )
    return lines, same_x, batched_x, share


def run_train(plan: Plan, corpus_path: Path) -> int:
    """Measure everything in `plan`, print the table; the summary is the last line."""
    pinned = pin_blas_threads(1)  # before any timing: one BLAS thread, as the trainer uses
    keep_freed_memory()  # and the allocator tuning of the processes that train
    with subnormals_flushed_while():  # and their arithmetic: subnormals read and written as 0
        return _run_train(plan, corpus_path, pinned)


def _run_train(plan: Plan, corpus_path: Path, pinned: int) -> int:
    try:
        corpus = load_corpus(corpus_path)
        ref = ReferenceBench(corpus, plan.ref_hidden)
        fast = [TrainerBench(corpus, config) for config in trainer_configs(plan)]
        pairs = [
            StepVsBound(corpus, Config(cell=c, hidden=H, batch=B, seq_len=plan.seq_len))
            for c, H, B in plan.bound_rows
            if c in CELLS
        ]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    items: list[Timed] = [ref, *fast, *pairs]
    for item in items:
        item.warm(plan.warmup)
    per_round = plan.seconds / plan.rounds
    for r in range(plan.rounds):
        k = r % len(items)  # rotate the order, so no configuration always runs first
        for item in items[k:] + items[:k]:
            item.round(per_round)
    for f in fast:
        f.measure_eval()
    lines, *_ = report(plan, corpus, ref, fast, pairs, pinned)
    print("\n".join(lines), flush=True)
    return 0
