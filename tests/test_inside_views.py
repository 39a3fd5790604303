"""Inside the cell (UI): `w` cycles the gradient pane's place through gradients, spectrum and
gates, computed off the UI thread from each new weight copy."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest
from conftest import TINY, wait_for
from test_snapshots import FixedSource, fixed_snapshot

from rnn_tui.engine.config import Config
from rnn_tui.engine.inside import cell_spectrum
from rnn_tui.engine.model import make_cell
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.glyphs import to_ascii
from rnn_tui.ui.inside import GRADIENTS, Insider, held_out_passage
from rnn_tui.ui.lane import Lane
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.inside_pane import GATES, NO_GATES, SPECTRUM, sci
from rnn_tui.ui.widgets.status_bar import NOTICE_ROOM


def app_for(*cells: str) -> RnnApp:
    """The app on tiny.txt with one run per cell, fed by hand (no trainer process)."""
    configs = tuple(Config(cell=c) for c in cells)
    app = make_app(RunSpec(str(TINY), configs), UISettings(), source=FixedSource())
    app.animate = False
    return app


def weights_for(app: RnnApp, seed: int) -> list[dict]:
    """Seeded weights for each lane's cell."""
    out = []
    for lane, c in zip(app.lanes, app.spec.configs, strict=True):
        cell = make_cell(lane.cell.name, app.vocab.size, c.hidden, c.dtype)
        out.append(cell.init_params(np.random.default_rng(seed), rec_gain=1.5))
    return out


async def feed(pilot, params: list[dict], step: int = 1200) -> None:
    """One snapshot per lane, carrying `params` as its weight copy."""
    app: RnnApp = pilot.app
    base = fixed_snapshot(app.vocab.size)
    snaps = tuple(
        replace(base, cell=lane.cell.name, weights=p, weights_step=step)
        for lane, p in zip(app.lanes, params, strict=True)
    )
    app.show_snapshots(snaps)
    await pilot.pause()


async def settled(pilot, at_least: int = 1) -> None:
    """Wait until the inside worker has drawn its newest request."""
    ins: Insider = pilot.app.inside
    await wait_for(
        pilot,
        lambda: ins.computed >= at_least and not ins._busy and ins._waiting is None,
        what="the inside views' worker",
    )
    await pilot.pause()


def drawn(app: RnnApp, i: int = 0) -> str:
    pane = app.inside.panes[i]
    return pane.build_text(pane.size.width, pane.size.height).plain


