"""The protocol between the app and a run: read this file first.

The app sends **commands** (frozen dataclasses, one type per thing it can ask) and receives
**snapshots** (everything it draws, as of one moment) at a bounded rate. A command that is
answered, such as `Save` or the query `Evaluate`, is sent inside a `Request` with an id, and its
`Reply` carries the same id, so an answer always reaches the request that asked for it.

The run owns its state: whether it is paused, which cell it trains, its step. The app only
mirrors what the newest snapshot says. Everything here is plain values and NumPy arrays, so a
snapshot can be written to disk or sent over a socket in a simple format, never pickled
outside one machine's pipe.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rnn_tui.engine.config import Config

if TYPE_CHECKING:  # only named here: the app imports this module before its first frame
    import numpy as np

    from rnn_tui.engine.model import Params
    from rnn_tui.engine.trainer import StepRecord

LR_MIN, LR_MAX = 1e-6, 10.0  # the learning rates a command may reach
# A snapshot carries a weight copy at least every 2 s (history.WEIGHTS_EVERY), and as soon as
# the run's smoothed training loss has fallen this much (nats/char) since the last copy: early
# in a run that is every dozen steps or so. The app starts a new sample on weights a quarter of
# a nat better than its sample's (ui.lane.RESTART_GAIN) once that has shown enough; the copy it
# holds by then is at most this much behind the run, so the new sample is written by weights
# close to the newest.
WEIGHTS_GAIN = 0.1

# -- commands: what the app may ask of a run ---------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """Stop training after the current step; the run stays as it is."""


@dataclass(frozen=True)
class Resume:
    """Go on training."""


@dataclass(frozen=True)
class Step:
    """Train exactly one step, then stay paused."""


@dataclass(frozen=True)
class Reset:
    """Fresh weights from the seed, back to the start of the text."""


def lr_text(rates: list[tuple[str, float]], now: list[float] | None = None) -> str:
    """Learning rates as the status line shows them, from each run's (cell, lr): one figure if
    the runs share it ("0.003"), else one per run ("rnn 0.03 · lstm 0.1"). `now`: the rate
    each run's last step took, shown while it is above lr (the start-up boost: "0.0087" falling
    to "0.003"); no wider than the rate, so a notice beside it keeps its room at 80 columns."""
    shown = [
        f"{n:.2g}" if n > lr * (1 + 1e-6) else f"{lr:.3g}"
        for (_, lr), n in zip(rates, now or [lr for _, lr in rates], strict=True)
    ]
    if len(set(shown)) == 1:
        return shown[0]
    return " · ".join(f"{cell} {text}" for (cell, _), text in zip(rates, shown, strict=True))


@dataclass(frozen=True)
class SetHyper:
    """Change settings that need no new weights; None leaves a setting as it is."""

    lr: float | None = None  # learning rate
    clip_mode: str | None = None  # "norm", "value" or "off"
    clip: float | None = None  # clipping threshold
    lr_factor: float | None = None  # multiply each run's own learning rate by this (the app's
    # + and -: in a comparison whose cells have their own steps, each keeps its own)

    def applied_to(self, config: Config) -> Config:
        """`config` with these changes; the factor's result is kept within [1e-6, 10]."""
        changes = {k: v for k, v in vars(self).items() if v is not None and k != "lr_factor"}
        if self.lr_factor is not None:
            changes["lr"] = min(LR_MAX, max(LR_MIN, config.lr * self.lr_factor))
        return config.with_(**changes)

    def describe(self, configs: list[Config]) -> str:
        """What changed, for the status line: "lr 0.0045", "lr rnn 0.045 · lstm 0.15"."""
        parts = [
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in vars(self).items()
            if v is not None and k not in ("lr_factor",)
        ]
        if self.lr_factor is not None:
            parts.append("lr " + lr_text([(c.cell, c.lr) for c in configs]))
        return ", ".join(parts)


@dataclass(frozen=True)
class SwitchCell:
    """Train another cell instead, from the seed, on the same corpus and settings."""

    cell: str  # "rnn", "lstm" or "gru"


@dataclass(frozen=True)
class Save:
    """Write a checkpoint of every run (one file per cell when there are several)."""

    path: str


