"""An English text of a given size for benchmarks that need real prose, made on the spot from
the documentation that ships with the Python interpreter itself (nothing is downloaded and
nothing is kept in the project): `python -m rnn_tui.bench.english OUT [--mb 1]`.

The text is the reference manual's topic pages (`pydoc_data.topics`: ~465 KB of English with
some code) followed by the docstrings of standard-library modules, in a fixed order, cut to the
size asked for. Same interpreter version, same text.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path


def _topic_pages() -> Iterator[str]:
    """The reference manual's topic pages, sorted by name."""
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield topics[name].strip() + "\n\n"


def _docstrings() -> Iterator[str]:
    """Module, class and function docstrings of the standard library's .py files, by path.
    Files are parsed, never imported."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        if "test" in path.parts[-2:] or path.name.startswith("test"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 200:  # prose, not one-line reminders
                    yield doc.strip() + "\n\n"


def english_text(chars: int) -> str:
    """The first `chars` characters of the topic pages, then the docstrings; shorter only if
    the interpreter ships less than that."""
    parts: list[str] = []
    total = 0
    for part in itertools.chain(_topic_pages(), _docstrings()):  # lazily: parse only what is used
        parts.append(part)
        total += len(part)
        if total >= chars:
            break
    return "".join(parts)[:chars]


def write_english(path: Path, mb: float = 1.0) -> int:
    """Write `mb` million characters of English to `path` (UTF-8); return how many."""
    text = english_text(int(mb * 1_000_000))
    path.write_text(text, encoding="utf-8")
    return len(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnn_tui.bench.english", description=__doc__)
    p.add_argument("out", type=Path, help="where to write the text")
    p.add_argument("--mb", type=float, default=1.0, help="millions of characters")
    args = p.parse_args(argv)
    n = write_english(args.out, args.mb)
    print(f"wrote {n:,} characters to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