def run(app: RnnApp, script, size=(120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await script(app, pilot)

    asyncio.run(main())


@pytest.mark.functional
def test_w_cycles_gradients_spectrum_gates_for_the_lstm() -> None:
    """If this fails, `w` does not lead from the gradients to the spectrum, the gates and back,
    or a view shows numbers that are not the model's."""

    async def script(app: RnnApp, pilot) -> None:
        params = weights_for(app, 0)
        await feed(pilot, params)
        grads, pane = app.lanes[0].grad_pane, app.inside.panes[0]
        assert grads.display and not pane.display
        assert grads.border_subtitle == "w: spectrum"

        await pilot.press("w")
        await settled(pilot)
        assert pane.display and not grads.display
        assert pane.data.view == SPECTRUM
        want = cell_spectrum(params[0], "lstm")
        text = drawn(app)
        assert f"ρ {sci(want.radius)}" in text and f"‖W_hg‖₂ {sci(want.norm)}" in text
        assert sum(0x2800 < ord(ch) <= 0x28FF for ch in text) >= 10  # braille: points, circle
        assert "spectrum of W_hg" in pane.border_title
        assert "eigenvalues" in app.notice and len(app.notice) <= NOTICE_ROOM  # whole at 80 columns

        await pilot.press("w")
        await settled(pilot)
        assert pane.data.view == GATES
        text = drawn(app)
        for stat in pane.data.gates.gates:
            assert f"{stat.word} {stat.name}  shut {100 * stat.low:.0f}%" in text
        assert [s.name for s in pane.data.gates.gates] == ["i", "f", "o"]
        assert "gates" in pane.border_title
        assert "shut (<0.1)" in app.notice and len(app.notice) <= NOTICE_ROOM

        await pilot.press("w")
        assert app.inside.view == GRADIENTS
        assert grads.display and not pane.display

    run(app_for("lstm"), script)


@pytest.mark.functional
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_ascii_spells_out_the_views_greek_letters(size: tuple[int, int]) -> None:
    """If this fails, `--ascii` shows the spectrum's rho and lambda, or a gate's mean, as "?"
    (the line filter can give them one cell only), and the class reads "? 1.2" for the
    spectral radius."""
    configs = (Config(cell="lstm"),)
    app = make_app(RunSpec(str(TINY), configs), UISettings(ascii_only=True), source=FixedSource())
    app.animate = False

    async def script(app: RnnApp, pilot) -> None:
        params = weights_for(app, 0)
        await feed(pilot, params)
        await pilot.press("w")
        await settled(pilot)
        want = cell_spectrum(params[0], "lstm")
        text = drawn(app)
        assert f"rho {sci(want.radius)}" in text and "lambda" in text
        assert "?" not in to_ascii(text), to_ascii(text)
        await pilot.press("w")
        await settled(pilot)
        assert app.inside.panes[0].data.view == GATES
        assert "?" not in to_ascii(drawn(app)), to_ascii(drawn(app))

    run(app, script, size)


@pytest.mark.functional
def test_a_vanilla_rnn_skips_the_gates() -> None:
    """If this fails, a lone vanilla RNN's cycle stops at an empty gates view, or its
    spectrum pane promises gates that `w` will not show."""

    async def script(app: RnnApp, pilot) -> None:
        await feed(pilot, weights_for(app, 1))
        await pilot.press("w")
        assert app.inside.view == SPECTRUM
        assert app.inside.panes[0].border_subtitle == "w: gradients"
        await pilot.press("w")
        assert app.inside.view == GRADIENTS
        assert app.lanes[0].grad_pane.display

    run(app_for("rnn"), script)


@pytest.mark.functional
def test_compare_mode_shows_both_models() -> None:
    """If this fails, compare mode shows one model's inside only, or claims gates for the RNN."""

    async def script(app: RnnApp, pilot) -> None:
        params = weights_for(app, 2)
        await feed(pilot, params)
        await pilot.press("w")
        await settled(pilot)
        titles = [p.border_title for p in app.inside.panes]
        assert "rnn" in titles[0] and "lstm" in titles[1]
        for i, (p, cell) in enumerate(zip(params, ("rnn", "lstm"), strict=True)):
            assert f"ρ {sci(cell_spectrum(p, cell).radius)}" in drawn(app, i)
        await pilot.press("w")
        await settled(pilot)
        assert app.inside.view == GATES
        assert " ".join(NO_GATES.split()[:4]) in drawn(app, 0)
        assert "forget f" in drawn(app, 1)

    run(app_for("rnn", "lstm"), script, size=(120, 40))


@pytest.mark.functional
def test_new_weights_redraw_the_spectrum() -> None:
    """If this fails, the spectrum stays frozen at the first weights while the model learns."""

    async def script(app: RnnApp, pilot) -> None:
        await feed(pilot, weights_for(app, 3))
        await pilot.press("w")
        await settled(pilot)
        later = weights_for(app, 4)
        later[0]["Whh"] *= 2.0  # twice the radius
        await feed(pilot, later, step=2400)
        await settled(pilot, at_least=2)
        want = cell_spectrum(later[0], "rnn")
        assert app.inside.panes[0].data.step == 2400
        assert f"ρ {sci(want.radius)}" in drawn(app)

    run(app_for("rnn"), script, size=(80, 24))


def test_latest_request_wins_while_one_runs() -> None:
    """If this fails, weight copies arriving faster than the worker computes pile up work
    (the UI falls behind) or the newest weights are never shown."""
    started = []
    lanes = [Lane(make_cell("rnn", 5, 4), 0, 10, 0, "")]
    spec = RunSpec(str(TINY), (Config(hidden=4),))
    ins = Insider(lanes, lambda: spec, tuple("abcde"), started.append, lambda fn, *a: fn(*a))
    ins.view = SPECTRUM
    cell = lanes[0].cell
    for k in range(3):  # three weight copies while the first computation runs
        lanes[0].weights = (cell.init_params(np.random.default_rng(k)), k)
        ins.request()
    assert len(started) == 1  # one thread at a time
    started.pop()()  # the first finishes: the newest waiting one starts, the middle one never
    assert len(started) == 1 and ins.found[0].step == 0
    started.pop()()
    assert not started and ins.found[0].step == 2 and ins.computed == 2
    ins.request()  # the same weights again: nothing to do
    assert not started


def test_held_out_passage_starts_at_a_line() -> None:
    """If this fails, the gates are measured from the middle of a line (the long-lag lines'
    key would be missing from the first one)."""
    text = "tail of a line\n" + "K.....=K\n" * 100
    p = held_out_passage(text, 40)
    assert p.startswith("K.....=K\n") and len(p) == 40
    assert held_out_passage("no newline here", 5) == "no ne"
