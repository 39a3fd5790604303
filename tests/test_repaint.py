"""What the panes repaint, and what the loss chart's axes do while a run goes on (issue 16:
the terminal output and the UI's CPU while training)."""

from __future__ import annotations

import asyncio
import types
from dataclasses import replace

import numpy as np
import pytest
from conftest import patience
from textual.app import App, ComposeResult
from textual.widget import Widget

from rnn_tui.ui.widgets import SamplePane, StatusBar
from rnn_tui.ui.widgets.drawn import changed_upto
from rnn_tui.ui.widgets.loss_chart import axis_end, downsample
from rnn_tui.ui.widgets.next_chars import NextChars


def test_changed_upto_reaches_the_last_changed_cell() -> None:
    """If this fails, a status or next-character line is sent whole for a change in its
    middle, or a cell that changed (or a longer old text that must be blanked) is left
    stale on the screen."""
    assert changed_upto("step 100  9k chars/s  lr 0.1", "step 100  9k chars/s  lr 0.1") == 0
    assert changed_upto("step 100  9k chars/s  lr 0.1", "step 101  9k chars/s  lr 0.1") == 8
    assert changed_upto("next: a 40%", "next: b 40% ▂") == 13  # the new one is longer
    assert changed_upto("next: a 40% ▂", "next: a 40%") == 13  # the old one must be blanked
    assert changed_upto("界 1", "界 2") == 4  # a wide character takes two cells


def test_step_axis_ends_at_a_round_step_and_stays_there() -> None:
    """If this fails, the loss chart's step axis moves at every redraw (every row of the
    chart is sent again twice a second), leaves more than a quarter of the width empty, or
    cuts off the newest point."""
    assert axis_end(1200.0) == 1200.0 and axis_end(1201.0) == 1500.0
    assert axis_end(7.0) == 8.0 and axis_end(81.0) == 100.0 and axis_end(0.5) == 0.5
    for step in np.geomspace(3.0, 3e6, 400):
        end = axis_end(float(step))
        assert step * (1 - 1e-12) <= end <= step / 0.75 * (1 + 1e-12), step
    ends = {axis_end(float(s)) for s in range(1000, 2001)}
    assert ends == {1000.0, 1200.0, 1500.0, 2000.0}  # four axes for a thousand steps


def test_downsample_on_a_fixed_axis_changes_only_the_newest_bucket() -> None:
    """If this fails, each new loss point shifts every averaged point of the drawn curve, so
    the whole curve is drawn and sent again at every redraw."""
    x = np.arange(1.0, 3001.0)
    y = 4.0 * np.exp(-x / 500) + np.sin(x)
    # 100 buckets of 40 steps over [1, 4001]: points 1961..2000 go to bucket 49.
    a_x, a_y = downsample(x[:1985], y[:1985], 100, 1.0, 4001.0)
    b_x, b_y = downsample(x[:1995], y[:1995], 100, 1.0, 4001.0)
    assert a_x.size == b_x.size == 51
    # All buckets but the newest (and the last point, appended as it is) are unchanged.
    np.testing.assert_allclose(b_x[:-2], a_x[:-2], rtol=0)
    np.testing.assert_allclose(b_y[:-2], a_y[:-2], rtol=0)
    assert b_x[-1] == 1995.0 and b_y[-1] == y[1994]
    np.testing.assert_allclose(b_y[-2], y[1960:1994].mean(), rtol=1e-12)
    np.testing.assert_allclose(a_y[0], y[:40].mean(), rtol=1e-12)  # bucket 0: steps 1..40


class One(App[None]):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def _repainted(widget: Widget) -> set[tuple[int, int, int, int]]:
    """The regions the widget asked to repaint since the last frame, then forgotten."""
    regions = {(r.x, r.y, r.width, r.height) for r in widget._repaint_regions}
    widget._repaint_regions.clear()
    return regions


