"""`--preset lstm-rescue` teaches by behaviour: trained as the command trains them, the LSTM
recalls the key across 80 characters and the RNN does not, within a step count that two
cores reach well inside a minute."""

from __future__ import annotations

import pytest

from rnn_tui.cli import build_parser, make_spec
from rnn_tui.engine.recall import recall_task
from rnn_tui.run.build import build_trainers

pytestmark = pytest.mark.functional

# Steps each model takes (in lockstep, as the headless loop and the app train them). With the
# default seed the LSTM first passes 90% at step 600 and holds 100% from step 700; a headless
# minute on a shared 2-core machine makes 3,300 to 5,000. About 11 s of CPU for the pair.
STEPS = 1200


def test_the_lstm_recalls_the_key_and_the_rnn_does_not() -> None:
    """If this fails, `rnn-tui --preset lstm-rescue` no longer shows within a minute that an
    LSTM carries the key across the line while a vanilla RNN cannot: a class sees two models
    that both guess (or both recall), and the lesson does not land."""
    args = build_parser().parse_args(["--preset", "lstm-rescue"])
    rnn, lstm = build_trainers(make_spec(args, {"preset"}))
    assert (rnn.config.cell, lstm.config.cell) == ("rnn", "lstm")
    task = recall_task(lstm.corpus)
    assert task is not None and task.lag == 80 and task.chance == pytest.approx(1 / 8)
    for _ in range(STEPS):
        record = rnn.step()
        lstm.step()
    assert not rnn.diverged and not lstm.diverged
    assert lstm.recall() >= 0.9
    assert rnn.recall() <= 0.3
    assert record.last_ratio < 1e-6  # the RNN's gradient never reaches the key
