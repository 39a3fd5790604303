"""Training throughput benchmark: `python -m rnn_tui.bench`.

Measures characters trained per second with BLAS pinned to one thread, in one run so the
numbers sit side by side:

1. the plain reference (`rnn_tui.engine.model.reference`: one stream, one-hot, float64, a Python loop)
   with min-char-rnn's inline Adagrad, at H=100, B=1, T=25;
2. the real `Trainer` (whole `step()` calls: batching, forward, backward, profile, clipping, Adam)
   for every (cell, H, B) row of `FAST_ROWS` whose cell exists in `rnn_tui.engine.model.CELLS`;
3. a matmul-only bound: the matrix products one `RNN.loss_and_grads(profile=True)` step performs,
   at the same shapes and dtype, on preallocated arrays; nothing else.

Every configuration is timed in many short rounds (~0.1 s), interleaved across configurations so
a burst of load on a shared machine hits them all alike; a configuration's rate is the median of
its rounds. The last line is `summary: speedup_vs_reference=<x> share_of_bound=<y>`.

A `mode` positional picks the benchmark: "train" (the default) is the above; "app" runs the real
program in a pseudo-terminal (live throughput vs headless, key latency, idle CPU, first frame,
clean quit): see `rnn_tui.bench.app`; "soak" leaves the real app training with every pane live
for `--minutes` and follows the resident memory of the app and its worker: see
`rnn_tui.bench.soak`.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import rnn_tui
from rnn_tui.engine.blas import keep_freed_memory, pin_blas_threads
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, load_corpus
from rnn_tui.engine.model import CELLS, reference
from rnn_tui.engine.model.rnn import RNN
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError

DEFAULT_CORPUS = Path(rnn_tui.__file__).resolve().parent.parent / "corpora" / "tiny.txt"

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
# --quick: the same table at tiny sizes, for the smoke test.
QUICK_ROWS: tuple[tuple[str, int, int], ...] = (
    ("rnn", 16, 1),
    ("rnn", 16, 4),
    ("rnn", 32, 1),
    ("rnn", 32, 4),
)

REF_SEQ_LEN = 25  # min-char-rnn's window
REF_LR = 0.1  # min-char-rnn's Adagrad learning rate
REF_CLIP = 5.0  # min-char-rnn clips every gradient entry to [-5, 5]
ROUND_SECONDS = 0.1  # default round length: shorter than the load bursts seen on a shared machine


@dataclass(frozen=True)
class Plan:
    """What one run measures, and for how long."""

    ref_hidden: int  # H of the reference (B is always 1)
    rows: tuple[tuple[str, int, int], ...]  # trainer rows (cell, H, B), before the CELLS filter
    speedup_row: tuple[str, int, int]  # the row whose rate over the reference is the speedup
    bound_row: tuple[str, int, int]  # the row compared with the matmul bound (same H, B)
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
            speedup_row=("rnn", 16, 4),
            bound_row=("rnn", 32, 4),
            seq_len=T,
            seconds=secs,
            rounds=n_rounds,
            warmup=1,
        )
    return Plan(
        ref_hidden=100,
        rows=FAST_ROWS,
        speedup_row=("rnn", 100, 32),
        bound_row=("rnn", 256, 32),
        seq_len=T,
        seconds=secs,
        rounds=n_rounds,
        warmup=3,
    )


# -- what is timed ---------------------------------------------------------------------------


@dataclass
class Timed:
    """One configuration: a label, its per-round rates, and how to run it for a while."""

    label: str
    rates: list[float] = field(default_factory=list)  # chars/s of each round

    def warm(self, steps: int) -> None:
        """Untimed steps: first-touch allocations, caches, lazy imports."""
        raise NotImplementedError

    def run(self, seconds: float) -> tuple[int, float]:
        """Train (or multiply) for about `seconds`; return (chars, timed seconds)."""
        raise NotImplementedError

    def round(self, seconds: float) -> None:
        """Run one timing round and keep its rate."""
        chars, dt = self.run(seconds)
        if dt > 0 and chars > 0:
            self.rates.append(chars / dt)

    @property
    def rate(self) -> float:
        """Median chars/s over the rounds (NaN before any round)."""
        return statistics.median(self.rates) if self.rates else float("nan")

    @property
    def spread(self) -> float:
        """Interquartile range / median of the round rates: how noisy this configuration was."""
        if len(self.rates) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.rates, n=4, method="inclusive")
        return (q3 - q1) / self.rate


class ReferenceBench(Timed):
    """The plain reference model trained the min-char-rnn way: one stream, float64, Adagrad."""

    def __init__(self, corpus: Corpus, hidden: int, seed: int = 1234) -> None:
        super().__init__(f"reference H={hidden} B=1 T={REF_SEQ_LEN} float64")
        model = RNN(corpus.vocab.size, hidden, "float64")  # only for its parameter shapes and init
        self.params = model.init_params(np.random.default_rng(seed))
        self.mem = {k: np.zeros_like(v) for k, v in self.params.items()}  # Adagrad memory
        self.data: list[int] = corpus.train.tolist()  # min-char-rnn reads ids from a list
        if len(self.data) < REF_SEQ_LEN + 2:
            raise UserError(
                f"corpus {corpus.path} has {len(self.data)} training characters; the reference"
                f" needs {REF_SEQ_LEN + 2}"
            )
        self.hidden = hidden
        self.hprev = np.zeros((hidden, 1))
        self.p = 0  # position of the next window

    def _step(self) -> int:
        """One window: loss and gradients, clip each entry, Adagrad update. Returns chars."""
        T = REF_SEQ_LEN
        if self.p + T + 1 >= len(self.data):  # end of the text: start over with a zero state
            self.p = 0
            self.hprev = np.zeros((self.hidden, 1))
        inputs = self.data[self.p : self.p + T]
        targets = self.data[self.p + 1 : self.p + T + 1]
        _, grads, self.hprev = reference.loss_and_grads(self.params, inputs, targets, self.hprev)
        for k, param in self.params.items():
            dparam, mem = grads[k], self.mem[k]
            np.clip(dparam, -REF_CLIP, REF_CLIP, out=dparam)  # mitigate exploding gradients
            mem += dparam * dparam
            param += -REF_LR * dparam / np.sqrt(mem + 1e-8)  # Adagrad update
        self.p += T
        return T

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._step()

    def run(self, seconds: float) -> tuple[int, float]:
        chars = 0
        t0 = time.perf_counter()
        while True:
            chars += self._step()
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return chars, dt


class TrainerBench(Timed):
    """The real `Trainer`, timed over whole `step()` calls.

    A step that also ran the periodic held-out evaluation is left out of the rates (the reference
    does no evaluation); its cost is measured apart, by `eval_seconds`, and shown amortized.
    """

    def __init__(self, corpus: Corpus, config: Config) -> None:
        c = config
        super().__init__(f"{c.cell} H={c.hidden} B={c.batch} T={c.seq_len} {c.dtype}")
        self.config = config
        self.trainer = Trainer(corpus, config)
        self.eval_steps = 0  # timed steps skipped because they evaluated
        self.eval_seconds: float | None = None  # one `evaluate()` call, if measured

    def _step(self) -> tuple[int, float, bool]:
        """One `trainer.step()`: (chars, seconds, whether it evaluated)."""
        if self.trainer.diverged:  # a diverged trainer refuses to step: start over, untimed
            self.trainer.reset()
        t0 = time.perf_counter()
        rec = self.trainer.step()
        dt = time.perf_counter() - t0
        return self.config.batch * self.config.seq_len, dt, rec.val_step == rec.step

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._step()

    def run(self, seconds: float) -> tuple[int, float]:
        chars, timed = 0, 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            n, dt, evaluated = self._step()
            if evaluated:
                self.eval_steps += 1
                continue
            chars += n
            timed += dt
        return chars, timed

    def measure_eval(self) -> None:
        """Time one held-out evaluation, as `step()` runs it every `eval_every` steps."""
        t0 = time.perf_counter()
        self.trainer.evaluate()
        self.eval_seconds = time.perf_counter() - t0

    @property
    def rate_with_eval(self) -> float:
        """chars/s with the evaluation's cost spread over its `eval_every` steps."""
        if self.eval_seconds is None:
            return self.rate
        chars = self.config.batch * self.config.seq_len
        per_step = chars / self.rate + self.eval_seconds / self.config.eval_every
        return chars / per_step


