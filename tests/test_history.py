"""What a run keeps of its gradient profiles for the heat strip: the whole run, in bounded rows."""

from __future__ import annotations

import queue
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run import protocol as p
from rnn_tui.run.history import GRAD_ROWS, GradHistory, Run
from rnn_tui.run.worker import TrainerLoop


def geometric_mean_of_positive(block: np.ndarray) -> np.ndarray:
    """(T,) geometric mean over the rows of ``block: (n, T)`` of its positive values, written
    out directly: exp of the mean of the logs."""
    out = np.zeros(block.shape[1])
    for t in range(block.shape[1]):
        col = block[:, t]
        pos = col[col > 0]
        out[t] = np.exp(np.log(pos).mean()) if pos.size else 0.0
    return out


def test_grad_history_covers_the_whole_run_in_bounded_rows() -> None:
    """If this fails, the heat strip does not show the whole run after 10,000 steps (it starts
    later than step 1 or ends before the newest step), skips or repeats steps between rows,
    grows without bound, or draws a row that is not the mean of its steps' profiles."""
    rng = np.random.default_rng(7)
    n, t_len = 10_000, 5
    raw = 10.0 ** rng.uniform(-6, 1, (n, t_len))  # positive profiles over seven decades
    hist = GradHistory()
    for step in range(1, n + 1):
        hist.add(step, raw[step - 1])
        if step in (1, 64, 65, 999):
            rows, steps = hist.rows()
            assert steps[0, 0] == 1 and steps[-1, 1] == step
    rows, steps = hist.rows()
    assert rows.shape[1] == t_len and 2 <= rows.shape[0] <= GRAD_ROWS + 1
    assert steps[0, 0] == 1 and steps[-1, 1] == n
    assert np.all(steps[1:, 0] == steps[:-1, 1] + 1)  # consecutive, none skipped or repeated
    for row, (first, last) in zip(rows, steps, strict=True):
        expected = geometric_mean_of_positive(raw[first - 1 : last])
        np.testing.assert_allclose(row, expected, rtol=1e-9)


def test_grad_history_rows_of_zeros_and_nonfinite_values() -> None:
    """If this fails, one exact zero wipes out a row of the strip (the log of 0), a row of zeros
    is drawn as a value, or a NaN/inf step disappears in the mean instead of being marked."""
    hist = GradHistory(capacity=4)
    hist.add(1, np.array([0.0, 0.0, 1e-3, 2.0]))
    hist.add(2, np.array([0.0, 1e-2, 1e-1, np.nan]))
    hist.add(3, np.array([0.0, 1e-4, 1e-3, 2.0]))
    hist.add(4, np.array([0.0, 1e-2, 1e-1, 2.0]))  # 4 full rows of 1 step: merged into 2 of 2
    rows, steps = hist.rows()
    assert steps.tolist() == [[1, 2], [3, 4]]
    assert rows[0, 0] == 0.0 and rows[1, 0] == 0.0  # no positive value: zero
    assert rows[0, 1] == pytest.approx(1e-2, rel=1e-12)  # the zero is left out of the mean
    assert rows[0, 2] == pytest.approx(1e-2, rel=1e-12)  # sqrt(1e-3 * 1e-1)
    assert np.isnan(rows[0, 3]) and rows[1, 3] == pytest.approx(2.0, rel=1e-12)
    with pytest.raises(ValueError):
        GradHistory(capacity=5)


def test_reset_starts_the_gradient_history_over(tmp_path: Path) -> None:
    """If this fails, after r (reset) the heat strip still shows the old run's steps."""
    config = Config(hidden=16, seq_len=8, batch=4, eval_every=50)
    trainers = [Trainer(load_corpus(TINY), config)]
    loop = TrainerLoop(trainers, queue.Queue(), queue.Queue(maxsize=100), str(tmp_path / "log"))
    for _ in range(150):
        loop._train_step()
    loop.publish()
    snap = loop.snapshots.get_nowait()[0]
    assert snap.grad_history.shape[1] == 8 and snap.grad_history.shape[0] <= GRAD_ROWS + 1
    assert snap.grad_history_steps[0, 0] == 1 and snap.grad_history_steps[-1, 1] == 150
    loop.handle(p.Request(0, p.Reset()))
    loop._train_step()
    loop._train_step()
    loop.publish()
    while not loop.snapshots.empty():  # the newest snapshot
        snap = loop.snapshots.get_nowait()[0]
    assert snap.grad_history_steps.tolist() == [[1, 1], [2, 2]]
    np.testing.assert_allclose(snap.grad_history[-1], snap.record.grad_last_t, rtol=1e-12)


def test_weight_copies_follow_a_falling_loss_sooner_than_the_clock() -> None:
    """If this fails, early in a run the sampler waits up to 2 s for weights that already write
    words (copies only by the clock), or gets a copy with every snapshot (a loss that did not
    fall far enough still sends one)."""
    trainer = Trainer(load_corpus(TINY, 0.1, 33), Config(hidden=8, batch=2))
    trainer.step()
    run = Run(trainer)

    def sends(loss: float) -> bool:
        trainer.last = replace(trainer.last, smooth_loss=loss)
        return run.snapshot(p.RunState.TRAINING, "", 0).weights is not None

    assert sends(4.0)  # the first snapshot always carries weights
    assert not sends(4.0 - p.WEIGHTS_GAIN / 2)  # not far enough, and well within 2 s
    assert sends(4.0 - p.WEIGHTS_GAIN)  # fell by the gain: at once
    assert not sends(4.0 - p.WEIGHTS_GAIN)  # the next copy is measured from this one
    assert sends(4.0 - 2 * p.WEIGHTS_GAIN)
