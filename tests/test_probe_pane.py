"""The probe pane: opening, typing, pasting, the cursor, held-out text, closing, and that what it
shows is the engine's numbers. Weights are fixed (a seeded model), the trainer is a stand-in."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import numpy as np
import pytest
from conftest import booted
from test_snapshots import TINY, FixedSource, fixed_snapshot
from textual import events

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.probe import PROBE_LIMIT, looking_back, probe, probe_model
from rnn_tui.run.build import read_corpus
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.widgets.colours import DARK
from rnn_tui.ui.widgets.probe_pane import (
    EMPTY,
    KEYS_HINT,
    LEVELS,
    SURPRISE_SCALE,
    TYPING_HINT,
    reach,
    reach_levels,
    wrap,
)

STEP = 1200


def seeded_weights(app: RnnApp, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights of the app's first model, drawn from `seed` (larger than the default init, so
    the predictions are far from uniform)."""
    c = app.spec.configs[0]
    cell = make_cell(c.cell, app.vocab.size, c.hidden, c.dtype)
    return cell.init_params(np.random.default_rng(seed), rec_gain=1.5)


def probe_app(compare: bool = False) -> RnnApp:
    configs = (Config(), Config(cell="lstm")) if compare else (Config(),)
    app = make_app(RunSpec(str(TINY), configs), source=FixedSource())
    app.animate = False  # no timers: nothing but the probe moves
    return app


async def booted_with_weights(pilot) -> None:
    """Once the app has built its lanes, give each the weights a trainer would have sent."""
    await booted(pilot)
    app = pilot.app
    for i, lane in enumerate(app.lanes):
        c = app.spec.configs[i]
        cell = make_cell(c.cell, app.vocab.size, c.hidden, c.dtype)
        lane.weights = (cell.init_params(np.random.default_rng(i), rec_gain=1.5), STEP)


async def settle(pilot, app: RnnApp) -> None:
    """Wait until the prober has nothing left to compute and its last result is drawn."""
    for _ in range(400):
        await pilot.pause(0.02)
        p = app.prober
        drawn = app.probe_views[0].data.text == p.text
        if p.computed and drawn and not p._busy and p._waiting is None:
            return
    raise AssertionError("the probe did not finish")


def shown(app: RnnApp, lane: int = 0) -> str:
    view = app.probe_views[lane]
    return view.build_text(view.content_region.width, view.content_region.height).plain


# -- drawing helpers, alone ------------------------------------------------------------------


def test_wrap_breaks_after_spaces_and_newlines() -> None:
    """If this fails, the probe's text is cut mid-word or a newline does not start a row."""
    labels = list("the cat sat") + ["↵"] + list("on")
    assert wrap(labels, 8) == [(0, 8), (8, 12), (12, 14)]
    assert wrap(list("abcdefghij"), 4) == [(0, 4), (4, 8), (8, 10)]
    assert wrap([], 10) == [(0, 0)]


def test_reach_levels_are_decades_below_the_largest() -> None:
    """If this fails, the looking-back shading does not follow its legend's decades."""
    back = np.array([1e-6, 1e-3, 1e-2, 0.0, np.nan, 0.5, 1.0])
    levels = reach_levels(back)
    per_decade = LEVELS // 4
    assert levels.tolist() == [0, per_decade, 2 * per_decade, -1, -2, LEVELS - 1 + 0, LEVELS]
    assert reach(back) == len(back) - 2  # 1e-2 is the earliest at >= 1% of the max


# -- the pane in the app ---------------------------------------------------------------------

functional = pytest.mark.functional  # the app runs: not in the quick tier


@functional
def test_open_type_move_close() -> None:
    """If this fails, the probe does not open on `i`, app keys fire while typing (q quits,
    space pauses), the cursor does not move, or Esc does not close it; or the keys under the
    pane promise g, y and b while the letters go into the text."""

    async def main() -> None:
        app = probe_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            assert app.screen.has_class("-probe") and app.probe_input.has_focus
            await pilot.pause()
            assert app.lanes[0].box.border_subtitle == TYPING_HINT
            await pilot.press(*"the cat q", "space", *"sat")
            await settle(pilot, app)
            assert app.prober.text == "the cat q sat"
            assert app.is_running  # q went into the text, not to quit
            assert app.probe_views[0].data.cursor == len("the cat q sat") - 1
            await pilot.press("enter")
            assert app.probe_views[0].has_focus
            await pilot.pause()
            assert app.lanes[0].box.border_subtitle == KEYS_HINT
            await pilot.press("left", "left", "left")
            await settle(pilot, app)
            assert app.probe_views[0].data.cursor == len("the cat q sat") - 4
            await pilot.press("home")
            await settle(pilot, app)
            assert app.prober.cursor == 0
            assert "nothing known before it" in shown(app)
            await pilot.press("end")
            await settle(pilot, app)
            assert app.prober.cursor == len(app.prober.text) - 1
            await pilot.press("escape")
            assert not app.screen.has_class("-probe")
            assert not app.probe_views[0].display

    asyncio.run(main())