class MatmulBound(Timed):
    """Only the matrix products of one `RNN.loss_and_grads(profile=True)` step, nothing else.

    Shapes and operand layouts follow rnn.py; every array is preallocated and random, and every
    product writes into a preallocated output. Readout and dh_out are timed as single 2-D
    products, (B*T, H)@(H, V) and (B*T, V)@(V, H): the ideal form of what rnn.py computes.
    """

    def __init__(self, H: int, B: int, T: int, V: int, dtype: str, seed: int = 0) -> None:
        super().__init__(f"matmul bound rnn H={H} B={B} T={T} {dtype}")
        self.B, self.T = B, T
        rng = np.random.default_rng(seed)

        def rand(*shape: int) -> np.ndarray:
            return rng.standard_normal(shape).astype(dtype)

        self.Whh, self.Why = rand(H, H), rand(V, H)
        self.hs = rand(B, T + 1, H)  # hidden states, laid out as rnn.py's `hs`
        self.h2 = rand(B * T, H)  # h_out (and h_{t-1}) flattened to B*T rows
        self.d2 = rand(B * T, V)  # dlogits flattened to B*T rows
        self.dz = rand(2 * B, H)  # the stacked (total, last-step) gradient rows
        self.dz2 = rand(B * T, H)  # pre-activation gradients of every step
        self.z = np.empty((B, H), dtype)
        self.logits = np.empty((B * T, V), dtype)
        self.dWhy = np.empty((V, H), dtype)
        self.dh_out = np.empty((B * T, H), dtype)
        self.dh = np.empty((2 * B, H), dtype)
        self.dWhh = np.empty((H, H), dtype)
        mm = np.matmul
        self.groups: list[tuple[str, Callable[[], None]]] = [
            (f"forward   {T} x ({B},{H})@({H},{H})", self._forward),
            (f"readout   ({B * T},{H})@({H},{V})", lambda: mm(self.h2, self.Why.T, self.logits)),
            (f"dWhy      ({V},{B * T})@({B * T},{H})", lambda: mm(self.d2.T, self.h2, self.dWhy)),
            (f"dh_out    ({B * T},{V})@({V},{H})", lambda: mm(self.d2, self.Why, self.dh_out)),
            (f"backward  {T} x ({2 * B},{H})@({H},{H})", self._backward),
            (f"dWhh      ({H},{B * T})@({B * T},{H})", lambda: mm(self.dz2.T, self.h2, self.dWhh)),
        ]
        self.group_seconds = [0.0] * len(self.groups)  # summed over every timed call
        self.calls = 0  # timed passes over all groups

    def _forward(self) -> None:
        """T products h_{t-1} @ Whh.T, each (B, H)@(H, H), on strided rows of `hs` as rnn.py."""
        WhhT = self.Whh.T
        for t in range(self.T):
            np.matmul(self.hs[:, t], WhhT, out=self.z)

    def _backward(self) -> None:
        """T products dz @ Whh, each (2B, H)@(H, H): both gradients moved back in one product."""
        for _ in range(self.T):
            np.matmul(self.dz, self.Whh, out=self.dh)

    def _pass(self, record: bool) -> float:
        """All the products of one step once; return their seconds (timed product by product)."""
        total = 0.0
        for i, (_, fn) in enumerate(self.groups):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            total += dt
            if record:
                self.group_seconds[i] += dt
        return total

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._pass(record=False)

    def run(self, seconds: float) -> tuple[int, float]:
        chars, timed = 0, 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            timed += self._pass(record=True)
            chars += self.B * self.T  # one step's worth of characters
            self.calls += 1
        return chars, timed

    def breakdown(self) -> list[tuple[str, float]]:
        """(product, mean milliseconds per step over every timed pass) for each group."""
        n = max(self.calls, 1)
        return [
            (name, s / n * 1e3)
            for (name, _), s in zip(self.groups, self.group_seconds, strict=True)
        ]


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


