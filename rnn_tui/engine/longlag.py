"""A synthetic corpus with one long-range dependency per line: `python -m rnn_tui.engine.longlag`.

Each line is a key, a run of filler, '=' and the key again:

    C....................................................................................=C

Everything on a line is predictable except the first key, and the key after '=' can only be
predicted by remembering the first one across L steps of filler. A vanilla RNN's gradient
fades long before it gets there; an LSTM's does not. Train with `--seq-len L+4 --reset-at
'\\n'` so that one BPTT window holds exactly one line, as the `vanishing` and `lstm-rescue`
presets do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

KEYS = "ABCDEFGH"  # the values to remember: 8, so a guess is right one time in eight
FILLER = "."  # what stands between the key and its recall
DEFAULT_LAG = 80  # filler characters per line
DEFAULT_LINES = 600  # lines in the shipped file: ~50 KB


def make_lines(n_lines: int, lag: int = DEFAULT_LAG, seed: int = 0, keys: str = KEYS) -> str:
    """`n_lines` lines of `key + FILLER * lag + '=' + key`, each ending with a newline."""
    import numpy as np  # here only: the command line reads this module before the first frame

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), n_lines)
    filler = FILLER * lag
    return "".join(f"{keys[k]}{filler}={keys[k]}\n" for k in picks)


def line_length(lag: int = DEFAULT_LAG) -> int:
    """Characters per line, newline included: key, filler, '=', key, newline."""
    return lag + 4


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m rnn_tui.engine.longlag", description=__doc__.split("\n")[0]
    )
    p.add_argument("--lag", type=int, default=DEFAULT_LAG, help="filler characters per line")
    p.add_argument("--lines", type=int, default=DEFAULT_LINES, help="lines to write")
    p.add_argument("--seed", type=int, default=0, help="random seed for the keys")
    p.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    args = p.parse_args(argv)
    if args.lag < 1 or args.lines < 1:
        print("rnn-tui longlag: --lag and --lines must be >= 1", file=sys.stderr)
        return 2
    text = make_lines(args.lines, args.lag, args.seed)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="ascii")
        print(f"wrote {args.out}: {args.lines} lines, lag {args.lag}, {len(text):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
