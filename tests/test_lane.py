"""The sampler of a lane starts over when much better weights arrive (issue 16: words sooner)."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
from test_snapshots import fixed_snapshot

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Vocab
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.probe import probe_model
from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.ui.lane import MIN_SHOWN, RESTART_GAIN, START_STEPS, Lane

VOCAB = Vocab.from_text("abc def ghi\n")


def _snap(cell: object, loss: float, step: int):  # type: ignore[no-untyped-def]
    base = fixed_snapshot(VOCAB.size)
    record = replace(base.record, smooth_loss=loss, step=step)
    weights = cell.init_params(np.random.default_rng(0))  # type: ignore[attr-defined]
    return replace(base, record=record, weights=weights, weights_step=step)


KNOWS = 0.5 * math.log(VOCAB.size)  # a loss well below the uniform guess: weights that know


def test_much_better_weights_cut_the_sample_short() -> None:
    """If this fails, a sample holds the pane while far better weights wait (the first words
    come late), a sample is cut before a line of it can be read, or late in a run every small
    improvement cuts samples short so none is read to its end."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    lane.take(_snap(cell, KNOWS, 1))
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == 3 and not lane.restart
    lane.take(_snap(cell, KNOWS - RESTART_GAIN / 2, 40))  # a little better: typing goes on
    assert not lane.better
    lane.take(_snap(cell, KNOWS - RESTART_GAIN, 80))  # better: a new sample soon
    lane.type(MIN_SHOWN - 4, VOCAB, SampleSettings(), paused=False)  # ... not before MIN_SHOWN
    assert lane.typed == MIN_SHOWN - 1 and lane.header.startswith("step 1 ")
    lane.type(1, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == MIN_SHOWN  # shown in full: the next tick starts the new sample
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == 3 and lane.header.startswith("step 80")
    assert [h for h, _ in lane.samples_so_far()][0].startswith("step 1 ")


def test_the_better_the_weights_the_sooner_the_sample_gives_way() -> None:
    """If this fails, a sample of noise holds the pane for over a second while weights a
    whole nat better, which write words, wait (early in a run the loss falls that fast)."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    lane.take(_snap(cell, KNOWS, 1))
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    lane.take(_snap(cell, KNOWS - 4 * RESTART_GAIN, 60))  # four times the gain: a quarter
    need = MIN_SHOWN // 4
    lane.type(need - 4, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == need - 1 and lane.header.startswith("step 1 ")
    lane.type(1, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == need  # enough of it seen: the next tick starts the better sample
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == 3 and lane.header.startswith("step 60")


def test_a_sample_of_weights_that_know_nothing_is_cut_at_once() -> None:
    """If this fails, the first sample, from nearly random weights, holds the pane for over a
    second while weights that already write words wait."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    uniform = math.log(VOCAB.size)
    lane.take(_snap(cell, uniform, 1))
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    lane.take(_snap(cell, uniform - RESTART_GAIN, 30))
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == 3 and lane.header.startswith("step 30")


def test_paused_the_sample_is_finished_before_better_weights_show() -> None:
    """If this fails, pausing freezes a sample half typed when better weights had come (or
    starts a new one from them), instead of typing the sample on screen to its end."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, MIN_SHOWN + 20, 0, "")
    lane.take(_snap(cell, KNOWS, 1))
    lane.type(MIN_SHOWN, VOCAB, SampleSettings(), paused=False)
    lane.take(_snap(cell, KNOWS - 2 * RESTART_GAIN, 80))
    lane.type(10, VOCAB, SampleSettings(), paused=True)
    assert lane.typed == MIN_SHOWN + 10 and lane.header.startswith("step 1 ")
    lane.type(100, VOCAB, SampleSettings(), paused=True)
    assert lane.typed == MIN_SHOWN + 20 and lane.header.startswith("step 1 ")  # to its end
    lane.type(5, VOCAB, SampleSettings(), paused=True)
    assert lane.typed == MIN_SHOWN + 20 and lane.header.startswith("step 1 ")  # then rests


def test_weights_of_another_cell_are_not_sampled_from() -> None:
    """If this fails, a cell switch (`l`) can crash the app: a copy of the old cell's weights
    carried over by the source reaches the new cell's sampler (KeyError 'Wx' in LSTM.step)."""
    rnn = make_cell("rnn", VOCAB.size, 8, "float32")
    lstm = make_cell("lstm", VOCAB.size, 8, "float32")
    lane = Lane(rnn, 0, 200, 0, "")
    lane.take(_snap(rnn, 4.0, 1))
    stale = replace(_snap(rnn, 4.0, 2), cell="lstm")  # the new cell, the old cell's weights
    lane.take(stale)
    assert lane.cell.name == "lstm" and lane.weights is None
    lane.type(3, VOCAB, SampleSettings(), paused=False)  # nothing to sample from yet
    lane.take(replace(_snap(lstm, 4.0, 3), cell="lstm"))  # its own weights are taken
    assert lane.weights is not None and lane.weights[1] == 3


def test_a_new_cell_of_another_size_is_sampled_at_its_own_size() -> None:
    """If this fails, after `l` brings the LSTM its own H (256 where the RNN had 128) the
    lane keeps a model of the old size: the new weights never fit and the samples stop, or
    the probe, the inside views and a save describe the weights with the old H."""
    rnn = make_cell("rnn", VOCAB.size, 8, "float32")
    lstm = make_cell("lstm", VOCAB.size, 12, "float32")
    lane = Lane(rnn, 0, 200, 0, "")
    lane.take(_snap(rnn, 4.0, 1))
    switched = replace(_snap(rnn, 4.0, 2), cell="lstm", hidden=12, weights=None, record=None)
    lane.take(switched)  # paused right after the switch: no step, no weights yet
    assert (lane.cell.name, lane.cell.H, lane.n_params) == ("lstm", 12, lstm.n_params())
    lane.take(replace(_snap(rnn, 4.0, 2), cell="lstm", hidden=12))  # stale: the old cell's
    assert lane.weights is None
    lane.take(replace(_snap(lstm, 4.0, 3), cell="lstm", hidden=12))
    assert (lane.cell.name, lane.cell.H, lane.n_params) == ("lstm", 12, lstm.n_params())
    assert lane.weights is not None and lane.weights[1] == 3
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == 3 and lane.hidden_values().shape == (3, 12)
    config = lane.config_of(Config(seed=7))  # what the probe, inside views and saves build on
    assert config == Config(seed=7, cell="lstm", hidden=12)
    pm = probe_model(lane.weights[0], config, VOCAB.chars)  # refuses weights of another shape
    assert pm.cell.H == 12


def test_weights_that_lost_ground_leave_the_sample_its_full_line() -> None:
    """If this fails, weights no better than the sample's (the run was reset, or blew up,
    after much better ones had come) crash the typing (a gain of zero) or cut the sample at
    once."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    lane.take(_snap(cell, KNOWS, 1))
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    lane.take(_snap(cell, KNOWS - 4 * RESTART_GAIN, 60))  # much better: a cut is due ...
    lane.take(_snap(cell, KNOWS, 61))  # ... then back where the sample's weights were
    lane.type(MIN_SHOWN - 4, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == MIN_SHOWN - 1 and lane.header.startswith("step 1 ")
    lane.type(1, VOCAB, SampleSettings(), paused=False)
    lane.type(1, VOCAB, SampleSettings(), paused=False)
    assert lane.typed == 1 and lane.header.startswith("step 61")


def test_a_new_sample_takes_the_newest_weights_the_trainer_sent() -> None:
    """If this fails, the sample that replaces an early one is written by the weights that
    first beat it, a few hundred steps stale by the time it has shown enough: the trainer
    sends copies in smaller steps than a sample gives way, so the app holds fresher ones."""
    from rnn_tui.run.protocol import WEIGHTS_GAIN

    assert WEIGHTS_GAIN < RESTART_GAIN  # copies come between two restarts
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    lane.take(_snap(cell, KNOWS, 1))
    lane.type(3, VOCAB, SampleSettings(), paused=False)
    lane.take(_snap(cell, KNOWS - RESTART_GAIN, 80))  # beats the sample: it gives way soon
    lane.take(_snap(cell, KNOWS - RESTART_GAIN - WEIGHTS_GAIN, 120))  # the next copy
    lane.type(MIN_SHOWN, VOCAB, SampleSettings(), paused=False)  # shown enough
    lane.type(3, VOCAB, SampleSettings(), paused=False)  # the next tick: the new sample
    assert lane.header.startswith("step 120")


def test_a_run_is_young_for_its_first_start_steps() -> None:
    """If this fails, samples type at the early, faster pace for the whole run (unreadable
    later), or never (the first words of a run wait on noise typed at reading pace)."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    assert not lane.young()  # no weights yet: nothing is typed at any pace
    lane.take(_snap(cell, 4.0, 1))
    assert lane.young()
    lane.take(_snap(cell, 3.0, START_STEPS - 1))
    assert lane.young()
    lane.take(_snap(cell, 2.0, START_STEPS))
    assert not lane.young()
    lane.take(_snap(cell, 4.0, 0))  # a reset (or a cell switch) starts the run again
    assert lane.young()


def test_the_recall_reach_reads_like_the_ratio_beside_it() -> None:
    """If this fails, the long-lag lesson's g[key]/g[=] reads "0.0e+00" or "4.3e+00" beside a
    ratio that reads "0 (underflow)" and "0.24": two ways of writing numbers in one pane."""
    cell = make_cell("rnn", VOCAB.size, 8, "float32")
    lane = Lane(cell, 0, 200, 0, "")
    for reach, shown in ((0.0, "0"), (4.3, "4.3"), (2e-9, "2.0e-09")):
        snap = _snap(cell, KNOWS, 5)
        lane.take(replace(snap, record=replace(snap.record, recall_reach=reach)))
        lane.draw_grads(None)
        text = lane.grad_pane.build_text(100, 20).plain
        assert re.search(rf"g\[key\]/g\[=\] {re.escape(shown)}(\s|$)", text), (reach, text[:300])
