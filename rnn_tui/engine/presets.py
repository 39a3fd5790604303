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

    def lesson_at(self, lag: int) -> str:
        """The lesson for a long-lag corpus of `lag` filler characters (--lag)."""
        return self.lesson.replace(f"{DEFAULT_LAG} steps", f"{lag} steps")


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
        lesson="lesson: recall the key 80 steps back; the grad_last_t line falls away to the left:"
        " the gradient never reaches it",
    ),
    "exploding": Preset(
        "a vanilla RNN, W_hh 3x too large, tiny SGD steps, no clipping: the gradient explodes;"
        " with --lr 0.3 one step wrecks the weights",
        # W_hh 3x too large makes the gradient grow going back: on tiny.txt grad_last_t[1] /
        # grad_last_t[T] is 3.6e4 at step 1, 730 (median) over the first 500 steps and above 1 for
        # the first 2,500. Plain SGD steps by lr * |g|: at lr 1e-3, with |g| in the hundreds,
        # that moves W_hh a little (its norm stays at 5.9), so the profile lasts while the loss
        # creeps down. At lr 0.3 the first step already throws W_hh to ‖W_hh‖₂ 28 and the third
        # to 1.2e7: every tanh unit saturates and the profile vanishes instead (the app pauses
        # at that blow-up, rnn_tui.run.blowup). Adam would normalise |g| away and hide the blow-up.
        {
            "cell": "rnn",
            "rec_gain": 3.0,
            "optimizer": "sgd",
            "lr": 1e-3,
            "clip_mode": "off",
            "clip": 1.0,
        },
        lesson="lesson: W_hh 3x too large, no clipping: the grad_last_t line climbs leftwards;"
        " --lr 0.3 blows it up: press c, then r",
    ),
    "lstm-rescue": Preset(
        "RNN and LSTM side by side on the long-lag corpus: the LSTM's gradient survives",
        # A forget-gate bias of 5 (f = sigmoid(5) = 0.993, 0.993^80 = 0.57) lets the LSTM's
        # gradient cross the line from the first step; at the default 1 its forget gates
        # learn to close within a few hundred steps, while it learns to count the dots. The
        # larger step (Adam 0.03) is the best of a sweep: recall rose to 75-92% after
        # 1,500-2,200 steps with the default seed (not with every seed).
        {**_LONG_LAG, "lr": 3e-2, "forget_bias": 5.0},
        corpus="longlag",
        compare=("rnn", "lstm"),
        lesson="lesson: recall the key 80 steps back; compare the grad_last_t lines: the LSTM's"
        " reaches the key, the RNN's fades away",
    ),
}
