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
    per_cell: dict[str, dict[str, Any]] = field(default_factory=dict)  # with `compare`: Config
    # fields for one of the two cells only (each cell's own best step size, say)

    def lesson_at(self, lag: int) -> str:
        """The lesson for a long-lag corpus of `lag` filler characters (--lag)."""
        return self.lesson.replace(f"{DEFAULT_LAG} steps", f"{lag} steps")


_LONG_LAG = {
    "hidden": 32,  # small, as in the measured prototype: the lag is what matters
    "seq_len": line_length(DEFAULT_LAG),  # one window spans one whole line...
    "reset_at": "\n",  # ...and every line starts from a zero state
    "clip_mode": "norm",
    "clip": 1.0,
    "lr_boost": 1.0,  # each lesson's step size was measured from the first step
}

PRESETS: dict[str, Preset] = {
    "vanishing": Preset(
        "a vanilla RNN on the long-lag corpus: the gradient from '=' never reaches the key",
        # The RNN of lstm-rescue, alone: 4 streams at lr 0.03. Measured headless with the
        # default lag 80: g_last[1]/g_last[T] and g[key]/g[=] are 0 in float32 from the first
        # seconds to the end of 90 s (seeds 1234 and 7; 45 s with seed 1), recall 10-17%
        # (chance 1 in 8). With 32 streams at lr 0.003, and the default seed 1234, the gradient
        # reached the key from step ~7,000 (g[key]/g[=] 0.1 to 0.5, about 15 s in), recall
        # still at chance: the screen then contradicted the lesson (seed 1 stayed at 0).
        {"cell": "rnn", **_LONG_LAG, "batch": 4, "lr": 3e-2},
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
        # creeps down. At lr 0.3 the first step already throws W_hh to ‖W_hh‖₂ 28 and the next
        # further: every tanh unit saturates and the profile vanishes instead (the app pauses
        # at that first step, rnn_tui.run.blowup). Adam would normalise |g| away and hide it.
        {
            "cell": "rnn",
            "rec_gain": 3.0,
            "optimizer": "sgd",
            "lr": 1e-3,
            "clip_mode": "off",
            "clip": 1.0,
            "lr_boost": 1.0,
        },
        lesson="lesson: W_hh 3x too large, no clipping: the grad_last_t line climbs leftwards;"
        " --lr 0.3 blows it up: press c, then r",
    ),
    "lstm-rescue": Preset(
        "RNN and LSTM side by side on the long-lag corpus: the LSTM's gradient survives",
        # Measured on 2 cores with the default lag 80 (seeds 1234, 1, 2, 3, 4): the LSTM's key
        # recall reaches 90% after 350 to 1,100 steps (2 to 6 s of its own CPU time; about 12 s
        # of a 60 s headless run) and ends at 100%, while the RNN ends at 0-12%.
        # - batch 4: a step's cost is mostly the Python loop over the 84 steps of a line (6 ms
        #   at B=4, 19 ms at B=32), so small batches give three times the updates per second.
        # - Adam at lr 0.1: at first every LSTM cell is taken over by the dots (each adds to it,
        #   |c| reaches ~60, tanh(c) saturates and the key cannot be read at '='); only large,
        #   frequent steps get out of that plateau within a minute. At 0.03 (B=32) recall rose
        #   after 1,500 steps with one seed and never with others; at B=4, 0.05 and 0.07 mostly
        #   stayed stuck.
        # - forget_bias 8 (f = sigmoid(8) = 0.9997, 0.9997^80 = 0.97): the cell carries the key,
        #   and its gradient, across the line from the first step; at 5 recall also rose but
        #   fell back for two seeds out of five.
        # - The RNN keeps lr 0.03: at 0.1 it loses the line's shape (held-out loss 0.16-0.35,
        #   samples without '='); at 0.03 it reaches 0.115 in 20 s with recall 10%: the LSTM is
        #   compared with the RNN at its best.
        # Once the LSTM recalls, its g_last[1]/g_last[T] falls to 2e-5..5e-4: 2-3 decades in the
        # window's last step alone (that loss is the next line's key, which cannot be
        # predicted, so the state learns to be cut off at the newline), while across the 80
        # dots its profile stays flat (the RNN's is 0 in float32). The loss that needs the
        # memory is the key after '=': how much of its gradient reaches the key is
        # `recall_reach`, g[key]/g[=] in the headless lines: ~0.3 for the LSTM, 0 for the RNN.
        {**_LONG_LAG, "batch": 4, "lr": 0.1, "forget_bias": 8.0},
        corpus="longlag",
        compare=("rnn", "lstm"),
        per_cell={"rnn": {"lr": 3e-2}},
        lesson="lesson: recall the key 80 steps back; the RNN's grad_last_t line fades over the"
        " dots, the LSTM's stays level; see g[key]/g[=]",
    ),
}