@functional
def test_paste_keeps_newlines_and_cuts_a_long_text_to_its_end() -> None:
    """If this fails, a pasted text loses its lines, or a long one is not cut (or not said)."""

    async def main() -> None:
        app = probe_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            app.probe_input.post_message(events.Paste("one line\nanother"))
            await settle(pilot, app)
            assert app.prober.text == "one line\nanother"
            assert app.probe_input.value == "one line↵another"
            assert "↵" in shown(app)
            long = "abc " * 1500  # 6,000 characters
            app.probe_input.post_message(events.Paste(long))
            await settle(pilot, app)
            assert app.prober.text == long[-PROBE_LIMIT:] and app.prober.cut == 2000
            assert f"cut to the last {PROBE_LIMIT:,}" in shown(app)

    asyncio.run(main())


@functional
def test_unknown_characters_and_empty_text() -> None:
    """If this fails, a character outside the vocabulary crashes the pane or is scored, or an
    empty text shows nothing to say what to do."""

    async def main() -> None:
        app = probe_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            await settle(pilot, app)
            assert EMPTY in shown(app)
            app.probe_input.post_message(events.Paste("a€b\x1b[31m"))
            await settle(pilot, app)
            r = app.probe_views[0].data.result
            assert r is not None and not r.known[1] and math.isnan(r.surprisal[1])
            text = shown(app)
            assert "€" in text and "␛" in text and "\x1b" not in text
            assert "unknown" in text
            await pilot.press("enter", "home", "right")
            await settle(pilot, app)
            assert "not in the model's vocabulary" in shown(app)

    asyncio.run(main())


@functional
def test_shading_and_numbers_are_the_engines() -> None:
    """If this fails, the shade, bits or top-5 the pane shows for a character are not what the
    model computes for it: the class would read a wrong lesson off the screen."""

    async def main() -> None:
        app = probe_app()
        text = "the baker opened the door"
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            app.probe_input.post_message(events.Paste(text))
            await settle(pilot, app)
            params, _ = app.lanes[0].weights
            pm = probe_model(params, app.spec.configs[0], app.vocab.chars)
            r = probe(pm, text)
            view = app.probe_views[0]
            j = len(text) - 1
            np.testing.assert_allclose(view.data.result.surprisal, r.surprisal, rtol=1e-12)
            lo, hi = SURPRISE_SCALE[DARK.name]
            top_bits = math.log2(app.vocab.size)
            for i in range(1, j):  # every shade is the engine's bits on the legend's scale
                a = round(min(1.0, r.surprisal[i] / top_bits) * LEVELS) / LEVELS
                want = tuple(round(x + (y - x) * a) for x, y in zip(lo, hi, strict=True))
                assert view.shade(i) == want, i
            out = shown(app)
            assert f"'r' at {j}: {r.surprisal[j]:.2f} bits" in out
            assert f"{r.bits_per_char:.2f} bits/char" in out
            guesses = " ".join(f"{c if c != ' ' else '␣'} {p:.0%}" for c, p in r.top(j))
            assert f"top-5: {guesses}" in out
            assert f"{math.log2(app.vocab.size):.1f} (a uniform guess)" in out
            # looking back: the engine's exact gradient norms, cursor on the second 'o' of door
            await pilot.press("enter", "left", "left", "b")
            await settle(pilot, app)
            k = j - 2
            back = looking_back(pm, r.ids, k)
            np.testing.assert_allclose(view.data.back, back, rtol=1e-6)
            assert f"up to {reach(back)} chars back" in shown(app)
            assert view.shade(k) is None  # the cursor itself carries the highlight

    asyncio.run(main())


@functional
def test_held_out_sample_and_new_weights() -> None:
    """If this fails, `g` does not load held-out text, `y` does not take the sample, or the
    probe does not follow new weights (the surprise would never fade)."""

    async def main() -> None:
        app = probe_app()
        held = read_corpus(app.spec)
        held_text = "".join(held.vocab.chars[i] for i in held.val.tolist())
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("g")
            for _ in range(400):
                await pilot.pause(0.02)
                if app.prober.text:
                    break
            await settle(pilot, app)
            assert app.screen.has_class("-probe") and app.prober.text in held_text
            assert len(app.prober.text) > 100
            assert app.probe_views[0].has_focus  # the arrow keys move the cursor at once
            assert app.lanes[0].box.border_subtitle == KEYS_HINT
            app.lanes[0].typing = ["a sample ", "being typed"]
            await pilot.press("y")
            await settle(pilot, app)
            assert app.prober.text == "a sample being typed"
            before = app.probe_views[0].data.result.surprisal.copy()
            snap = dataclasses.replace(
                fixed_snapshot(app.vocab.size), weights=seeded_weights(app, 7), weights_step=1300
            )
            app.show_snapshots((snap,))
            await settle(pilot, app)
            assert "step 1,300" in shown(app)
            assert not np.allclose(app.probe_views[0].data.result.surprisal[1:], before[1:])

    asyncio.run(main())


@functional
def test_compare_shows_both_models_on_one_text_and_cursor() -> None:
    """If this fails, compare mode probes one model only, or the two lanes' cursors differ."""

    async def main() -> None:
        app = probe_app(compare=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            app.probe_input.post_message(events.Paste("abc=abc"))
            await pilot.press("enter", "left", "b")
            await settle(pilot, app)
            a, b = (v.data for v in app.probe_views)
            assert a.text == b.text == "abc=abc" and a.cursor == b.cursor == 5
            assert "rnn" in shown(app, 0) and "lstm" in shown(app, 1)
            assert a.back is not None and b.back is not None
            assert not np.allclose(a.back, b.back)

    asyncio.run(main())
