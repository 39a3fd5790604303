"""The learning-per-minute benchmark's reading of a run, and its English text."""

from __future__ import annotations

import json
import math

from rnn_tui.bench.english import english_text
from rnn_tui.bench.quality import read_outcome


def test_best_and_last_held_out_loss_come_from_the_metrics_lines(tmp_path) -> None:
    """If this fails, the benchmark reports a held-out loss the run never reached (a training
    loss, the first value, a torn line), or the wrong step for it."""
    rows = [
        {"step": 10, "val_loss": None, "val_step": None},
        {"step": 100, "val_loss": 2.5, "val_step": 100},
        {"step": 200, "val_loss": 1.75, "val_step": 200},
        {"step": 300, "val_loss": 1.9, "val_step": 300},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 31'  # a torn last line
    path = tmp_path / "m.jsonl"
    path.write_text(text)
    o = read_outcome("gru", path, 12.0)
    assert (o.cell, o.steps, o.best, o.best_step, o.last) == ("gru", 300, 1.75, 200, 1.9)


def test_a_run_without_an_evaluation_reports_nan(tmp_path) -> None:
    """If this fails, a run too short to be evaluated shows a made-up loss instead of none."""
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"step": 10, "val_loss": None}) + "\n")
    o = read_outcome("rnn", path, 1.0)
    assert math.isnan(o.best) and math.isnan(o.last) and o.steps == 10


def test_the_english_text_has_the_size_asked_for_and_is_prose() -> None:
    """If this fails, the benchmark's English corpus is shorter than asked, or is not text a
    character model can learn words from (mostly letters and spaces)."""
    text = english_text(200_000)
    assert len(text) == 200_000
    letters = sum(ch.isalpha() or ch == " " for ch in text)
    assert letters / len(text) > 0.75
    assert text == english_text(200_000)  # the same text every time
