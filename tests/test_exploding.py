"""The exploding-gradient lesson: the preset's profile grows toward the past for hundreds of steps,
and a step that blows up (|g| above BLOWUP_NORM with clipping off) is noticed once per reset: the
app pauses there and says what happened and what to press, a headless run says so and goes on."""

from __future__ import annotations

import asyncio
import io
import json
import math
import queue
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, wait_for

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.presets import PRESETS
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run import protocol as p
from rnn_tui.run.blowup import (
    BLOWUP_NORM,
    WEIGHTS_JUMP,
    BlowupWatch,
    short_float,
    weights_norm,
    weights_size,
)
from rnn_tui.run.build import build_trainers
from rnn_tui.run.headless import run_headless
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.worker import TrainerLoop
from rnn_tui.ui.widgets.status_bar import NOTICE_ROOM

EXPLODING = Config().with_(**PRESETS["exploding"].changes)  # what `--preset exploding` trains
# The same at --lr 0.3: one plain SGD step on the exploded gradient throws W_hh far away. Eight
# streams instead of 32: cheaper steps, and once clipped it learns within 200 steps (32: ~600).
BLOWING = EXPLODING.with_(lr=0.3, batch=8, eval_every=50)
BANNER = re.compile(r"step (\d+): \|g\| exploded to (\S+), ‖W_hh‖₂ (\S+); c clips, r resets")


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def loop_of(trainers: list[Trainer], tmp_path: Path) -> TrainerLoop:
    return TrainerLoop(trainers, queue.Queue(), queue.Queue(maxsize=1000), str(tmp_path / "log"))


def newest(loop: TrainerLoop) -> p.Snapshot:
    out = None
    while not loop.snapshots.empty():
        out = loop.snapshots.get_nowait()
    assert out is not None
    return out[0]


def train_until_paused(loop: TrainerLoop, limit: int) -> int:
    """Train like the loop does, step by step, until it pauses itself; return the steps taken."""
    for n in range(1, limit + 1):
        loop._train_step()
        if loop.paused:
            return n
    return limit + 1


# -- the rule ------------------------------------------------------------------------------------


def test_watch_fires_once_per_reset_and_only_without_clipping(tiny) -> None:
    """If this fails, the app pauses on every large gradient (or on a clipped one, which cannot
    hurt), or never again after `r` although the fresh weights blow up again."""
    trainer = Trainer(tiny, Config(hidden=16, seq_len=8, batch=4, clip_mode="off"))
    record = trainer.step()
    big = replace(record, grad_norm=BLOWUP_NORM * 1.01)
    small = replace(record, grad_norm=BLOWUP_NORM * 0.99)
    watch = BlowupWatch(trainer)
    assert not watch.check(small)
    for mode in ("norm", "value"):  # the clipping in force is the trainer's own
        trainer.set_config(trainer.config.with_(clip_mode=mode))
        assert not watch.check(big)
    trainer.set_config(trainer.config.with_(clip_mode="off"))
    assert watch.check(big)
    assert not watch.check(big)  # once
    watch.reset()
    assert watch.check(big)  # news again after a reset


def test_watch_fires_when_one_step_throws_the_weights_whatever_g(tiny) -> None:
    """If this fails, `--preset exploding --lr 0.3` (the lesson's own command) wrecks the
    weights in its first step and trains on without a word: its |g| (554) stays below
    BLOWUP_NORM, and once the tanh units saturate it never comes back."""
    trainer = Trainer(tiny, EXPLODING.with_(lr=0.3))  # 32 streams, as the app trains it
    watch = BlowupWatch(trainer)
    before = weights_size(trainer)
    record = trainer.step()
    assert record.grad_norm < BLOWUP_NORM  # the gradient rule alone would stay silent
    assert weights_size(trainer) > WEIGHTS_JUMP * before
    assert watch.check(record)
    # Healthy growth, and any growth under clipping, is no blow-up; nor is the first step
    # watched after clipping was on (the weights were not weighed before it).
    calm = Trainer(tiny, Config(hidden=16, seq_len=8, batch=4, clip_mode="off"))
    watch = BlowupWatch(calm)
    for _ in range(20):
        assert not watch.check(calm.step())
    clipped = Trainer(tiny, EXPLODING.with_(lr=0.3, clip_mode="norm"))
    assert not BlowupWatch(clipped).check(clipped.step())  # clipped: no harm done
    calm.set_config(calm.config.with_(clip_mode="norm"))
    assert not watch.check(calm.step())
    for w in calm.params.values():
        w *= 3  # thrown while clipping was on: not by a step the watch weighed
    calm.set_config(calm.config.with_(clip_mode="off"))
    assert not watch.check(calm.step()) and not watch.check(calm.step())


