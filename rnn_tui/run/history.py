"""One run as the trainer process keeps it for the app: its trainer and what the app draws of
its past (loss curves of bounded size, recent gradient profiles, how often clipping fired),
made into snapshots. No UI import here."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.run.protocol import Reply, RunState, Snapshot

WEIGHTS_EVERY = 2.0  # seconds between two weight copies for the sampler
GRAD_ROWS = 64  # recent gradient profiles kept for the heat strip
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
    """One trainer and what the UI needs of its past: loss curves, recent gradient profiles."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.error = ""  # set when the trainer raised; cleared by reset
        self.send_weights = True  # the next snapshot carries a weight copy
        self.last_weights = -1.0  # monotonic time of the last weight copy
        self.clear()

    def clear(self) -> None:
        self.loss = History()
        self.val = History(256)
        self.last_val_step: int | None = None
        self.grads: list[np.ndarray] = []
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
        self.grads.append(r.grad_last_t)
        if len(self.grads) > GRAD_ROWS:
            del self.grads[0]

    def snapshot(
        self, state: RunState, message: str, seq: int, replies: tuple[Reply, ...] = ()
    ) -> Snapshot:
        t = self.trainer
        now = time.monotonic()
        weights = None
        if t.last is not None and (self.send_weights or now - self.last_weights >= WEIGHTS_EVERY):
            weights = t.snapshot()
            self.last_weights, self.send_weights = now, False
        ls, lv = self.loss.arrays()
        vs, vv = self.val.arrays()
        grads = np.array(self.grads) if self.grads else np.zeros((0, t.config.seq_len))
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
            replies=replies,
        )
