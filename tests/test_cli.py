"""The command line as a user runs it: headless training, metrics, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY

pytestmark = pytest.mark.functional

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
    assert first.returncode == 0, first.stderr
    assert ckpt.exists()
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
    (["{tiny}", "--headless", "--batch", "4096", "--seq-len", "64"], "batch 4096 x"),
    (["{tiny}", "--headless", "--hidden", "-3"], "--hidden must be between 1 and 4096"),
    (["{tiny}", "--headless", "--clip", "0"], "--clip must be > 0"),
    (["{tiny}", "--headless", "--clip-mode", "sometimes"], "invalid choice: 'sometimes'"),
    (["{tiny}", "--headless", "--init-gain", "-1"], "--init-gain must be in [0, 100]"),
    (["{tiny}", "--headless", "--temperature", "-0.5"], "--temperature must be > 0"),
    (["{tiny}", "--headless", "--top-k", "-1"], "--top-k must be >= 0"),
    (["{tiny}", "--headless", "--sample-len", "0"], "--sample-len must be between 1"),
    (["{tiny}", "--headless", "--eval-every", "0"], "--eval-every must be >= 1"),
    (["{tiny}", "--headless", "--log-every", "0"], "--log-every must be >= 1"),
    (["{tiny}", "--headless", "--steps", "-5"], "--steps must be >= 0"),
    (["{tiny}", "--headless", "--lr", "nan"], "--lr must be > 0"),
    (["{tiny}", "--headless", "--dtype", "float16"], "invalid choice: 'float16'"),
    (["{tiny}", "--headless", "--compare", "rnn"], "--compare takes two different cells"),
    (["{tiny}", "--headless", "--compare", "lstm,lstm"], "--compare takes two different cells"),
    (["{tiny}", "--headless", "--preset", "magic"], "invalid choice: 'magic'"),
    # An abbreviation would be lost under a preset or checkpoint: refused, never half-taken.
    (["{tiny}", "--headless", "--preset", "vanishing", "--hid", "64"], "unrecognized arguments"),
    (["--headless"], "give a text file to learn"),
    (["{tiny}", "--headless", "--lag", "20"], "--lag sets the long-lag corpus of --preset"),
    (["--headless", "--preset", "lstm-rescue", "--lag", "0"], "--lag must be 1..1000"),
    (["--headless", "--preset", "vanishing", "--lag", "5000"], "--lag must be 1..1000"),
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


def _checkpoint_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Bad checkpoints for --load, made on the spot: each with the message it must give."""
    import numpy as np

    good = tmp_path / "good.npz"
    made = rnn_tui(str(TINY), "--headless", "--steps", "2", "--save", str(good), *FAST)
    assert made.returncode == 0, made.stderr
    data = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 3])
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(5000))
    np.savez(
        tmp_path / "pickled.npz",
        format=np.array("rnn-tui checkpoint 1"),
        x=np.array([{1: 2}], dtype=object),
    )
    other = tmp_path / "other.txt"
    other.write_text("a completely different text, with its own letters! " * 100)
    base = [str(TINY), "--headless", "--steps", "1", "--load"]
    return {
        "missing": ([*base, str(tmp_path / "nope.npz")], "does not exist"),
        "truncated": ([*base, str(tmp_path / "truncated.npz")], "not"),
        "random bytes": ([*base, str(tmp_path / "random.npz")], "not an rnn-tui checkpoint"),
        "pickled objects": ([*base, str(tmp_path / "pickled.npz")], "pickled objects; refused"),
        "another vocabulary": (
            [str(other), "--headless", "--load", str(good)],
            "another vocabulary",
        ),
        "another cell": (
            [*base, str(good), "--cell", "gru"],
            "holds a model with cell rnn, not gru",
        ),
        "another shape": ([*base, str(good), "--hidden", "64"], "the model needs (64,"),
        "another optimizer": ([*base, str(good), "--optimizer", "adagrad"], "another optimizer"),
    }


CHECKPOINT_CASES = [
    "missing",
    "truncated",
    "random bytes",
    "pickled objects",
    "another vocabulary",
    "another cell",
    "another shape",
    "another optimizer",
]


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_bad_checkpoint_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    """If this fails, --load on a wrong or broken file gives a traceback, or runs pickled code."""
    args, message = _checkpoint_cases(tmp_path)[case]
    out = rnn_tui(*args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