def test_numbers_in_the_line_are_short_and_right() -> None:
    """If this fails, the blow-up line shows 3.1e+04 or 5.5e+02 where 3.1e4 and 550 fit."""
    assert short_float(31234.0) == "3.1e4"
    assert short_float(554.0) == "550" and short_float(999.0) == "1000"
    assert short_float(41.4) == "41"
    assert short_float(0.52) == "0.52"
    assert short_float(4.3e7) == "4.3e7"
    assert short_float(2e-5) == "2.0e-5"
    assert float(short_float(12345.0)) == pytest.approx(12345.0, rel=0.05)


def test_weights_norm_is_the_exact_spectral_norm(tiny) -> None:
    """If this fails, the banner reports a lagging estimate of ‖W_hh‖₂ right after a jump, or
    the pane beside it another number than the banner's."""
    trainer = Trainer(tiny, EXPLODING.with_(hidden=24))
    trainer.step()
    trainer.params["Whh"] *= 5  # a jump the tracked estimate has not seen
    W = trainer.params["Whh"].astype(np.float64)
    sigma = np.linalg.svd(W, compute_uv=False)[0]  # (24,) singular values, largest first
    shown = weights_norm(trainer).split()
    assert shown[0] == "‖W_hh‖₂"
    assert float(shown[1]) == pytest.approx(sigma, rel=0.05)  # two significant digits
    assert trainer.last.spectral_norm == pytest.approx(sigma, rel=1e-6)  # the pane's too
    gated = Trainer(tiny, EXPLODING.with_(cell="lstm", hidden=24))
    total = math.sqrt(sum(float((v.astype(np.float64) ** 2).sum()) for v in gated.params.values()))
    label, value = weights_norm(gated, unicode=False).split()
    assert label == "|theta|" and float(value) == pytest.approx(total, rel=0.05)


# -- the trainer process's loop --------------------------------------------------------------------


def test_loop_pauses_itself_at_the_first_blow_up_and_r_goes_on(tiny, tmp_path: Path) -> None:
    """If this fails, the exploded profile scrolls away within a second and the class sees the
    saturated, vanishing one instead; or r after c leaves the run paused."""
    loop = loop_of([Trainer(tiny, BLOWING)], tmp_path)
    steps = train_until_paused(loop, 20)
    assert steps <= 20, "the lr 0.3 run never blew up"
    loop.publish(force=True)
    snap = newest(loop)
    assert snap.state is p.RunState.PAUSED and not snap.record.diverged
    assert steps == 1  # its first step threw the weights (see WEIGHTS_JUMP)
    m = BANNER.fullmatch(snap.message)
    assert m is not None, snap.message
    assert int(m[1]) == snap.record.step == steps
    assert float(m[2]) == pytest.approx(snap.record.grad_norm, rel=0.05)
    # The pane's ‖W_hh‖₂ is the exact one, as the status line's: not the estimate that lags.
    W = loop.runs[0].trainer.params["Whh"].astype(np.float64)
    assert snap.record.spectral_norm == pytest.approx(np.linalg.norm(W, 2), rel=1e-6)
    assert float(m[3]) == pytest.approx(snap.record.spectral_norm, rel=0.05)
    # c then r: clipping on, fresh weights, and training goes on by itself.
    loop.handle(p.Request(0, p.SetHyper(clip_mode="norm")))
    assert loop.paused  # c alone does not resume
    loop.handle(p.Request(0, p.Reset()))
    assert not loop.paused and newest(loop).state is p.RunState.STARTING
    for _ in range(60):  # the clipped run: the same exploding gradient, now harmless
        loop._train_step()
    assert not loop.paused


