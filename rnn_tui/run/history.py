"""One run as the trainer process keeps it for the app: its trainer and what the app draws of
its past (loss curves and gradient profiles of bounded size, how often clipping fired), made
into snapshots. No UI import here."""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.run.protocol import WEIGHTS_GAIN, Baselines, Reply, RunState, Snapshot

WEIGHTS_EVERY = 2.0  # seconds between two weight copies for the sampler, at most
# ... and sooner once the smoothed loss has fallen by WEIGHTS_GAIN (protocol.py) since the last.
GRAD_ROWS = 64  # gradient-profile rows kept for the heat strip; past this, pairs are merged
CLIP_WINDOW = 100  # the clipping share counts this many recent steps
HISTORY_POINTS = 2048  # loss points kept; past this, pairs are merged (the whole run stays)


class History:
    """A loss curve of bounded size: when full, neighbouring points are averaged in pairs, so the
    whole run stays visible at ever coarser resolution and memory stays flat."""

    def __init__(self, capacity: int = HISTORY_POINTS) -> None:
        self.capacity = capacity
        self.steps = np.zeros(capacity, np.float64)
        self.values = np.zeros(capacity, np.float64)
        self.n = 0  # points stored
        self.stride = 1  # raw points per stored point
        self._acc: list[tuple[float, float]] = []  # raw points waiting to fill one stored point

    def add(self, step: float, value: float) -> None:
        self._acc.append((step, value))
        if len(self._acc) < self.stride:
            return
        s, v = np.mean(self._acc, axis=0)
        self._acc.clear()
        if self.n == self.capacity:  # full: merge pairs, halving resolution
            half = self.capacity // 2
            self.steps[:half] = self.steps[: 2 * half].reshape(half, 2).mean(1)
            self.values[:half] = self.values[: 2 * half].reshape(half, 2).mean(1)
            self.n, self.stride = half, self.stride * 2
        self.steps[self.n], self.values[self.n] = s, v
        self.n += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the stored points."""
        return self.steps[: self.n].copy(), self.values[: self.n].copy()

    def clear(self) -> None:
        self.n, self.stride = 0, 1
        self._acc.clear()


class GradHistory:
    """grad_last_t over the whole run in a bounded number of rows, for the heat strip.

    Each row stands for a stretch of consecutive steps (it knows the first and the last) and
    holds, per timestep, the geometric mean of their profiles: the mean of log10 over the
    positive finite values, as the strip is drawn on a log scale. When `capacity` rows are
    full, neighbouring rows are merged in pairs (their log sums added), so the whole run stays
    visible at ever coarser resolution, as `History` does for the loss curve. The row being
    filled is shown too, so the newest row always ends at the newest step.
    """

    def __init__(self, capacity: int = GRAD_ROWS) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be even and at least 2, not {capacity}")
        self.capacity = capacity
        self.stride = 1  # steps per full row
        self.n = 0  # full rows; row n is the one being filled
        self._shape(0)

    def _shape(self, t: int) -> None:
        """Empty storage for rows of T = `t` timesteps (one more row than capacity: the one
        being filled)."""
        rows = self.capacity + 1
        self.log_sum = np.zeros((rows, t))  # sum of log10 g over the row's positive values
        self.n_pos = np.zeros((rows, t), np.int64)  # how many values were positive and finite
        self.n_bad = np.zeros((rows, t), np.int64)  # how many were NaN or inf
        self.count = np.zeros(rows, np.int64)  # steps in the row
        self.steps = np.zeros((rows, 2), np.int64)  # first and last step of the row

    def add(self, step: int, g: np.ndarray) -> None:
        """Add one step's (T,) grad_last_t profile."""
        g = np.asarray(g, dtype=np.float64).ravel()
        if g.size != self.log_sum.shape[1]:  # the first profile, or another window length
            self.clear()
            self._shape(g.size)
        i = self.n
        if self.count[i] == 0:
            self.steps[i, 0] = step
        self.steps[i, 1] = step
        self.count[i] += 1
        finite = np.isfinite(g)
        pos = finite & (g > 0)
        self.log_sum[i] += np.log10(np.where(pos, g, 1.0))  # log10 of the positive values
        self.n_pos[i] += pos
        self.n_bad[i] += ~finite
        if self.count[i] < self.stride:
            return
        self.n += 1  # the row is full
        if self.n == self.capacity:  # all rows full: merge pairs, halving the resolution
            half = self.capacity // 2
            for a in (self.log_sum, self.n_pos, self.n_bad, self.count):
                a[:half] = a[: 2 * half : 2] + a[1 : 2 * half : 2]
                a[half:] = 0
            firsts, lasts = self.steps[0 : 2 * half : 2, 0], self.steps[1 : 2 * half : 2, 1]
            self.steps[:half] = np.stack([firsts, lasts], axis=1)
            self.steps[half:] = 0
            self.n, self.stride = half, self.stride * 2

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(K, T) geometric means per row and timestep (0 where no value was positive, NaN
        where any was NaN/inf) and (K, 2) the first and last step of each row; copies."""
        k = self.n + int(self.count[self.n] > 0)
        n_pos = self.n_pos[:k]
        with np.errstate(over="ignore"):
            mean = np.where(n_pos > 0, 10.0 ** (self.log_sum[:k] / np.maximum(n_pos, 1)), 0.0)
        mean[self.n_bad[:k] > 0] = np.nan
        return mean, self.steps[:k].copy()

    def clear(self) -> None:
        self.n, self.stride = 0, 1
        self._shape(self.log_sum.shape[1])


class ClipCount:
    """Whether each of the last `window` steps was clipped, and the share that was: a one-step
    flag flickers at hundreds of steps a second, a share can be read."""

    def __init__(self, window: int = CLIP_WINDOW) -> None:
        self.flags: deque[bool] = deque(maxlen=window)
        self.clipped = 0  # True flags among `flags`

    def add(self, clipped: bool) -> None:
        if len(self.flags) == self.flags.maxlen:
            self.clipped -= self.flags[0]
        self.flags.append(bool(clipped))
        self.clipped += bool(clipped)

    @property
    def steps(self) -> int:
        return len(self.flags)

    @property
    def share(self) -> float:
        """Clipped steps / steps counted; 0 before the first step."""
        return self.clipped / len(self.flags) if self.flags else 0.0


class Run:
    """One trainer and what the UI needs of its past: loss curves, gradient profiles."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.error = ""  # set when the trainer raised; cleared by reset
        self.send_weights = True  # the next snapshot carries a weight copy
        self.last_weights = -1.0  # monotonic time of the last weight copy
        self.weights_loss = math.inf  # the smoothed training loss of that copy
        self.clear()

    def clear(self) -> None:
        self.loss = History()
        self.val = History(256)
        self.last_val_step: int | None = None
        self.grads = GradHistory()
        self.clips = ClipCount()

    @property
    def stopped(self) -> bool:
        return bool(self.error) or self.trainer.diverged

    def record(self, r: StepRecord) -> None:
        """Add a step to the histories (every step, whether a snapshot shows it or not)."""
        self.loss.add(r.step, r.smooth_loss)
        self.clips.add(r.clipped)
        if r.val_step is not None and r.val_step != self.last_val_step:
            self.val.add(r.val_step, r.val_loss if r.val_loss is not None else float("nan"))
            self.last_val_step = r.val_step
        self.grads.add(r.step, r.grad_last_t)

    def snapshot(
        self,
        state: RunState,
        message: str,
        seq: int,
        replies: tuple[Reply, ...] = (),
        baselines: Baselines | None = None,
    ) -> Snapshot:
        t = self.trainer
        now = time.monotonic()
        weights = None
        r = t.last
        if r is not None and (
            self.send_weights
            or now - self.last_weights >= WEIGHTS_EVERY
            or r.smooth_loss <= self.weights_loss - WEIGHTS_GAIN
        ):
            weights = t.snapshot()
            self.last_weights, self.send_weights = now, False
            self.weights_loss = r.smooth_loss
        ls, lv = self.loss.arrays()
        vs, vv = self.val.arrays()
        grads, grad_steps = self.grads.rows()
        if grads.shape[0] == 0:
            grads = np.zeros((0, t.config.seq_len))
        if self.error:
            state = RunState.ERROR
        elif t.diverged:
            state = RunState.DIVERGED
        return Snapshot(
            state=state,
            record=t.last,
            loss_steps=ls,
            loss_values=lv,
            val_steps=vs,
            val_values=vv,
            grad_history=grads,
            grad_history_steps=grad_steps,
            lr=t.config.lr,
            clip_mode=t.config.clip_mode,
            clip=t.config.clip,
            clip_share=self.clips.share,
            clip_steps=self.clips.steps,
            message=message,
            weights=weights,
            weights_step=t.steps,
            seq=seq,
            cell=t.config.cell,
            hidden=t.config.hidden,
            replies=replies,
            baselines=baselines,
        )
