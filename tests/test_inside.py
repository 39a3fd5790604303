"""Seeing inside the model: the next-character view, the neuron view, projector aids."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from conftest import TINY, wait_for
from test_app import SMALL, spec_for, step_of

from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.sampling import most_varying_unit, top_chars
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.keys import PROJECTOR_THEME
from rnn_tui.ui.widgets.loss_readout import HELD_OUT, TRAINING


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def run(app: RnnApp, script, size=(100, 30)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            await script(app, pilot)

    asyncio.run(main())


def test_top_chars_are_sorted_and_sum_to_at_most_one() -> None:
    """If this fails, the next-character view lists guesses out of order or with
    probabilities that add up to more than certainty."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.dirichlet(np.ones(30) * 0.3)
        chars = tuple(chr(97 + i % 26) + str(i) for i in range(30))
        top = top_chars(p, chars, 5)
        probs = [q for _, q in top]
        assert probs == sorted(probs, reverse=True) and len(top) == 5
        assert sum(probs) <= 1 + 1e-9
        assert probs[0] == pytest.approx(p.max())
        assert [c for c, _ in top][0] == chars[int(np.argmax(p))]


@pytest.mark.functional
def test_next_character_view_follows_the_typing(tiny) -> None:
    """If this fails, the line under the sample shows nothing, another character's guesses
    than the one it names, or a distribution from long ago (it is redrawn a few times a
    second, so it may trail the typing by a few characters, never by a whole sample)."""
    app = make_app(spec_for())

    async def script(app: RnnApp, pilot) -> None:
        lane = app.lanes[0]
        await wait_for(pilot, lambda: len(lane.recent) > 5 and lane.next_shown is not None)
        drawn, typed_then = lane.next_shown
        shown = str(lane.next_chars.render())
        assert shown.startswith("next: ") and shown.count("%") == 5
        best = top_chars(drawn.probs, tiny.vocab.chars, 1)[0]
        assert f"{best[1]:4.0%}" in shown
        assert 0 <= lane.typed - typed_then < 60  # a recent character of this sample

    run(app, script)


@pytest.mark.functional
def test_neuron_keys_pick_units_and_colour_the_text(tiny) -> None:
    """If this fails, v / [ / ] / m do not show what single hidden units respond to."""
    app = make_app(spec_for())

    async def script(app: RnnApp, pilot) -> None:
        lane = app.lanes[0]
        await wait_for(pilot, lambda: len(lane.recent) > 40)
        await pilot.press("v")
        assert app.screen.has_class("-neurons") and lane.neurons.display
        assert not lane.sample_pane.display
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.neuron_unit == 2
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert app.neuron_unit == SMALL.hidden - 1
        await pilot.press("space")  # pause: the current sample finishes, then typing rests
        await wait_for(pilot, lambda: lane.typed >= lane.sample_len)
        # The view holds exactly the sample on screen, never the end of the one before.
        assert "".join(ch for ch, _ in lane.recent) == "".join(lane.typing)
        await pilot.press("m")
        hidden = lane.hidden_values()
        assert app.neuron_unit == most_varying_unit(hidden)
        text = lane.neurons.text
        assert text.plain.startswith(f"h_t[{app.neuron_unit}] of {SMALL.hidden}: ")
        lo, hi = hidden[:, app.neuron_unit].min(), hidden[:, app.neuron_unit].max()
        assert f"range {lo:+.2f} .. {hi:+.2f}" in text.plain
        body = len(text.plain) - len(text.plain.split("\n", 2)[2])  # after title and key
        backgrounds = {
            str(span.style.bgcolor)
            for span in text.spans
            if span.style.bgcolor and span.start >= body
        }
        assert len(backgrounds) > 3  # the characters really are coloured by value
        await pilot.press("v")
        assert not app.screen.has_class("-neurons") and lane.sample_pane.display

    run(app, script)


@pytest.mark.functional
def test_projector_theme_and_large_digits(tiny) -> None:
    """If this fails, a teacher has no readable picture on a projector: no high-contrast
    colours, or no large loss figure in a big window."""
    app = make_app(spec_for())

    async def script(app: RnnApp, pilot) -> None:
        assert app.loss_digits.display
        await wait_for(pilot, lambda: app.loss_digits.value != "")
        # Paused, the digits settle on exactly the loss of the step training stopped at: the
        # held-out loss once measured, the training loss until then, labelled either way.
        await pilot.press("space")
        await wait_for(pilot, lambda: app.snapshot.state == "paused")
        r = app.snapshot.record
        shown, caption = (r.smooth_loss, TRAINING) if r.val_loss is None else (r.val_loss, HELD_OUT)
        await wait_for(pilot, lambda: app.loss_digits.value == f"{shown:.3f}")
        assert app.loss_digits.caption == caption
        await pilot.press("h")
        assert app.theme == PROJECTOR_THEME.name
        await pilot.press("h")
        assert app.theme != PROJECTOR_THEME.name
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.1)
        assert not app.loss_digits.display

    run(app, script, size=(140, 45))


def test_the_help_describes_every_preset() -> None:
    """If this fails, a preset is missing from the help: a teacher cannot find what it shows.
    (That each preset's lesson stays on screen is tested in test_model_strip.py.)"""
    from rnn_tui.engine.presets import PRESETS
    from rnn_tui.ui.widgets.help_screen import HELP_MARKDOWN

    for name, preset in PRESETS.items():
        assert f"--preset {name}" in HELP_MARKDOWN
        assert preset.lesson.split(":", 1)[1].strip()[:40] in HELP_MARKDOWN