def report(
    plan: Plan,
    corpus: Corpus,
    ref: ReferenceBench,
    fast: list[TrainerBench],
    bound: MatmulBound,
    pinned: int,
) -> tuple[list[str], float, float]:
    """The printed lines, the speedup over the reference, and the share of the bound."""
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
    step_ms = bound.B * bound.T / bound.rate * 1e3
    lines.append(
        f"{bound.label}: {step_ms:.2f} ms of matmuls per step -> {bound.rate:,.0f} chars/s"
    )
    lines.append("  per product (mean over every timed pass, so the sum can exceed the median):")
    for name, ms in bound.breakdown():
        lines.append(f"  {name:<38}{ms:>8.3f} ms")
    by_key = {(f.config.cell, f.config.hidden, f.config.batch): f for f in fast}
    target = by_key[plan.bound_row]
    share = target.rate / bound.rate
    fast_ms = target.config.batch * plan.seq_len / target.rate * 1e3
    lines.append(
        f"{target.label}: {fast_ms:.2f} ms per step, {target.rate:,.0f} chars/s"
        f" = {share:.2f} of the bound ({fast_ms - step_ms:.2f} ms per step more than the bound)"
    )
    speedup = by_key[plan.speedup_row].rate / ref.rate
    lines.append(f"summary: speedup_vs_reference={speedup:.2f} share_of_bound={share:.2f}")
    return lines, speedup, share


