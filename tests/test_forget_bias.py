"""The LSTM's forget-gate bias at init is a setting (`forget_bias`) that training really uses."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY

from rnn_tui.engine.config import Config, SettingError
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import Trainer

SMALL = Config(hidden=6, seq_len=8, batch=4)


@pytest.mark.parametrize("bias", [1.0, 3.0, -0.5])
def test_an_lstm_starts_with_the_forget_bias_it_was_given(bias: float) -> None:
    """If this fails, a lesson that asks for forget gates open from the start (e.g. 3: f = 0.95)
    trains an LSTM whose memory fades as fast as with the default, and the lesson fails."""
    H = SMALL.hidden
    trainer = Trainer(load_corpus(TINY), SMALL.with_(cell="lstm", forget_bias=bias))
    b = trainer.params["b"]
    np.testing.assert_array_equal(b[H : 2 * H], np.float32(bias))  # the forget gate's block
    np.testing.assert_array_equal(np.r_[b[:H], b[2 * H :]], 0.0)  # i, o, g stay at 0
    trainer.step()
    trainer.reset()  # a reset starts from the same bias
    np.testing.assert_array_equal(trainer.params["b"][H : 2 * H], np.float32(bias))


def test_the_forget_bias_leaves_other_cells_alone() -> None:
    """If this fails, comparing an RNN with an LSTM under one setting changes the RNN too."""
    corpus = load_corpus(TINY)
    for cell in ("rnn", "gru"):
        a = Trainer(corpus, SMALL.with_(cell=cell)).params
        b = Trainer(corpus, SMALL.with_(cell=cell, forget_bias=4.0)).params
        for name, value in a.items():
            np.testing.assert_array_equal(value, b[name])


@pytest.mark.parametrize("bias", [float("nan"), 25.0, -21.0])
def test_an_unusable_forget_bias_is_refused(bias: float) -> None:
    """If this fails, a typo in a settings file gives an LSTM that is saturated or NaN."""
    with pytest.raises(SettingError, match="forget_bias"):
        SMALL.with_(forget_bias=bias)
