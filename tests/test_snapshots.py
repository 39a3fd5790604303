"""The layout, frozen: screenshots from fixed, injected data (no live trainer, no timers).

Update after an intended change with `pytest tests/test_snapshots.py --snapshot-update`, and
look at the report before committing.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from conftest import TINY, booted

from rnn_tui.engine.config import Config
from rnn_tui.engine.presets import PRESETS
from rnn_tui.engine.trainer import StepRecord
from rnn_tui.run.protocol import Baselines, Command, Reply, RunState, Snapshot
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.loss_readout import HELD_OUT

pytestmark = pytest.mark.functional

T = 32  # the default BPTT window


class FixedSource:
    """Stands in for the trainer process (a RunSource): no process, nothing changes."""

    last_heard = None

    def start(self, background: bool = False) -> None: ...
    def send(self, command: Command) -> int:
        return 0

    def poll(self) -> tuple[Snapshot, ...] | None:
        return None

    def stop(self, timeout: float = 2.0) -> None: ...

    def request(self, command: Command, timeout: float = 1.0) -> Reply | None:
        return None

    def takes(self, kind: type[Command]) -> bool:
        return True

    def ended(self) -> str | None:
        return None


def fixed_snapshot(vocab_size: int) -> Snapshot:
    """A plausible moment of training: loss falling from ln(V), a fading gradient profile."""
    steps = np.arange(1, 1201, dtype=float)
    uniform = math.log(vocab_size)
    loss = 1.4 + (uniform - 1.4) * np.exp(-steps / 150)  # smoothed training loss
    val_steps = np.arange(100, 1201, 100, dtype=float)
    val = 1.55 + (uniform - 1.55) * np.exp(-val_steps / 150)
    t = np.arange(T)
    grad_last = 2.0 * 0.7 ** (T - 1 - t)  # fades by 0.7 per step back in time
    # Every later step's loss adds its own fading share: the bars rise to the left and meet
    # the last step's mark at t = T, where only that loss reaches.
    grad_t = 2.0 * (1 - 0.7 ** (T - t)) / (1 - 0.7)
    history = np.array([grad_last * (1 + 0.1 * math.sin(k)) for k in range(40)])
    record = StepRecord(
        step=1200,
        chars=1200 * 32 * T,
        loss=1.41,
        smooth_loss=float(loss[-1]),
        val_loss=float(val[-1]),
        val_step=1200,
        grad_t=grad_t,
        grad_last_t=grad_last,
        grad_norm=0.84,
        clipped=False,
        chars_per_s=98_500.0,
        lr=3e-3,
        diverged=False,
    )
    return Snapshot(
        state=RunState.TRAINING,
        record=record,
        loss_steps=steps,
        loss_values=loss,
        val_steps=val_steps,
        val_values=val,
        grad_history=history,
        lr=3e-3,
        clip_mode="norm",
        clip=5.0,
        cell="rnn",
        clip_share=0.12,
        clip_steps=100,
    )


SAMPLE = (
    "The baker opened the door and the smell of bread went down to the river. "
    'She said, "It will rain before the train comes." [bold]not markup[/bold]'
)


def fixed_app(banner: str = "") -> RnnApp:
    app = make_app(RunSpec(str(TINY), (Config(),)), UISettings(banner=banner), source=FixedSource())
    app.animate = False
    return app


async def show_fixed(pilot) -> None:
    app: RnnApp = pilot.app
    await booted(pilot)
    app.show_snapshots((fixed_snapshot(app.vocab.size),))
    app._draw_charts(force=True)
    app.sample_pane.start_sample("step 1,100 · temperature 0.8")
    app.sample_pane.append_chars(SAMPLE)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_layout(snap_compare, size: tuple[int, int]) -> None:
    """If this fails, the screen a class sees changed: panes moved, overlap, or lost a label."""
    assert snap_compare(fixed_app(), terminal_size=size, run_before=show_fixed)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_layout_with_a_preset_lesson(snap_compare, size: tuple[int, int]) -> None:
    """If this fails, a preset's lesson line or the formula strip under it changed or moved."""
    lesson = PRESETS["exploding"].lesson
    assert snap_compare(fixed_app(lesson), terminal_size=size, run_before=show_fixed)


