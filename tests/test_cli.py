"""The command line as a user runs it: headless training, metrics, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY

FAST = ["--hidden", "32", "--seq-len", "16", "--batch", "8"]


def rnn_tui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rnn_tui", *args], capture_output=True, text=True, timeout=timeout
    )


def test_headless_trains_and_writes_metrics(tmp_path: Path) -> None:
    """If this fails, `--headless --metrics` gives no usable record of a run."""
    metrics = tmp_path / "m.jsonl"
    out = rnn_tui(str(TINY), "--headless", "--steps", "60", "--metrics", str(metrics), *FAST)
    assert out.returncode == 0, out.stderr
    assert "held-out" in out.stdout and "sample at step 60" in out.stdout
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in lines] == [10, 20, 30, 40, 50, 60]
    need = {"step", "chars", "loss", "val_loss", "chars_per_s", "grad_t", "grad_last_t"}
    assert need | {"grad_norm", "clipped"} <= set(lines[0])
    assert len(lines[0]["grad_t"]) == 16 and len(lines[-1]["grad_last_t"]) == 16


def test_save_then_load_resumes(tmp_path: Path) -> None:
    """If this fails, a saved run cannot be continued from the command line."""
    ckpt = tmp_path / "run.npz"
    first = rnn_tui(str(TINY), "--headless", "--steps", "20", "--save", str(ckpt), *FAST)
    assert first.returncode == 0, first.stderr and ckpt.exists()
    again = rnn_tui(str(TINY), "--headless", "--steps", "10", "--load", str(ckpt))
    assert again.returncode == 0, again.stderr
    assert "sample at step 30" in again.stdout


BAD_ARGS = [
    (["missing.txt", "--headless"], "no such file"),
    (["{tiny}", "--headless", "--lr", "0"], "--lr must be > 0"),
    (["{tiny}", "--headless", "--lr", "-1"], "--lr must be > 0"),
    (["{tiny}", "--headless", "--hidden", "0"], "--hidden must be between 1 and 4096"),
    (["{tiny}", "--headless", "--seq-len", "1"], "--seq-len must be between 2"),
    (["{tiny}", "--headless", "--batch", "0"], "--batch must be between 1"),
    (["{tiny}", "--headless", "--temperature", "0"], "--temperature must be > 0"),
    (["{tiny}", "--headless", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    (["{tiny}", "--headless", "--cell", "transformer"], "invalid choice: 'transformer'"),
    (["{tiny}", "--headless", "--lr", "fast"], "invalid float value: 'fast'"),
    (["{tiny}", "--headless", "--load", "nothing.npz"], "does not exist"),
    (["{tiny}", "--headless", "--batch", "4096", "--seq-len", "64"], "--batch 4096"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGS, ids=[" ".join(a[1:]) for a, _ in BAD_ARGS])
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    """If this fails, a typo gives a traceback or a wall of usage text instead of one line."""
    out = rnn_tui(*[a.replace("{tiny}", str(TINY)) for a in args])
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
        (b"zzzz", "one distinct"),
    ],
    ids=["empty", "binary", "one character"],
)
def test_bad_corpus_from_the_command_line(tmp_path: Path, content: bytes, message: str) -> None:
    """If this fails, an empty or binary file gives a traceback instead of one clear line."""
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    out = rnn_tui(str(path), "--headless")
    assert out.returncode == 2 and message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