@dataclass(frozen=True)
class Evaluate:
    """A query: the loss of each run's current weights on `text`, in nats per character."""

    text: str


@dataclass(frozen=True)
class Quit:
    """End the run's process."""


Command = Pause | Resume | Step | Reset | SetHyper | SwitchCell | Save | Evaluate | Quit


@dataclass(frozen=True)
class Request:
    """A command as it travels: with the id its reply will carry (0: no reply wanted)."""

    id: int
    command: Command


@dataclass(frozen=True)
class Reply:
    """The answer to one request, matched to it by `id`."""

    id: int  # the request's id
    ok: bool  # whether it did what was asked
    text: str  # what to tell the user ("saved run.npz", "cannot save ...")
    values: tuple[float, ...] = ()  # a query's result, one value per run


# -- what a run reports --------------------------------------------------------------------------


class RunState(str, enum.Enum):
    """Where a run is. The run decides; the app shows it (its value is the word it shows)."""

    STARTING = "starting"  # building the model, no step yet
    TRAINING = "training"
    PAUSED = "paused"
    DIVERGED = "diverged"  # the loss or the gradient turned NaN/inf: stopped, r resets
    ERROR = "error"  # the trainer raised: stopped, r resets

    @property
    def stopped(self) -> bool:
        """Training cannot go on without a reset."""
        return self in (RunState.DIVERGED, RunState.ERROR)


@dataclass(frozen=True)
class Baselines:
    """Loss levels of the corpus that the loss chart draws as flat lines, worked out once at the
    start (the same for every run on the corpus), nats/char. See rnn_tui.engine.ngram and
    rnn_tui.engine.floors."""

    ngram_n: int = 0  # the n of the counting baseline (1..6); 0: none (not worked out, or none)
    ngram_loss: float | None = None  # its held-out loss: what counting characters achieves
    forgets: float | None = None  # long-lag corpora: 2 ln K / L, a model that cannot recall
    recalls: float | None = None  # long-lag corpora: ln K / L, a model that recalls the key


def _no_rows() -> np.ndarray:
    """(0, 2) int64: a history with no rows yet."""
    import numpy as np  # a snapshot is only ever made where NumPy is loaded already

    return np.zeros((0, 2), np.int64)


@dataclass(frozen=True)
class Snapshot:
    """Everything the app draws of one run, as of one moment. Arrays are copies it owns."""

    state: RunState
    record: StepRecord | None  # the latest step; None before the first
    loss_steps: np.ndarray  # (N,) steps of the smoothed loss history
    loss_values: np.ndarray  # (N,) smoothed training loss, nats/char
    val_steps: np.ndarray  # (M,) steps of held-out evaluations
    val_values: np.ndarray  # (M,) held-out loss, nats/char
    grad_history: np.ndarray  # (K, T) grad_last_t over the whole run, first row first;
    # K is bounded (history.GRAD_ROWS + 1): rows are merged as the run goes on
    lr: float  # learning rate now
    clip_mode: str  # "norm", "value" or "off"
    clip: float  # clipping threshold
    cell: str  # which cell this run trains
    clip_share: float = 0.0  # share of the last `clip_steps` training steps that were clipped
    clip_steps: int = 0  # how many steps that share counts (every step, published or not)
    message: str = ""  # a notice for the status line ("diverged at step ...")
    weights: Params | None = None  # a copy of the weights for sampling, when new
    weights_step: int = 0  # the step those weights come from
    seq: int = 0  # increases by one per snapshot
    replies: tuple[Reply, ...] = ()  # answers to requests since the last snapshot (first run)
    # (K, 2) the first and last training step each grad_history row stands for
    grad_history_steps: np.ndarray = field(default_factory=_no_rows)
    baselines: Baselines | None = None  # the corpus's reference losses; None until known
    hidden: int = 0  # the run's hidden size H (a new cell brings its own); 0: not said


@dataclass(frozen=True)
class Heartbeat:
    """Sent now and then while a run is idle: nothing changed, but its process is alive."""


@dataclass(frozen=True)
class Failure:
    """Sent instead of snapshots when a run cannot start (then its process ends)."""

    text: str  # one line: what went wrong