def test_large_digits_show_the_held_out_loss_and_say_so() -> None:
    """If this fails, the big number in a large window is not the held-out loss, or nothing
    says which loss it is (the training loss keeps falling while the held-out one rises)."""

    async def main() -> None:
        app = fixed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await show_fixed(pilot)
            record = app.snapshot.record
            assert app.loss_digits.display
            assert app.loss_digits.value == f"{record.val_loss:.3f}"
            assert app.loss_digits.label.render().plain == HELD_OUT
            assert f"training loss {record.smooth_loss:.3f}" in app.loss_digits.aside.render().plain

    asyncio.run(main())


def test_help_screen(snap_compare) -> None:
    """If this fails, the help screen's layout changed or it no longer opens at 80x24."""

    async def open_help(pilot) -> None:
        await show_fixed(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        v = pilot.app.vocab.size  # the help quotes the corpus's own V and ln V
        assert f"V = {v}." in pilot.app.screen.query_one("#help-text").source

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=open_help)


PROBE_TEXT = "The baker opened the door. €uro [bold]x[/bold]"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_probe_pane(snap_compare, size: tuple[int, int]) -> None:
    """If this fails, the probe pane's look changed: its header, legend, shading or cursor line
    moved, or it no longer takes the samples' place."""

    async def open_probe(pilot) -> None:
        from textual import events

        from rnn_tui.engine.model import make_cell

        app: RnnApp = pilot.app
        await show_fixed(pilot)
        c = app.spec.configs[0]
        cell = make_cell(c.cell, app.vocab.size, c.hidden, c.dtype)
        app.lanes[0].weights = (cell.init_params(np.random.default_rng(0), rec_gain=1.5), 1200)
        await pilot.press("i")
        app.probe_input.post_message(events.Paste(PROBE_TEXT))
        await pilot.press("enter", "left", "left")
        for _ in range(400):  # the worker thread computes: wait for its last result
            await pilot.pause(0.02)
            p = app.prober
            drawn = app.probe_views[0].data.cursor == len(PROBE_TEXT) - 3
            if p.computed and drawn and not p._busy and p._waiting is None:
                break
        await pilot.pause()

    assert snap_compare(fixed_app(), terminal_size=size, run_before=open_probe)


async def show_inside(pilot, presses: int) -> None:
    """The fixed screen with seeded weights, `w` pressed `presses` times, and the inside
    views' worker finished."""
    from dataclasses import replace

    from rnn_tui.engine.model import make_cell

    app: RnnApp = pilot.app
    c = app.spec.configs[0]
    cell = make_cell(c.cell, app.vocab.size, c.hidden, c.dtype)
    params = cell.init_params(np.random.default_rng(0), rec_gain=1.5)
    snap = replace(fixed_snapshot(app.vocab.size), cell=c.cell, weights=params, weights_step=1200)
    app.show_snapshots((snap,))  # show_fixed's, in the app's own cell, with weights
    app._draw_charts(force=True)
    app.sample_pane.start_sample("step 1,100 · temperature 0.8")
    app.sample_pane.append_chars(SAMPLE)
    for _ in range(presses):
        await pilot.press("w")
    ins = app.inside
    for _ in range(400):  # the worker thread computes: wait for its last result
        await pilot.pause(0.02)
        if ins.computed and not ins._busy and ins._waiting is None:
            break
    await pilot.pause()


def fixed_cell_app(cell: str) -> RnnApp:
    app = make_app(RunSpec(str(TINY), (Config(cell=cell),)), UISettings(), source=FixedSource())
    app.animate = False
    return app


# -- the long-lag lesson: the counting line and the two floors on a log axis -------------------

LAG_T = 84  # lstm-rescue's window: one long-lag line of lag 80


