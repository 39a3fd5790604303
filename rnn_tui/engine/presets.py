"""One-command lessons: `--preset NAME` picks the cell, the init, the clipping and the corpus.

Flags typed on the command line still win over a preset's choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnn_tui.engine.longlag import DEFAULT_LAG, line_length


@dataclass(frozen=True)
class Preset:
    """A lesson: settings and, optionally, the corpus and a second cell to compare with."""

    summary: str  # one line for --help
    changes: dict[str, Any] = field(default_factory=dict)  # Config fields it sets
    corpus: str | None = None  # "longlag": the generated long-lag text; None: the user's PATH
    compare: tuple[str, str] | None = None  # train these two cells side by side
    lesson: str = ""  # one line on screen: the task, what to watch, what success looks like


_LONG_LAG = {
    "hidden": 32,  # small, as in the measured prototype: the lag is what matters
    "seq_len": line_length(DEFAULT_LAG),  # one window spans one whole line...
    "reset_at": "\n",  # ...and every line starts from a zero state
    "clip_mode": "norm",
    "clip": 1.0,
}

PRESETS: dict[str, Preset] = {
    "vanishing": Preset(
        "a vanilla RNN on the long-lag corpus: the gradient from '=' never reaches the key",
        {"cell": "rnn", **_LONG_LAG},
        corpus="longlag",
        lesson="lesson: recall the key 80 steps back; watch the orange marks fall away to the"
        " left: the RNN's gradient never reaches the key",
    ),
    "exploding": Preset(
        "a vanilla RNN, large recurrent weights, plain SGD, no clipping: press c then r",
        # Plain SGD takes a step as large as the gradient, so one blown-up gradient throws the
        # weights far away (Adam would normalise it away and hide the lesson).
        {
            "cell": "rnn",
            "rec_gain": 3.0,
            "optimizer": "sgd",
            "lr": 0.3,
            "clip_mode": "off",
            "clip": 1.0,
        },
        lesson="lesson: recurrent weights too large, no clipping; watch |g| and the loss jump,"
        " then press c (clip) and r (reset): now it learns",
    ),
    "lstm-rescue": Preset(
        "RNN and LSTM side by side on the long-lag corpus: the LSTM's gradient survives",
        {**_LONG_LAG},
        corpus="longlag",
        compare=("rnn", "lstm"),
        lesson="lesson: recall the key 80 steps back; compare the orange marks: the LSTM's"
        " gradient reaches the key, the RNN's fades away",
    ),
}
