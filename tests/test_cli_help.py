"""What `rnn-tui --help` and `python -m rnn_tui.bench --help` say about defaults."""

from __future__ import annotations

import re

from rnn_tui.bench.cli import build_parser as bench_parser
from rnn_tui.cli import build_parser
from rnn_tui.engine.config import Config


def flag_help(text: str, flag: str) -> str:
    """The help of `flag` in `text` (a --help page), its wrapped lines joined."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(flag))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" " * 10) or line.strip().startswith("-"):
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def test_help_shows_real_defaults_and_no_python_placeholders() -> None:
    """If this fails, the help tells a student "(default: None)", "(default: False)" or
    "(default: )" for flags that are simply off until typed (one even contradicted its own
    "default 80"), or leaves out the numbers a flag starts from."""
    for text in (build_parser().format_help(), bench_parser().format_help()):
        joined = " ".join(text.split())
        assert not re.search(r"\(default: (None|False|True|)\)", joined), joined
    text = build_parser().format_help()
    d = Config()
    assert f"(default: {d.hidden})" in flag_help(text, "--hidden")
    assert f"(default: {d.lr})" in flag_help(text, "--lr ")
    assert f"(default: {d.seed})" in flag_help(text, "--seed")
    assert "(default: 8000)" in flag_help(text, "--port")
    lag = flag_help(text, "--lag")
    assert lag.count("default") == 1, lag  # its own "(default 80; ...)", nothing after it
