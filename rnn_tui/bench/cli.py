"""The command line of the benchmarks: `python -m rnn_tui.bench [train|app|soak] ...`.

"train" (the default) measures training throughput (`rnn_tui.bench.train`); "app" runs the real
program in a pseudo-terminal (`rnn_tui.bench.app`); "soak" follows the app's memory for
`--minutes` (`rnn_tui.bench.soak`); "probe" times the probe's recomputation per cell
(`rnn_tui.bench.probe`); "quality" trains each cell with its defaults for `--minutes` and prints
the held-out loss reached (`rnn_tui.bench.quality`); "attach" publishes a headless run and
attaches 0 to 8 viewers (`rnn_tui.bench.attach`). All but "train" are imported only when asked
for.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import rnn_tui
from rnn_tui.bench.train import make_plan, run_train
from rnn_tui.engine.config import Config

DEFAULT_CORPUS = Path(rnn_tui.__file__).resolve().parent.parent / "corpora" / "tiny.txt"


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
    )
    p.add_argument(
        "mode",
        nargs="?",
        default="train",
        choices=("train", "app", "soak", "probe", "quality", "attach"),
        help="what to benchmark (default: %(default)s)",
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
        "--minutes",
        type=_positive(float),
        help="soak: minutes of sampling (default 30, quick 0.1);"
        " quality: minutes of training per cell (default 5, quick 0.1)",
    )
    p.add_argument(
        "--rounds",
        type=_positive(int),
        help="interleaved timing rounds (train: default ~0.1 s each; app: default 2)",
    )
    p.add_argument(
        "--seq-len",
        type=int,
        help=f"BPTT window T of the trainer and the bound (default {Config().seq_len}, quick 8)",
    )
    p.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="UTF-8 text to train on (default: %(default)s)",
    )
    return p


def _run_app(args: argparse.Namespace) -> int:
    """The live-app benchmark (imported only when asked for: it starts processes)."""
    from rnn_tui.bench.app import run_app_bench

    return run_app_bench(
        args.corpus, seconds=args.seconds, keys=args.keys, quick=args.quick, rounds=args.rounds
    )


def _run_soak(args: argparse.Namespace) -> int:
    """The memory soak of the live app (imported only when asked for: it starts processes)."""
    from rnn_tui.bench.soak import run_soak_bench

    return run_soak_bench(args.corpus, minutes=args.minutes, quick=args.quick)


def _run_probe(args: argparse.Namespace) -> int:
    """How long the probe's recomputation takes, per cell."""
    from rnn_tui.bench.probe import run_probe_bench

    return run_probe_bench(args.corpus, seconds=args.seconds, quick=args.quick)


def _run_quality(args: argparse.Namespace) -> int:
    """Learning per minute: each cell trained with its defaults (starts processes)."""
    from rnn_tui.bench.quality import run_quality_bench

    return run_quality_bench(args.corpus, minutes=args.minutes, quick=args.quick)


def _run_attach(args: argparse.Namespace) -> int:
    """A headless run with --listen and 0, 1, 2, 4, 8 attached viewers."""
    from rnn_tui.bench.attach import run_attach_bench

    return run_attach_bench(args.corpus, seconds=args.seconds, quick=args.quick)


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
        "probe": lambda: _run_probe(args),
        "quality": lambda: _run_quality(args),
        "attach": lambda: _run_attach(args),
    }
    return modes[args.mode]()