def test_blow_up_is_told_once_per_reset(tiny, tmp_path: Path) -> None:
    """If this fails, a run that goes on after a blow-up pauses again and again, or a reset run
    that blows up again goes unnoticed."""
    loop = loop_of([Trainer(tiny, BLOWING)], tmp_path)
    first = train_until_paused(loop, 20)
    assert first <= 20
    loop.handle(p.Request(0, p.Resume()))  # space: go on without clipping
    for _ in range(30):
        loop._train_step()
    assert not loop.paused
    loop.handle(p.Request(0, p.Reset()))  # still no clipping: the fresh weights blow up again
    assert not loop.paused  # r after the user resumed keeps training
    assert train_until_paused(loop, 20) == first


def test_user_pause_then_reset_stays_paused(tiny, tmp_path: Path) -> None:
    """If this fails, r while a teacher has paused to talk starts training behind their back."""
    loop = loop_of([Trainer(tiny, BLOWING)], tmp_path)
    train_until_paused(loop, 20)
    loop.handle(p.Request(0, p.Pause()))  # the user takes over
    loop.handle(p.Request(0, p.Reset()))
    assert loop.paused


def test_a_new_cell_trains_on_after_a_blow_up_and_waits_while_the_user_pauses(
    tiny, tmp_path: Path
) -> None:
    """If this fails, l after a blow-up (the LSTM as the way out) leaves the new model paused
    with no key to say why, or l while a teacher has paused starts training behind their
    back, or the status line says "training" over a paused run."""
    loop = loop_of([Trainer(tiny, BLOWING)], tmp_path)
    train_until_paused(loop, 20)
    loop.handle(p.Request(0, p.SwitchCell("lstm")))
    assert not loop.paused and newest(loop).message.startswith("training a new lstm")
    loop.handle(p.Request(0, p.Pause()))
    loop.handle(p.Request(0, p.SwitchCell("gru")))
    assert loop.paused
    message = newest(loop).message
    assert message.startswith("new gru") and message.endswith("paused: space trains it")
    assert len(message) <= NOTICE_ROOM, message


def test_stepping_through_a_blow_up_keeps_the_run_paused_after_r(tiny, tmp_path: Path) -> None:
    """If this fails, a teacher stepping with n through the blow-up presses r and the run starts
    training behind their back instead of waiting for the next n."""
    loop = loop_of([Trainer(tiny, BLOWING)], tmp_path)
    for _ in range(20):
        loop.handle(p.Request(0, p.Step()))
        if loop.watches[0].fired:
            break
    assert loop.watches[0].fired and "exploded" in newest(loop).message
    loop.handle(p.Request(0, p.Reset()))
    assert loop.paused


def test_compare_mode_names_the_cell_that_blew_up(tiny, tmp_path: Path) -> None:
    """If this fails, two runs side by side pause without saying which one exploded."""
    trainers = [Trainer(tiny, BLOWING), Trainer(tiny, BLOWING.with_(cell="lstm"))]
    loop = loop_of(trainers, tmp_path)
    assert train_until_paused(loop, 20) <= 20
    fired = [r.trainer.config.cell for r, w in zip(loop.runs, loop.watches, strict=True) if w.fired]
    assert fired and re.match(rf"{fired[-1]}: step \d+: \|g\| exploded to ", loop.message)


