"""The counting baseline and the long-lag floors: drawn on the loss chart where their values are,
sent by the trainer loop in its snapshots, written in the metrics and printed by headless runs."""

from __future__ import annotations

import io
import json
import math
import queue
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY
from rich.text import Text

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import corpus_from_text, load_corpus
from rnn_tui.engine.longlag import make_lines
from rnn_tui.engine.ngram import fit_ngram
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run.headless import HeadlessPlan, run_headless_cli
from rnn_tui.run.protocol import Baselines
from rnn_tui.run.worker import TrainerLoop
from rnn_tui.ui.widgets.colours import DARK
from rnn_tui.ui.widgets.loss_chart import LossChart, log_ticks

FORGETS, RECALLS = 2 * math.log(8) / 84, math.log(8) / 84  # lag 80, 8 keys


def tick_rows(lines: list[str]) -> dict[float, int]:
    """The chart's y ticks: value -> row, read off the labels left of the axis."""
    ticks = {}
    for row, line in enumerate(lines):
        label = line.split("┤")[0].strip() if "┤" in line else ""
        if label:
            ticks[float(label)] = row
    return ticks


def axis_row(ticks: dict[float, int], value: float, log: bool) -> float:
    """The row the y axis gives `value`: a straight line through the tick rows (fitted by least
    squares, as each tick's row is rounded), in log10 of the value on a log axis."""
    at = np.array([math.log10(v) if log else v for v in ticks])
    slope, offset = np.polyfit(at, np.array(list(ticks.values()), float), 1)
    return float(slope * (math.log10(value) if log else value) + offset)


def label_row(lines: list[str], label: str) -> int:
    rows = [r for r, line in enumerate(lines) if label in line]
    assert len(rows) == 1, "\n".join(lines)
    return rows[0]


def coloured(text: Text, rgb: tuple[int, int, int]) -> str:
    """The characters of `text` drawn in colour `rgb`."""
    chars = []
    for span in text.spans:
        colour = getattr(span.style, "color", None)
        if colour is not None and colour.triplet is not None and tuple(colour.triplet) == rgb:
            chars.append(text.plain[span.start : span.end])
    return "".join(chars)


def falling(steps: np.ndarray, start: float, end: float, tau: float) -> np.ndarray:
    return end + (start - end) * np.exp(-steps / tau)


@pytest.mark.parametrize("size", [(60, 20), (90, 30), (40, 14)])
def test_counting_line_sits_at_its_value(size: tuple[int, int]) -> None:
    """If this fails, the counting line is not at the n-gram model's held-out loss, and a class
    is told the network beats counting before (or after) it does."""
    steps = np.arange(1, 2001, dtype=float)
    chart = LossChart(vocab_size=65)
    chart.set_data(steps, falling(steps, 4.3, 1.1, 300), np.zeros(0), np.zeros(0))
    chart.set_baselines(5, 1.348)
    text = chart.build_text(*size)
    lines = text.plain.split("\n")
    row = label_row(lines, "5-gram 1.35")
    ticks = tick_rows(lines)
    assert abs(row - axis_row(ticks, 1.348, log=False)) < 1, (row, ticks)
    # The line and its label are drawn in the counting colour, and ln V is still there.
    drawn = coloured(text, DARK.counting)
    assert "5-gram 1.35" in drawn and sum("\u2800" < ch <= "\u28ff" for ch in drawn) >= 5
    assert f"ln V = {math.log(65):.2f}" in text.plain