def longlag_snapshot(cell: str, floor: float, fade: float, recall: float) -> Snapshot:
    """A moment of the lstm-rescue lesson for one cell: the loss falling from ln 11 towards
    `floor`, a gradient profile fading by `fade` per step back, the key recalled `recall`."""
    steps = np.arange(1, 1501, dtype=float)
    start = math.log(11)
    loss = floor + (start - floor) * np.exp(-steps / 70)
    val_steps = np.arange(100, 1501, 100, dtype=float)
    val = floor * 1.08 + (start - floor) * np.exp(-val_steps / 70)
    t = np.arange(LAG_T)
    grad_last = 0.5 * fade ** (LAG_T - 1 - t)
    grad_t = 0.5 * (1 - fade ** (LAG_T - t)) / (1 - fade)
    record = StepRecord(
        step=1500,
        chars=1500 * 32 * LAG_T,
        loss=float(loss[-1]),
        smooth_loss=float(loss[-1]),
        val_loss=float(val[-1]),
        val_step=1500,
        grad_t=grad_t,
        grad_last_t=grad_last,
        grad_norm=0.3,
        clipped=False,
        chars_per_s=28_000.0,
        lr=3e-2,
        diverged=False,
        cell_grad_t=grad_t * 0.8 if cell == "lstm" else None,
        spectral_norm=5.2 if cell == "rnn" else None,
        key_recall=recall,
        recall_chance=1 / 8,
    )
    return Snapshot(
        state=RunState.TRAINING,
        record=record,
        loss_steps=steps,
        loss_values=loss,
        val_steps=val_steps,
        val_values=val,
        grad_history=np.array([grad_last * (1 + 0.1 * math.sin(k)) for k in range(40)]),
        lr=3e-2,
        clip_mode="norm",
        clip=1.0,
        cell=cell,
        baselines=Baselines(6, 0.1132, 2 * math.log(8) / 84, math.log(8) / 84),
    )


def lstm_rescue_app() -> RnnApp:
    """The app as `rnn-tui --preset lstm-rescue` builds it, with no trainer behind it."""
    preset = PRESETS["lstm-rescue"]
    config = Config().with_(**preset.changes)
    assert preset.compare is not None
    spec = RunSpec(None, tuple(config.with_(cell=c) for c in preset.compare))
    app = make_app(spec, UISettings(banner=preset.lesson), source=FixedSource())
    app.animate = False
    return app


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_spectrum_view(snap_compare, size: tuple[int, int]) -> None:
    """If this fails, the spectrum view's look changed: its numbers, its one line of meaning,
    the unit circle or the eigenvalues moved, or it no longer takes the gradient pane's place."""

    async def run_before(pilot) -> None:
        await show_inside(pilot, 1)

    assert snap_compare(fixed_cell_app("rnn"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_gates_view(snap_compare, size: tuple[int, int]) -> None:
    """If this fails, the gates view's look changed: a gate's shares or histogram moved or
    were cut, or its meaning line went."""

    async def run_before(pilot) -> None:
        await show_inside(pilot, 2)

    assert snap_compare(fixed_cell_app("lstm"), terminal_size=size, run_before=run_before)


async def show_lstm_rescue(pilot) -> None:
    app: RnnApp = pilot.app
    rnn = longlag_snapshot("rnn", 2 * math.log(8) / 84, 0.7, 0.15)
    lstm = longlag_snapshot("lstm", 0.027, 0.99, 0.96)
    app.show_snapshots((rnn, lstm))
    app._draw_charts(force=True)
    for lane, text in zip(
        app.lanes, ("C" + "." * 80 + "=H\n", "C" + "." * 80 + "=C\n"), strict=True
    ):
        lane.sample_pane.start_sample("step 1,500 · temperature 0.8")
        lane.sample_pane.append_chars(text * 2)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_layout_of_the_lstm_rescue_lesson_with_its_floors(snap_compare, size) -> None:
    """If this fails, the long-lag lesson's loss chart changed: its log axis, the counting line
    or the two floors (forgets the key 0.050, recalls the key 0.025) moved or lost a label."""
    assert snap_compare(lstm_rescue_app(), terminal_size=size, run_before=show_lstm_rescue)


def test_layout_ascii(snap_compare) -> None:
    """If this fails, the `--ascii` screen changed: a chart, border or mark drawn otherwise
    than with the ASCII stand-ins of rnn_tui.ui.glyphs (or the layout under them moved)."""
    app = make_app(
        RunSpec(str(TINY), (Config(),)), UISettings(ascii_only=True), source=FixedSource()
    )
    app.animate = False
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_fixed)
