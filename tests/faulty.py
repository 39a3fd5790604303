"""Trainers that fail on purpose, for the fault tests. A module of its own so the spawned
worker process can import them by name."""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.trainer import StepRecord, Trainer


class RaisingTrainer(Trainer):
    """Raises a bug-like exception at step 10 of its first run; after a reset it behaves."""

    failed = False

    def step(self) -> StepRecord:
        if self.steps == 10 and not RaisingTrainer.failed:
            RaisingTrainer.failed = True
            raise ZeroDivisionError("an injected bug in the trainer")
        return super().step()


class DivergingTrainer(Trainer):
    """Its weights turn infinite at step 10 of its first run, as after an overflowing update."""

    poisoned = False

    def step(self) -> StepRecord:
        if self.steps == 10 and not DivergingTrainer.poisoned:
            DivergingTrainer.poisoned = True
            self.params["Why"][0, 0] = np.inf
        return super().step()