@pytest.mark.parametrize(
    ("config", "corpus"),
    [
        (Config(clip_mode="off"), str(TINY)),
        (Config().with_(**PRESETS["vanishing"].changes).with_(clip_mode="off"), None),
        (
            Config().with_(**PRESETS["lstm-rescue"].changes).with_(cell="lstm", clip_mode="off"),
            None,
        ),
    ],
    ids=["default", "vanishing", "lstm-rescue"],
)
@pytest.mark.functional
def test_healthy_runs_never_pause(tmp_path: Path, config: Config, corpus: str | None) -> None:
    """If this fails, a run that learns well stops by itself to warn of an explosion that is not
    there. Clipping is off here, so the rule is really asked (None: the long-lag corpus)."""
    loop = loop_of(build_trainers(RunSpec(corpus, (config,))), tmp_path)
    assert train_until_paused(loop, 300) == 301
    assert "exploded" not in loop.message


# -- the preset, headless ------------------------------------------------------------------------


@pytest.mark.functional
def test_exploding_preset_grows_toward_the_past_for_hundreds_of_steps(tiny) -> None:
    """If this fails, `--preset exploding` shows the gradient exploding for a moment and then
    the saturated, vanishing profile: the lesson is gone before it is seen."""
    steps = 300  # ~10 s in the app; measured: ratio > 1 at every one of the first 2,000 steps
    trainer = Trainer(tiny, EXPLODING)
    metrics, out = io.StringIO(), io.StringIO()
    assert run_headless(trainer, steps, metrics, log_every=1, out=out) == 0
    rows = [json.loads(line) for line in metrics.getvalue().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))
    ratios = np.array([r["grad_last_t"][0] / r["grad_last_t"][-1] for r in rows])
    assert np.mean(ratios > 1) >= 0.9, f"ratio > 1 in {np.mean(ratios > 1):.0%} of the steps"
    assert np.median(ratios) > 100  # two decades or more: plainly visible on the log axis
    sigma = [r["spectral_norm"] for r in rows[20:]]  # the estimate has settled by then
    assert max(sigma) < 1.1 * min(sigma)  # W_hh stays where it started: no blow-up
    assert "exploded" not in out.getvalue()


@pytest.mark.functional
def test_headless_tells_a_blow_up_once_and_trains_on(tiny) -> None:
    """If this fails, a script with clipping off either dies at a blow-up it could survive,
    or is never told why its loss went wrong."""
    out = io.StringIO()
    code = run_headless(Trainer(tiny, BLOWING), 60, None, out=out)
    lines = [line for line in out.getvalue().splitlines() if "exploded" in line]
    assert len(lines) == 1, out.getvalue()
    assert re.fullmatch(
        r"step \d+: \|g\| exploded to \S+, \|W_hh\|_2 \S+ \(clipping is off;"
        r" --clip-mode norm clips it\); training goes on",
        lines[0],
    )
    assert code == 0 and "step      60" in out.getvalue()  # all 60 steps, then the report


# -- the app -------------------------------------------------------------------------------------


@pytest.mark.functional
def test_app_pauses_at_the_blow_up_then_c_and_r_learn(tiny) -> None:
    """If this fails, a class sees the gradient blow up and, a second later, a vanishing profile
    with no word of what happened; or c and r do not bring back a run that learns."""
    from test_app import spec_for, step_of

    from rnn_tui.ui.app import make_app

    app = make_app(spec_for(BLOWING))

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.message != "")
            await wait_for(pilot, lambda: "exploded" in app.notice)
            snap = app.snapshot
            assert snap.state is p.RunState.PAUSED
            assert BANNER.fullmatch(app.notice), app.notice
            assert app.notice in app.status_bar.plain_text
            blown = step_of(app)
            await pilot.pause(0.5)
            assert step_of(app) == blown  # it stays there until told
            await pilot.press("c")
            await wait_for(pilot, lambda: app.snapshot.clip_mode == "norm")
            await pilot.press("r")
            await wait_for(pilot, lambda: app.snapshot.state is p.RunState.TRAINING)
            await wait_for(pilot, lambda: step_of(app) > 0 and app.snapshot.loss_steps[0] == 1)
            start = app.snapshot.loss_values[0]
            await wait_for(pilot, lambda: app.snapshot.record.smooth_loss < start - 0.5, 120)
            assert app.snapshot.state is p.RunState.TRAINING

    asyncio.run(main())
