"""Noticing a gradient blow-up: the first training step, taken while nothing clips it, whose
gradient is far larger than any healthy run here ever shows, or whose update throws the
weights far from where they were.

The rule: clipping is off (`clip_mode == "off"`) and either the step's global gradient norm
|g|, the norm of every weight's gradient together before any clipping, exceeds `BLOWUP_NORM`,
or the step leaves the norm of all the weights more than `WEIGHTS_JUMP` times what it was. It
fires once, at the first such step, and again only after the weights are reset. The app's
trainer process pauses the run there and says so in the status line; a headless run prints the
line and trains on. No UI import here.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.optim import global_norm
from rnn_tui.engine.trainer import StepRecord, Trainer

BLOWUP_NORM = 1e4
"""|g| above this, with clipping off, is a blow-up. Measured with clipping off, healthy runs
stay three to four orders of magnitude below: on corpora/tiny.txt the default settings peak at
|g| 1.8 over 2,000 steps (with an LSTM or a GRU too), and on the long-lag text the vanishing and
lstm-rescue presets' cells at 12 over 600. The exploding preset, whose gradient does explode but
whose tiny SGD steps leave W_hh where it is, peaks at 819 to 935. At --lr 0.3 the same first
step (|g| 554) throws ‖W_hh‖₂ from 5.9 to 28. On the first development machine the second step
(|g| 1.4e3) took it to 236 and the third, |g| 4.3e7, to 1.2e7, reported by this rule; on the
second, float rounding took another path: the second step (|g| 797) left it at 138, every tanh
unit saturated, and |g| never passed 8 again. `WEIGHTS_JUMP` catches that run at its first
step. Clipping at the default 5 would shrink such a step a hundredfold or more."""

WEIGHTS_JUMP = 2.0
"""A step that leaves the norm of all the weights (`weights_size`) more than this many times
what it was, with clipping off, is a blow-up: one update threw the weights away, whatever |g|
was. Measured, the largest growth in one step: 1.024 for the LSTM, 1.015 for the GRU and 1.008
for the RNN at their defaults with clipping off (300 to 600 steps on tiny.txt), 1.0004 for SGD
at lr 0.1, 1.0002 for the exploding preset; 4.7 for its first step at --lr 0.3, and 254 for its
second at --lr 0.3 with 8 streams."""


def weights_size(trainer: Trainer) -> float:
    """||θ||: the norm of all the trainer's weights together (as `global_norm` takes that of
    the gradients)."""
    return global_norm(trainer.params)


class BlowupWatch:
    """Watches the steps of one run, `trainer`'s, for its first blow-up (see `BLOWUP_NORM` and
    `WEIGHTS_JUMP`). While clipping is off it weighs the weights after every step: one pass
    over them, a hundredth of a step's time or less; with clipping on, nothing."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.fired = False  # a blow-up was reported since the last reset
        self._size: float | None = None  # ||θ|| after the step last watched, None: not known
        self.reset()

    def check(self, record: StepRecord) -> bool:
        """True at the first step that blows up: with clipping off, |g| > BLOWUP_NORM, or the
        weights' norm grown more than WEIGHTS_JUMP-fold by the step. Once true, false until
        `reset()`. Call it after every step of the trainer, `record` being the step's."""
        if self.fired or self.trainer.config.clip_mode != "off":
            self._size = None  # not weighed meanwhile: a step after this is not judged by it
            return False
        before, self._size = self._size, weights_size(self.trainer)
        jumped = before is not None and self._size > WEIGHTS_JUMP * before
        if not (record.grad_norm > BLOWUP_NORM or jumped):
            return False
        self.fired = True
        return True

    def reset(self) -> None:
        """Fresh weights: the next blow-up is news again."""
        self.fired = False
        off = self.trainer.config.clip_mode == "off"
        self._size = weights_size(self.trainer) if off else None


def short_float(x: float) -> str:
    """A number in two significant digits, exponents without padding: 2.3e4, 550, 41, 0.52."""
    if not np.isfinite(x):
        return str(x)
    if 0.01 <= abs(x) < 1000:
        return f"{float(f'{x:.2g}'):g}"  # 554 -> 550, where "{:.2g}" alone gives 5.5e+02
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def weights_norm(trainer: Trainer, unicode: bool = True) -> str:
    """What the weights became: `‖W_hh‖₂ 27` (the RNN's recurrent matrix, exact spectral norm;
    the trainer's last record takes it too, so the pane shows what the line says) or, for
    gated cells, `‖θ‖ 52` (the norm of all weights together)."""
    sigma = trainer.exact_spectral_norm()
    if sigma is not None:
        return f"{'‖W_hh‖₂' if unicode else '|W_hh|_2'} {short_float(sigma)}"
    return f"{'‖θ‖' if unicode else '|theta|'} {short_float(weights_size(trainer))}"


def blowup_line(record: StepRecord, trainer: Trainer, unicode: bool = True) -> str:
    """`step 412: |g| exploded to 3.1e4, ‖W_hh‖₂ 41`: the step, its gradient norm (|g|, as the
    gradient pane calls it) and the weights' norm after its update. Short, so that with what to
    press it fits the status line of an 80-column terminal."""
    return (
        f"step {record.step:,}: |g| exploded to {short_float(record.grad_norm)},"
        f" {weights_norm(trainer, unicode)}"
    )
