"""Noticing a gradient blow-up: the first training step whose gradient is far larger than any
healthy run here ever shows, taken while nothing clips it.

The rule: clipping is off (`clip_mode == "off"`) and the step's global gradient norm |g|, the
norm of every weight's gradient together before any clipping, exceeds `BLOWUP_NORM`. It fires
once, at the first such step, and again only after the weights are reset. The app's trainer
process pauses the run there and says so in the status line; a headless run prints the line and
trains on. No UI import here.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.trainer import StepRecord, Trainer

BLOWUP_NORM = 1e4
"""|g| above this, with clipping off, is a blow-up. Measured with clipping off, healthy runs
stay three to four orders of magnitude below: on corpora/tiny.txt the default settings peak at
|g| 1.8 over 2,000 steps (with an LSTM or a GRU too), and on the long-lag text the vanishing and
lstm-rescue presets' cells at 12 over 600. The exploding preset, whose gradient does explode but
whose tiny SGD steps leave W_hh where it is, peaks at 819. At --lr 0.3 the same first step
(|g| 554) throws ‖W_hh‖₂ from 5.9 to 28, the second (|g| 1.4e3) to 236, and the third, |g| 4.3e7,
to 1.2e7: that one is reported. Clipping at the default 5 would shrink such a step 2,000-fold."""


class BlowupWatch:
    """Watches one run's steps for its first blow-up (see `BLOWUP_NORM`)."""

    def __init__(self) -> None:
        self.fired = False  # a blow-up was reported since the last reset

    def check(self, record: StepRecord, clip_mode: str) -> bool:
        """True at the first step that blows up: |g| > BLOWUP_NORM with clipping off. Once true,
        false until `reset()`."""
        if self.fired or clip_mode != "off" or not record.grad_norm > BLOWUP_NORM:
            return False
        self.fired = True
        return True

    def reset(self) -> None:
        """Fresh weights: the next blow-up is news again."""
        self.fired = False


def short_float(x: float) -> str:
    """A number in two significant digits, exponents without padding: 2.3e4, 41, 0.52."""
    if not np.isfinite(x):
        return str(x)
    if 0.01 <= abs(x) < 1000:
        return f"{x:.2g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def weights_norm(trainer: Trainer, unicode: bool = True) -> str:
    """What the weights became: `‖W_hh‖₂ 27` (the RNN's recurrent matrix, exact spectral norm)
    or, for gated cells, `‖θ‖ 52` (the norm of all weights together)."""
    name = trainer.model.recurrent
    if name is not None:
        W = trainer.params[name].astype(np.float64)  # (H, H)
        sigma = float(np.linalg.norm(W, 2))  # largest singular value, computed once here
        return f"{'‖W_hh‖₂' if unicode else '|W_hh|_2'} {short_float(sigma)}"
    total = float(np.sqrt(sum(float(np.vdot(p, p)) for p in trainer.params.values())))
    return f"{'‖θ‖' if unicode else '|theta|'} {short_float(total)}"


def blowup_line(record: StepRecord, trainer: Trainer, unicode: bool = True) -> str:
    """`step 412: |g| exploded to 3.1e4, ‖W_hh‖₂ 41`: the step, its gradient norm (|g|, as the
    gradient pane calls it) and the weights' norm after its update. Short, so that with what to
    press it fits the status line of an 80-column terminal."""
    return (
        f"step {record.step:,}: |g| exploded to {short_float(record.grad_norm)},"
        f" {weights_norm(trainer, unicode)}"
    )