@pytest.mark.parametrize("size", [(38, 22), (60, 20), (90, 30)])
def test_floors_sit_at_their_values_on_a_log_axis(size: tuple[int, int]) -> None:
    """If this fails, the floors of the long-lag lesson are drawn away from 2 ln 8 / 84 and
    ln 8 / 84, or share a row, and a class cannot read which one a model has reached."""
    steps = np.arange(1, 1501, dtype=float)
    val_steps = np.arange(100, 1501, 100, dtype=float)
    rnn, lstm = falling(steps, 2.4, 0.0496, 60), falling(steps, 2.4, 0.026, 80)
    chart = LossChart(vocab_size=11)
    chart.set_runs(
        [
            ("rnn", steps, rnn, val_steps, rnn[99::100] + 0.004),
            ("lstm", steps, lstm, val_steps, lstm[99::100] + 0.002),
        ]
    )
    chart.set_baselines(6, 0.1132, FORGETS, RECALLS)
    text = chart.build_text(*size)
    lines = text.plain.split("\n")
    ticks = tick_rows(lines)
    assert len(ticks) >= 3
    rows = {}
    for label, value in [
        ("forgets the key 0.050", FORGETS),
        ("recalls the key 0.025", RECALLS),
        ("6-gram 0.11", 0.1132),
        ("ln V = 2.40", math.log(11)),
    ]:
        rows[label] = label_row(lines, label)
        want = axis_row(ticks, value, log=True)
        assert abs(rows[label] - want) < 1, (label, rows[label], want, ticks)
    # Each on its own row, in order: the recall floor lowest, ln V highest.
    order = [rows[k] for k in ("recalls the key 0.025", "forgets the key 0.050", "6-gram 0.11")]
    assert order[0] > order[1] > order[2] > rows["ln V = 2.40"]


def test_a_chart_without_floors_keeps_a_linear_axis_and_no_floor_lines() -> None:
    """If this fails, an ordinary corpus's chart is drawn on a log axis or shows floors that only
    mean something for the long-lag task."""
    steps = np.arange(1, 801, dtype=float)
    chart = LossChart(vocab_size=65)
    chart.set_data(steps, falling(steps, 4.2, 1.4, 150), np.zeros(0), np.zeros(0))
    chart.set_baselines(4, 1.5, None, None)
    plain = chart.build_text(60, 20).plain
    ticks = sorted(tick_rows(plain.split("\n")))
    steps_between = np.diff(ticks)
    assert np.allclose(steps_between, steps_between[0])  # evenly spaced values: linear
    assert "forgets" not in plain and "recalls" not in plain and "counting: 4-gram" in plain


def test_baselines_that_are_not_numbers_draw_nothing() -> None:
    """If this fails, a corpus whose counting baseline could not be worked out shows a line at
    a made-up level, or the chart raises."""
    steps = np.arange(1, 101, dtype=float)
    chart = LossChart(vocab_size=65)
    chart.set_data(steps, falling(steps, 4.2, 1.4, 50), np.zeros(0), np.zeros(0))
    for loss in (None, float("nan"), 0.0):
        chart.set_baselines(3, loss)
        assert chart.counting is None and "gram" not in chart.build_text(60, 20).plain
    chart.set_baselines(0, None, FORGETS, None)  # one floor alone is no pair
    assert chart.floors is None


def test_labels_shorten_to_the_room() -> None:
    """If this fails, a narrow chart (80 columns split three ways) cuts a label mid-number."""
    steps = np.arange(1, 501, dtype=float)
    chart = LossChart(vocab_size=11)
    chart.set_data(steps, falling(steps, 2.4, 0.05, 40), np.zeros(0), np.zeros(0))
    chart.set_baselines(6, 0.1132, FORGETS, RECALLS)
    plain = chart.build_text(24, 12).plain
    assert "forgets 0.050" in plain and "forgets the key" not in plain
    assert "recalls 0.025" in plain and "6-gram 0.11" in plain and "counting:" not in plain


