"""Recurrent character models in pure NumPy. No UI import may appear below this package."""

from __future__ import annotations

from rnn_tui.engine.model.base import (
    LN2,
    Cell,
    GradProfile,
    LossAndGrads,
    Params,
    State,
    last_ratio,
)
from rnn_tui.engine.model.gru import GRU
from rnn_tui.engine.model.lstm import LSTM
from rnn_tui.engine.model.rnn import RNN

CELLS: dict[str, type[Cell]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def make_cell(name: str, vocab_size: int, hidden: int, dtype: str = "float32") -> Cell:
    """The cell called `name` ("rnn", "lstm" or "gru"), sized for the vocabulary."""
    return CELLS[name](vocab_size, hidden, dtype)


__all__ = [
    "CELLS",
    "LN2",
    "Cell",
    "GradProfile",
    "LossAndGrads",
    "Params",
    "State",
    "last_ratio",
    "make_cell",
]
