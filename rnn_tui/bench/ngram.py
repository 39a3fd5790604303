"""Time of the counting baseline on a large text: `python -m rnn_tui.bench.ngram [--mb 1]`.

Writes an English-like text of the given size (rnn_tui.bench.corpus), loads and splits it as
the trainer does, then works out the n-gram baseline (rnn_tui.engine.ngram) `--rounds` times
and prints the fastest and the slowest time (and the least CPU time, steadier on a busy
machine), the n chosen and its held-out loss.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from rnn_tui.bench.corpus import write_corpus
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.ngram import fit_ngram


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_tui.bench.ngram", description=__doc__)
    parser.add_argument("--mb", type=float, default=1.0, help="text size in MB (default 1)")
    parser.add_argument("--rounds", type=int, default=5, help="times measured (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rnn-tui-bench-") as tmp:
        path = os.path.join(tmp, "corpus.txt")
        size = write_corpus(path, int(args.mb * 1e6))
        corpus = load_corpus(path)
    times, cpu, fit = [], [], None
    for _ in range(max(1, args.rounds)):
        start, start_cpu = time.perf_counter(), time.process_time()
        fit = fit_ngram(corpus.train, corpus.val, corpus.vocab.size)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)  # steadier than the clock on a busy machine
    assert fit is not None
    print(
        f"n-gram baseline on {size / 1e6:.1f} MB ({fit.train_chars:,} training,"
        f" {fit.val_chars:,} held-out characters, V {corpus.vocab.size}):"
        f" {min(times) * 1000:.0f} ms (slowest of {len(times)}: {max(times) * 1000:.0f} ms;"
        f" CPU {min(cpu) * 1000:.0f} ms); n {fit.n}, held-out {fit.loss:.3f} nats/char"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