@pytest.mark.functional
def test_next_chars_repaints_up_to_its_last_changed_cell() -> None:
    """If this fails, the next-character line is sent whole, blank rest of the pane
    included, five times a second; or a change is left off the screen."""
    line = NextChars()

    async def main() -> None:
        async with One(line).run_test(size=(80, 3)) as pilot:
            line.show([("e", 0.41), (" ", 0.22)], chosen="e")
            await pilot.pause()
            _repainted(line)
            line.show([("e", 0.41), (" ", 0.22)], chosen="e")  # the same: nothing
            assert _repainted(line) == set()
            line.show([("e", 0.43), (" ", 0.22)], chosen="e")
            width = len("next: e  43")  # up to the changed digit, padding left of it
            assert _repainted(line) == {(1, 0, width, 1)}
            line.show([("e", 0.43), (" ", 0.22)], chosen=" ")  # another one chosen
            assert _repainted(line) == {(0, 0, 80, 1)}
            await pilot.pause()
            assert "␣  22%" in str(line.render())

    asyncio.run(main())


@pytest.mark.functional
def test_status_bar_paints_held_back_counts_with_the_next_status() -> None:
    """If this fails, the step and speed held back between two repaints are painted by a timer
    of their own, one more frame four times a second (a fifth more work for the UI), or are
    never painted when no status follows them."""
    bar = StatusBar()
    common = {"corpus": "tiny.txt", "vocab": 65, "cell": "rnn", "params": 34000}
    more = {"chars_per_s": 9e4, "state": "training", "lr": 0.003, "temperature": 0.8}

    async def main() -> None:
        async with One(bar).run_test(size=(100, 3)) as pilot:
            bar.set_status(**common, step=100, **more)
            await pilot.pause()
            _repainted(bar)
            bar.set_status(**common, step=101, **more)  # just painted: held back
            assert _repainted(bar) == set() and bar._pending is not None
            bar._painted_at -= bar.COUNTS_EVERY  # as if COUNTS_EVERY had passed
            bar.set_status(**common, step=102, **more)  # painted now, in this frame
            assert len(_repainted(bar)) == 1 and bar._pending is None
            bar.COUNTS_LATE = 0.05
            bar.set_status(**common, step=103, **more)  # held back, and no status follows
            assert _repainted(bar) == set()
            held_at = bar._painted_at
            await pilot.pause(patience(0.5))
            assert bar._pending is None and bar._painted_at > held_at  # the timer painted

    asyncio.run(main())


@pytest.mark.functional
def test_status_bar_repaints_the_changed_counts_only() -> None:
    """If this fails, the status line is sent whole four times a second while only the step
    and the speed changed, or a new state's badge colour does not reach the screen."""
    bar = StatusBar()
    common = {"corpus": "tiny.txt", "vocab": 65, "cell": "rnn", "params": 34000}
    more = {"lr": 0.003, "temperature": 0.8}

    async def main() -> None:
        async with One(bar).run_test(size=(100, 3)) as pilot:
            bar.set_status(**common, step=100, chars_per_s=9e4, state="training", **more)
            await pilot.pause()
            _repainted(bar)
            bar.COUNTS_EVERY = 0.0  # paint the counts at once
            bar.set_status(**common, step=101, chars_per_s=9e4, state="training", **more)
            regions = _repainted(bar)
            assert len(regions) == 1
            (x, y, w, h), plain = regions.pop(), bar.plain_text
            assert (x, y, h) == (1, 0, 1)  # from the left edge (after the padding)
            assert w == plain.index("step 101") + len("step 101") + 1  # the badge's spaces
            await pilot.pause()
            _repainted(bar)
            bar.set_status(**common, step=101, chars_per_s=9e4, state="paused", **more)
            # Another badge: the line up to the end of the longer text, the badge included.
            assert {(x, w) for x, _, w, _ in _repainted(bar)} == {(1, len(plain) + 1)}

    asyncio.run(main())


