"""The app driven by its keys, with a real trainer process behind it (Textual pilot)."""

from __future__ import annotations

import asyncio
import math
import re
from pathlib import Path

import pytest
from conftest import TINY, wait_for

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets import HelpScreen, SamplePane

pytestmark = pytest.mark.functional

SMALL = Config(hidden=64, seq_len=16, batch=16, eval_every=50)


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def spec_for(config: Config = SMALL, corpus: Path = TINY, trainer_class: str = "") -> RunSpec:
    """The run of one model of `config` on `corpus` (the app's trainer process builds it)."""
    return RunSpec(str(corpus), (config,), trainer_class=trainer_class)


def step_of(app: RnnApp) -> int:
    snap = app.snapshot
    return snap.record.step if snap is not None and snap.record is not None else 0


def drive(tiny, script, config: Config = SMALL, save_path: str | None = None) -> RnnApp:
    """Run `script(app, pilot)` inside a live app at 100x30; return the app afterwards."""
    app = make_app(spec_for(config), UISettings(save_path=save_path))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            await script(app, pilot)

    asyncio.run(main())
    return app


def test_space_pauses_and_resumes(tiny) -> None:
    """If this fails, a teacher cannot freeze the picture to talk about it."""

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.snapshot.state == "paused")
        await pilot.pause(0.3)
        frozen = step_of(app)
        await pilot.pause(0.7)
        assert step_of(app) == frozen
        await pilot.press("space")
        await wait_for(pilot, lambda: step_of(app) > frozen + 5)
        assert app.snapshot.state == "training"

    drive(tiny, script)


def test_n_takes_exactly_one_step_while_paused(tiny) -> None:
    """If this fails, stepping through training one window at a time skips or stalls."""

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.snapshot.state == "paused")
        await pilot.pause(0.3)
        before = step_of(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: step_of(app) == before + 1)
        await pilot.pause(0.5)
        assert step_of(app) == before + 1

    drive(tiny, script)


def test_learning_rate_keys_reach_the_trainer(tiny) -> None:
    """If this fails, + and - change a number on screen but not how the model learns."""

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("plus")
        await wait_for(pilot, lambda: math.isclose(app.snapshot.record.lr, SMALL.lr * 1.5))
        assert app.notice == "learning rate 0.0045"  # the run's own answer does not replace it
        await pilot.press("minus", "minus")
        await wait_for(pilot, lambda: math.isclose(app.snapshot.record.lr, SMALL.lr / 1.5))

    drive(tiny, script)


def test_reset_returns_the_loss_to_uniform_guessing(tiny) -> None:
    """If this fails, `r` does not really start learning again from scratch."""
    uniform = math.log(tiny.vocab.size)

    async def script(app: RnnApp, pilot) -> None:
        await wait_for(pilot, lambda: app.snapshot.record.smooth_loss < uniform - 1.0, 60)
        # Reset while paused, so that no timing decides what is seen: the fresh model has
        # taken no step until training resumes.
        await pilot.press("space")
        await wait_for(pilot, lambda: app.snapshot.state == "paused")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.snapshot.record is None)
        assert len(app.snapshot.loss_steps) == 0
        # Nothing of the old weights stays on screen: no profile, no next-character guesses.
        lane = app.lanes[0]
        await wait_for(pilot, lambda: not lane.grad_pane._has_data, what="the profile cleared")
        assert "waiting for gradients" in lane.grad_pane.build_text(40, 10).plain
        assert lane.next_chars.shown.plain == ""
        await pilot.press("space")
        await wait_for(pilot, lambda: len(app.snapshot.loss_steps) > 0)
        # The history restarts with the fresh weights: its first point is step 1's loss.
        assert app.snapshot.loss_steps[0] == 1
        assert app.snapshot.loss_values[0] == pytest.approx(uniform, rel=0.1)

    drive(tiny, script)


def test_c_cycles_clipping(tiny) -> None:
    """If this fails, the clipping the pane reports is not the clipping in force."""

    async def script(app: RnnApp, pilot) -> None:
        assert app.snapshot.clip_mode == "norm"
        await pilot.press("c")
        await wait_for(pilot, lambda: app.snapshot.clip_mode == "off")
        assert app.notice == "clipping off"
        await pilot.press("c")
        await wait_for(pilot, lambda: app.snapshot.clip_mode == "norm")

    drive(tiny, script)


def test_temperature_keys_and_typed_samples(tiny) -> None:
    """If this fails, t / T do nothing, or the sample pane never types any text."""

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("t")
        start = SampleSettings().temperature
        assert app.sampling.temperature == pytest.approx(start - 0.1)
        await pilot.press("T", "T")
        assert app.sampling.temperature == pytest.approx(start + 0.1)
        pane = app.query_one(SamplePane)
        await wait_for(pilot, lambda: sum(len(t) for _, t in pane.samples) > 20)
        # The first weights may be step 1's or, if newer ones came in the same poll, those.
        assert re.search(r"step \d+ · temperature", pane.samples[0][0])

    drive(tiny, script)


def test_s_saves_a_checkpoint_and_says_where(tiny, tmp_path: Path) -> None:
    """If this fails, `s` loses the model the class just watched learn."""
    target = tmp_path / "saved.npz"

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("s")
        await wait_for(pilot, lambda: target.exists() and "saved" in app.notice)
        assert str(target) in app.notice

    drive(tiny, script, save_path=str(target))
    ckpt = load_checkpoint(target)
    assert ckpt.step > 0 and ckpt.vocab == tiny.vocab.chars


def test_help_opens_and_closes(tiny) -> None:
    """If this fails, `?` does not explain the panes, or the help cannot be left."""

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("q")  # on the help screen q closes the help, not the app
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        assert app.is_running and app.return_code is None

    drive(tiny, script)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_q_quits_and_stops_the_worker(tiny, key: str) -> None:
    """If this fails, quitting leaves a training process behind, eating a core."""

    async def script(app: RnnApp, pilot) -> None:
        await pilot.press(key)

    app = drive(tiny, script)
    assert app.return_code == 0
    assert not app.source.process.is_alive()


def test_load_resumes_in_the_app(tiny, tmp_path: Path) -> None:
    """If this fails, `rnn-tui PATH --load CHECKPOINT` starts from scratch instead of resuming."""
    from rnn_tui.engine.checkpoint import save_checkpoint

    trainer = Trainer(tiny, SMALL)
    for _ in range(40):
        trainer.step()
    path = save_checkpoint(tmp_path / "run.npz", trainer)
    app = make_app(RunSpec(str(TINY), (SMALL,), load=path))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            assert step_of(app) > 40
            assert app.snapshot.record.loss < math.log(tiny.vocab.size) - 0.5

    asyncio.run(main())


def test_l_switches_the_cell_and_restarts(tiny) -> None:
    """If this fails, a teacher cannot move from the RNN to the LSTM without restarting."""

    async def script(app: RnnApp, pilot) -> None:
        await wait_for(pilot, lambda: step_of(app) > 20)
        await pilot.press("l")
        await wait_for(pilot, lambda: app.snapshot.cell == "lstm" and step_of(app) > 0)
        assert app.cell.name == "lstm"
        assert app.snapshot.loss_steps[0] == 1  # a fresh history: training restarted
        assert app.snapshot.loss_values[0] == pytest.approx(math.log(tiny.vocab.size), rel=0.1)
        await pilot.press("l")
        await wait_for(pilot, lambda: app.snapshot.cell == "gru")

    drive(tiny, script)
