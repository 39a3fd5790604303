"""The long-lag lesson, read through the probe: to predict the key after '=', the LSTM's
prediction reaches back to the key at the start of the line; the RNN's does not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.longlag import DEFAULT_LAG, make_lines
from rnn_tui.engine.presets import PRESETS
from rnn_tui.engine.probe import looking_back, probe, probe_model
from rnn_tui.engine.trainer import Trainer

pytestmark = pytest.mark.functional

STEPS = 150  # a few seconds of training per model: enough for the contrast to settle


def test_the_lstm_looks_back_to_the_key_the_rnn_cannot(tmp_path: Path) -> None:
    """If this fails, the probe's looking-back profile no longer shows the lesson of
    `--preset lstm-rescue`: after training both with the preset's settings, the LSTM's gradient
    at the key (82 characters back) must be at least 1,000 times the RNN's."""
    path = tmp_path / "longlag.txt"
    path.write_text(make_lines(200, DEFAULT_LAG, seed=3))
    corpus = load_corpus(path)
    preset = PRESETS["lstm-rescue"]
    line = "C" + "." * DEFAULT_LAG + "=C\n"
    text = "A" + "." * DEFAULT_LAG + "=A\n" + line  # a whole line before: resets between
    key = len(text) - len(line)  # where the line's key is
    recall = len(text) - 2  # the key again, after '='
    reach = {}
    for cell in preset.compare:
        config = dataclasses.replace(Config(**preset.changes), cell=cell)
        trainer = Trainer(corpus, config)
        for _ in range(STEPS):
            trainer.step()
        pm = probe_model(trainer.snapshot(), config, corpus.vocab.chars)
        result = probe(pm, text)
        back = looking_back(pm, result.ids, recall)  # (recall,) one value per earlier char
        assert back[: key - 1].max() == 0.0  # nothing before the line's reset reaches it
        reach[cell] = back[key]
    assert reach["lstm"] >= 1000 * reach["rnn"], reach
    assert np.isfinite(list(reach.values())).all()