def test_log_ticks_are_round_and_inside_the_range() -> None:
    """If this fails, the log axis is labelled at odd values (0.0300001) or beyond its ends."""
    assert log_ticks(0.02, 3.0, 8) == [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    assert log_ticks(0.02, 3.0, 6) == [0.03, 0.1, 0.3, 1.0, 3.0]
    assert log_ticks(0.02, 3.0, 3) == [0.1, 1.0]
    assert log_ticks(1.0, 1.0, 4) == [] and log_ticks(0.0, 1.0, 4) == []


# -- the trainer's side ----------------------------------------------------------------------

SMALL = Config(hidden=8, seq_len=84, batch=2, eval_every=5)


def longlag_trainers(n: int = 2) -> list[Trainer]:
    corpus = corpus_from_text(make_lines(300), "longlag")
    return [Trainer(corpus, SMALL.with_(cell=c)) for c in ["rnn", "lstm"][:n]]


def test_the_loop_sends_the_floors_at_once_and_the_counting_line_once_worked_out(
    tmp_path: Path,
) -> None:
    """If this fails, the app never gets the reference lines, or the first snapshot waits for
    the counting, or compare mode's two runs get different baselines."""
    trainers = longlag_trainers()
    snapshots: queue.Queue = queue.Queue(maxsize=100)
    metrics = tmp_path / "m.jsonl"
    loop = TrainerLoop(trainers, queue.Queue(), snapshots, str(tmp_path / "log"), str(metrics), 1)
    loop.publish(force=True)
    first = snapshots.get_nowait()
    assert first[0].baselines == first[1].baselines == Baselines(forgets=FORGETS, recalls=RECALLS)
    loop.start_baselines().join(timeout=30)
    corpus = trainers[0].corpus
    fit = fit_ngram(corpus.train, corpus.val, corpus.vocab.size)
    assert fit is not None
    want = Baselines(fit.n, fit.loss, FORGETS, RECALLS)
    loop._train_step()
    loop.publish(force=True)
    later = snapshots.get_nowait()
    assert later[0].baselines == later[1].baselines == want
    loop.metrics.close()
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [(d["cell"], d["ngram_n"], d["ngram_loss"]) for d in lines] == [
        ("rnn", fit.n, fit.loss),
        ("lstm", fit.n, fit.loss),
    ]


def test_headless_prints_the_baseline_once_and_writes_it_in_every_metrics_line(
    tmp_path: Path,
) -> None:
    """If this fails, a script reading the headless output or the metrics cannot tell how the
    network compares with counting, or the floors of the long-lag task."""
    out, err = io.StringIO(), io.StringIO()
    metrics = tmp_path / "m.jsonl"
    trainers = longlag_trainers()
    plan = HeadlessPlan(steps=4, metrics=str(metrics), log_every=2)
    assert run_headless_cli(trainers, plan, out, err) == 0
    printed = out.getvalue()
    corpus = trainers[0].corpus
    fit = fit_ngram(corpus.train, corpus.val, corpus.vocab.size)
    assert fit is not None
    assert printed.count("counting baseline:") == 1
    assert f"{fit.n}-gram (Witten-Bell), held-out {fit.loss:.3f} nats/char" in printed
    assert printed.count("loss floors: forgets the key 0.050, recalls the key 0.025") == 1
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert len(lines) == 4  # steps 2 and 4, each run
    assert all((d["ngram_n"], d["ngram_loss"]) == (fit.n, fit.loss) for d in lines)


def test_an_ordinary_corpus_has_a_counting_line_and_no_floors(tmp_path: Path) -> None:
    """If this fails, floors meant for the long-lag task appear on an ordinary text."""
    tiny = load_corpus(TINY)
    loop = TrainerLoop(
        [Trainer(tiny, Config(hidden=8, seq_len=8, batch=2))],
        queue.Queue(),
        queue.Queue(maxsize=10),
        str(tmp_path / "log"),
    )
    assert loop.baselines == Baselines()
    loop.start_baselines().join(timeout=30)
    b = loop.baselines
    assert b.forgets is None and b.recalls is None
    assert b.ngram_n == 5 and b.ngram_loss == pytest.approx(1.3482, abs=1e-4)
