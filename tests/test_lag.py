"""--lag: the long-lag lessons at another distance between the key and its recall."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnn_tui.cli import build_parser, make_spec
from rnn_tui.engine.longlag import line_length
from rnn_tui.engine.recall import recall_task
from rnn_tui.run.build import read_corpus


def spec_of(*argv: str):
    args = build_parser().parse_args(list(argv))
    typed = {a.lstrip("-").replace("-", "_") for a in argv if a.startswith("--")}
    return make_spec(args, typed)


@pytest.mark.parametrize("preset", ["vanishing", "lstm-rescue"])
def test_lag_sets_the_corpus_and_the_window(preset: str) -> None:
    """If this fails, --lag does not change the generated text, or the BPTT window no longer
    holds one whole line of it (the dependency would be cut by the truncation)."""
    spec = spec_of("--preset", preset, "--lag", "20")
    assert spec.lag == 20
    assert all(c.seq_len == line_length(20) == 24 for c in spec.configs)
    task = recall_task(read_corpus(spec))
    assert task is not None and task.lag == 20


def test_a_typed_window_wins_over_the_lag() -> None:
    """If this fails, --seq-len typed with --lag is silently replaced."""
    spec = spec_of("--preset", "lstm-rescue", "--lag", "30", "--seq-len", "50")
    assert {c.seq_len for c in spec.configs} == {50}
    assert recall_task(read_corpus(spec)).lag == 30


def test_without_lag_the_shipped_distance_stays() -> None:
    """If this fails, the presets no longer train on lines of 80 filler characters by default."""
    spec = spec_of("--preset", "lstm-rescue")
    assert spec.lag == 80 and {c.seq_len for c in spec.configs} == {84}


@pytest.mark.functional
def test_the_lesson_names_the_lag() -> None:
    """If this fails, the lesson line still speaks of 80 steps after --lag changed them."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            "--preset",
            "vanishing",
            "--lag",
            "12",
            "--headless",
            "--steps",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert "recall the key 12 steps back" in first, first


def test_lstm_rescue_gives_each_cell_its_own_step_unless_one_is_typed() -> None:
    """If this fails, the lesson compares the LSTM with an RNN trained at a step size that
    wrecks it (lr 0.1: no line shape left), or a typed --lr no longer wins over the preset."""
    rnn, lstm = spec_of("--preset", "lstm-rescue").configs
    assert (rnn.cell, rnn.lr, lstm.cell, lstm.lr) == ("rnn", 3e-2, "lstm", 0.1)
    assert rnn.batch == lstm.batch == 4 and lstm.forget_bias == 8.0
    typed = spec_of("--preset", "lstm-rescue", "--lr", "0.05").configs
    assert [c.lr for c in typed] == [0.05, 0.05]
