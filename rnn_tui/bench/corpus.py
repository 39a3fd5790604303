"""Peak memory and time of loading a large corpus: `python -m rnn_tui.bench.corpus [--mb 200]`.

Writes an English-like text of the given size (ASCII words plus a few non-ASCII characters)
to a temporary directory, then loads it with `load_corpus` and scans it with `scan_vocab`,
each in a fresh child process. A child reports its peak resident memory (ru_maxrss) minus its
baseline after importing numpy and rnn_tui.engine.data, so the figure is what loading itself costs.
The file is removed afterwards. `--data-module` measures another version of the module.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

_WORD_TEXT = (
    "the of and to in is was that for it with as his on be at by had are but from or have an"
    " they which one you were her all she there would their we him been has when who will more"
    " no if out so said what up its about into than them can only other new some could time"
    " these two may then do first any my now such like our over man me even most made after"
    " also did many before must through back years where much your way well down should"
    " because each just those people how too little state good very make world still own see"
    " men work long get here between both life being under never day same another know while"
    " last might us great old year off come since against go came right used take three"
    " café naïve façade déjà-vu résumé — “quoted” ’tis"  # a few non-ASCII characters
)
WORDS = _WORD_TEXT.split()

CHILD = """
import importlib, json, resource, sys, time
import numpy as np

def peak_kib():
    # The peak resident memory of this process. ru_maxrss also counts the parent's memory at
    # the fork before exec (Linux keeps it), so the process's own high-water mark is read
    # first.
    try:
        with open("/proc/self/status") as f:
            return int(f.read().split("VmHWM:")[1].split()[0])
    except (OSError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

what, path, max_bytes, module = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = importlib.import_module(module)
base = peak_kib()
t0 = time.perf_counter()
out = {}
if what == "load":
    c = data.load_corpus(path, max_bytes=max_bytes)
    one = c.train.base is not None and c.train.base is c.val.base
    out = {"dtype": str(c.train.dtype), "one": bool(one and np.shares_memory(c.train, c.val.base))}
elif not hasattr(data, "scan_vocab"):
    print(json.dumps(None))
    sys.exit(0)
else:
    vocab, n = data.scan_vocab(path, max_bytes=max_bytes)
    out = {"vocab": vocab.size, "chars": n}
out["s"] = time.perf_counter() - t0
out["peak_kib"] = peak_kib() - base
print(json.dumps(out))
"""


def write_corpus(path: str, size: int, seed: int = 0) -> int:
    """Write about `size` bytes of random lines of WORDS to `path`; return the bytes written."""
    rng = np.random.default_rng(seed)
    blocks = []
    for _ in range(8):  # a few distinct 2 MB blocks, written in a random order
        picks = rng.integers(0, len(WORDS), 400_000)
        ends = np.where(rng.random(len(picks)) < 0.08, "\n", " ")
        text = "".join(w + e for w, e in zip((WORDS[i] for i in picks), ends, strict=True))
        blocks.append(text.encode())
    written = 0
    with open(path, "wb") as f:
        while written < size:
            block = blocks[int(rng.integers(len(blocks)))]
            if written + len(block) > size:  # the last block: cut after a newline
                block = block[: block.rfind(b"\n", 0, size - written) + 1]
                if not block:
                    break
            f.write(block)
            written += len(block)
    return written


def measure(
    what: str, path: str, max_bytes: int, module: str = "rnn_tui.engine.data"
) -> dict | None:
    """Run one measurement in a fresh child process and return what it printed."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, what, path, str(max_bytes), module],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{what} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnn_tui.bench.corpus", description=__doc__)
    parser.add_argument("--mb", type=float, default=200, help="corpus size in MB (default 200)")
    parser.add_argument(
        "--data-module",
        default="rnn_tui.engine.data",
        help="the module whose load_corpus and scan_vocab are measured (to compare another"
        " version, e.g. an older data.py copied onto PYTHONPATH)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rnn-tui-bench-") as tmp:
        path = os.path.join(tmp, "corpus.txt")
        size = write_corpus(path, int(args.mb * 1e6))
        max_bytes = max(size + 1, 256 * 2**20)
        mb = size / 1e6
        load = measure("load", path, max_bytes, args.data_module)
        scan = measure("scan", path, max_bytes, args.data_module)
    assert load is not None
    peak = load["peak_kib"] / 1e3 * 1.024
    line = f"corpus {mb:.0f} MB: load_corpus peak +{peak:.0f} MB ({peak / mb:.1f}x the file)"
    line += f", {load['s']:.1f} s; scan_vocab "
    if scan is None:
        line += "n/a"
    else:
        speak = scan["peak_kib"] / 1e3 * 1.024
        line += f"peak +{speak:.0f} MB ({speak / mb:.2f}x), {scan['s']:.1f} s"
    print(f"{line}; ids dtype {load['dtype']}, one array: {load['one']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