# -- command line ----------------------------------------------------------------------------


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a finite number > 0 of `kind`, or a one-line usage error."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """`python -m rnn_tui.bench [train] [--quick] [--seconds S] [--corpus PATH] ...`."""
    p = argparse.ArgumentParser(
        prog="python -m rnn_tui.bench",
        description="Training throughput (chars/s) of the reference, the trainer and a matmul bound.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "mode",
        nargs="?",
        default="train",
        choices=("train", "app", "soak"),
        help="what to benchmark",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes and short timings (smoke)")
    p.add_argument(
        "--seconds",
        type=_positive(float),
        help="timed seconds per configuration (train: default 2, quick 0.2);"
        " training seconds per run (app: default 20, quick 2)",
    )
    p.add_argument(
        "--keys", type=_positive(int), help="app: key presses timed (default 60, quick 8)"
    )
    p.add_argument(
        "--minutes", type=_positive(float), help="soak: minutes of sampling (default 30, quick 0.3)"
    )
    p.add_argument(
        "--rounds", type=_positive(int), help="interleaved timing rounds (default: ~0.1 s each)"
    )
    p.add_argument("--seq-len", type=int, help="BPTT window T of the trainer and the bound")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="UTF-8 text to train on")
    return p


def run_train(plan: Plan, corpus_path: Path) -> int:
    """Measure everything in `plan`, print the table; the summary is the last line."""
    pinned = pin_blas_threads(1)  # before any timing: one BLAS thread, as the trainer uses
    keep_freed_memory()  # and the allocator tuning of the processes that train
    try:
        corpus = load_corpus(corpus_path)
        ref = ReferenceBench(corpus, plan.ref_hidden)
        rows = [r for r in plan.rows if r[0] in CELLS]  # cells that exist today
        fast = [
            TrainerBench(corpus, Config(cell=c, hidden=H, batch=B, seq_len=plan.seq_len))
            for c, H, B in rows
        ]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _, H, B = plan.bound_row
    bound = MatmulBound(H, B, plan.seq_len, corpus.vocab.size, Config().dtype)
    items: list[Timed] = [ref, *fast, bound]
    for item in items:
        item.warm(plan.warmup)
    per_round = plan.seconds / plan.rounds
    for r in range(plan.rounds):
        k = r % len(items)  # rotate the order, so no configuration always runs first
        for item in items[k:] + items[:k]:
            item.round(per_round)
    for f in fast:
        f.measure_eval()
    lines, _, _ = report(plan, corpus, ref, fast, bound, pinned)
    print("\n".join(lines), flush=True)
    return 0


def _run_app(args: argparse.Namespace) -> int:
    """The live-app benchmark (imported only when asked for: it starts processes)."""
    from rnn_tui.bench.app import run_app_bench

    return run_app_bench(args.corpus, seconds=args.seconds, keys=args.keys, quick=args.quick)


def _run_soak(args: argparse.Namespace) -> int:
    """The memory soak of the live app (imported only when asked for: it starts processes)."""
    from rnn_tui.bench.soak import run_soak_bench

    return run_soak_bench(args.corpus, minutes=args.minutes, quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the chosen benchmark; return the exit code."""
    args = build_parser().parse_args(argv)
    if not args.corpus.is_file():
        print(f"error: corpus {args.corpus} not found (give one with --corpus)", file=sys.stderr)
        return 2
    modes: dict[str, Callable[[], int]] = {
        "train": lambda: run_train(
            make_plan(args.quick, args.seconds, args.rounds, args.seq_len), args.corpus
        ),
        "app": lambda: _run_app(args),
        "soak": lambda: _run_soak(args),
    }
    return modes[args.mode]()


if __name__ == "__main__":
    sys.exit(main())