@pytest.mark.functional
def test_sample_pane_grows_without_a_new_layout() -> None:
    """If this fails, every typed row that scrolls the sample pane lays out the whole screen
    again (a sixth of the UI's CPU while training), or the pane stops following the end."""
    pane = SamplePane()

    async def main() -> None:
        async with One(pane).run_test(size=(30, 6)) as pilot:
            pane.start_sample("step 1")
            pane.append_chars("word " * 40)  # more rows than the pane: the scrollbar shows
            await pilot.pause()
            layouts = pane._layout_updates
            for _ in range(10):
                pane.append_chars("more words ")
                await pilot.pause()
            assert pane._layout_updates == layouts
            assert pane.virtual_size.height == pane.row_count
            assert pane.is_vertical_scroll_end

    asyncio.run(main())


def test_each_chart_moves_twice_a_second_and_never_both_in_one_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If this fails, a chart moves less than twice a second while data arrive at every tick,
    one kind starves the other, or one tick redraws both (a long frame: keys wait)."""
    from test_snapshots import fixed_app, fixed_snapshot

    from rnn_tui.ui import mirror

    async def main() -> None:
        app = fixed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            while not app.booted:
                await pilot.pause(0.05)
            app._plotext_loader = None
            drawn: list[tuple[int, str]] = []
            monkeypatch.setattr(app, "_draw_loss", lambda snaps: drawn.append((tick, "loss")))
            monkeypatch.setattr(app, "_draw_grads", lambda snaps: drawn.append((tick, "grads")))
            clock = [1000.0]
            fake_time = types.SimpleNamespace(monotonic=lambda: clock[0])  # the mirror's clock only
            monkeypatch.setattr(mirror, "time", fake_time)
            snap = fixed_snapshot(app.vocab.size)
            ticks = int(10 * mirror.TICK_HZ)  # ten seconds of ticks, new data at each
            for tick in range(ticks):  # noqa: B007 - read by the recorders above
                clock[0] += 1 / mirror.TICK_HZ
                app.show_snapshots((snap,))
            per_tick = [t for t, _ in drawn]
            assert len(per_tick) == len(set(per_tick)), "two charts redrawn in one tick"
            for kind in ("loss", "grads"):
                at = [t for t, k in drawn if k == kind]
                assert len(at) >= 2 * 10, (kind, len(at))  # at least twice a second
                gaps = np.diff(at) / mirror.TICK_HZ
                assert gaps.max() <= 0.5 + 1e-9, (kind, gaps.max())  # never a gap over 0.5 s
                assert len(at) <= mirror.CHART_HZ * 10 + 1, (kind, len(at))  # bytes count

    asyncio.run(main())


def test_samples_type_twice_as_fast_while_the_run_is_young(monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails, a run's first samples type at reading pace while each weight copy is far
    better than the last (the first words come a second later), or later samples keep the fast
    pace nobody can read along with."""
    from test_snapshots import fixed_app, fixed_snapshot

    from rnn_tui.ui import mirror
    from rnn_tui.ui.lane import START_STEPS

    async def main() -> None:
        app = fixed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.booted:
                await pilot.pause(0.05)
            (lane,) = app.lanes
            typed: list[int] = []
            monkeypatch.setattr(lane, "type", lambda n, *a: typed.append(n))
            weights = lane.cell.init_params(np.random.default_rng(0))
            base = replace(fixed_snapshot(app.vocab.size), weights=weights)
            second = int(mirror.TICK_HZ)  # ticks in one second
            for step, per_second in ((10, 120), (START_STEPS, 60)):
                lane.take(replace(base, weights_step=step))
                typed.clear()
                for _ in range(second):
                    app.type_samples()
                assert sum(typed) == per_second, (step, typed)
                assert max(typed) - min(typed) <= 1, typed  # evenly, tick by tick

    asyncio.run(main())
