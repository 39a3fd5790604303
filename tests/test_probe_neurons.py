"""The probe's neuron shading: the probe text coloured by one hidden unit h_t[unit] after each
character, on the neuron view's colours. The engine's hidden states are checked against a
plain step-by-step forward pass written here; the pane's colours against the neuron view's
colour of those values."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from rich.style import Style
from test_probe_pane import booted_with_weights, probe_app, settle, shown
from textual import events

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.probe import probe, probe_model
from rnn_tui.ui.actions import NEURON, SURPRISE
from rnn_tui.ui.app import RnnApp
from rnn_tui.ui.widgets.neuron_view import PALETTE, SHADES, palette_index

VOCAB = ("\n", " ", "a", "b", "c", "d")
TEXT = "abc dab\ncab €dd a\ndcba"  # a reset character twice, one unknown character
PROBED = "the baker opened the door"  # in the app: no reset character, every one known


def step_by_step(
    cell_name: str, H: int, params: dict, vocab: tuple[str, ...], text: str, reset_at: str
) -> np.ndarray:
    """(N, H) h_t after each character of `text`, one `cell.step` at a time from the zero
    state, zeroed after a reset character; NaN rows for characters outside `vocab` (skipped)."""
    cell = make_cell(cell_name, len(vocab), H, "float64")
    params = {k: np.asarray(v, np.float64) for k, v in params.items()}
    state = cell.init_state(1)
    out = np.full((len(text), cell.H), np.nan)
    for i, ch in enumerate(text):
        if ch not in vocab:
            continue
        _, state = cell.step(params, np.array([vocab.index(ch)]), state)
        out[i] = state[0][0]  # the LSTM's state is (h, c): h_t only
        if ch in reset_at:
            state = cell.init_state(1)
    return out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_probe_hidden_states_are_a_plain_forward_pass(cell: str) -> None:
    """If this fails, the neuron shading colours the probe text by numbers other than the
    model's hidden state after each character (or the LSTM's cell c_t instead of h_t)."""
    model = make_cell(cell, len(VOCAB), 5, "float64")
    params = model.init_params(np.random.default_rng(3), rec_gain=1.5)
    params[model.names[0]] *= 10  # inputs that move the state
    config = Config(cell=cell, hidden=5, dtype="float64", reset_at="\n")
    r = probe(probe_model(params, config, VOCAB), TEXT)
    want = step_by_step(cell, 5, params, VOCAB, TEXT, "\n")
    assert r.hs.shape == (len(TEXT), 5)
    unknown = TEXT.index("€")
    assert np.isnan(r.hs[unknown]).all() and np.isfinite(np.delete(r.hs, unknown, 0)).all()
    np.testing.assert_allclose(r.hs, want, rtol=0, atol=1e-12)
    assert np.abs(r.hs[np.isfinite(r.hs)]).max() < 1  # every cell's h_t is within -1 .. 1


def app_h(app: RnnApp, lane: int, text: str) -> np.ndarray:
    """(N, H) the lane's h_t after each character of `text`, from `step_by_step`."""
    params, _ = app.lanes[lane].weights
    cell, reset_at = app.lanes[lane].cell, app.spec.configs[lane].reset_at
    return step_by_step(cell.name, cell.H, params, app.vocab.chars, text, reset_at)


def drawn_backgrounds(app: RnnApp, lane: int = 0) -> list[str | None]:
    """The background colour of each character of the probe text as the pane draws it."""
    view = app.probe_views[lane]
    view.build_text(view.content_region.width, view.content_region.height)  # lays out rows
    labels = [ch for ch in view.data.text]
    styles: list[Style | str] = []
    for line in view.body(labels):
        per_char = [Style()] * len(line.plain)
        for span in line.spans:
            for k in range(span.start, span.end):
                per_char[k] = span.style
        styles += per_char
    return [s.bgcolor.name if isinstance(s, Style) and s.bgcolor else None for s in styles]


def neuron_view_backgrounds(values: np.ndarray) -> list[str | None]:
    """What the neuron view draws behind each of `values: (N,)`."""
    return [PALETTE[k].bgcolor.name for k in palette_index(values).tolist()]


functional = pytest.mark.functional  # the app runs: not in the quick tier


@functional
def test_neuron_shading_keys_and_colours() -> None:
    """If this fails, `b` does not reach the neuron shading, `[`/`]`/`m`/`v` do not choose the
    unit in the probe, or a character's colour is not the neuron view's colour of the model's
    h_t[unit] after it: the class would read the wrong unit off the screen."""

    async def main() -> None:
        app = probe_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            app.probe_input.post_message(events.Paste(PROBED))
            await pilot.press("enter", "left", "left")
            await settle(pilot, app)
            view, j = app.probe_views[0], len(PROBED) - 3
            await pilot.press("b", "b")  # surprise -> looking back -> neuron
            await settle(pilot, app)
            assert app.prober.shading == NEURON and view.unit == 0
            h = app_h(app, 0, PROBED)  # (N, H)
            H = h.shape[1]
            steps = [
                ("", 0),
                ("right_square_bracket", 1),
                ("left_square_bracket", 0),
                ("left_square_bracket", H - 1),  # wraps round
            ]
            for key, unit in steps:
                if key:
                    await pilot.press(key)
                    await settle(pilot, app)
                assert view.unit == unit == app.neuron_unit
                want = neuron_view_backgrounds(h[:, unit])
                got = drawn_backgrounds(app)
                assert [g for i, g in enumerate(got) if i != j] == want[:j] + want[j + 1 :]
                shade = SHADES[palette_index(h[j - 1 : j, unit])[0]]
                assert view.shade(j - 1) == shade  # the helper the drawing uses agrees
                out = shown(app)
                assert f"h_t[{unit}], tanh output: -1 .. +1" in out
                assert f"h_t[{unit}] after it: {h[j, unit]:+.2f}" in out
            await pilot.press("m")
            # m: the unit whose value varies most over the probe text, from the plain pass
            assert view.unit == int(np.argmax(h.std(axis=0))) == app.neuron_unit
            await pilot.press("v")  # v in the probe: back to the surprise shading
            assert app.prober.shading == SURPRISE and view.unit is None
            assert "surprise −log2 p" in shown(app)
            await pilot.press("v")
            assert app.prober.shading == NEURON and view.unit == app.neuron_unit
            await pilot.press("b")  # the cycle goes round to surprise
            assert app.prober.shading == SURPRISE and view.unit is None
            assert not app.neuron_view  # the samples' neuron view was never switched on

    asyncio.run(main())


@functional
def test_compare_lanes_shade_their_own_models_units() -> None:
    """If this fails, in compare mode the LSTM lane is coloured by the RNN's hidden state (or
    its cell state), or `m` picks one unit for both models."""

    async def main() -> None:
        app = probe_app(compare=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await booted_with_weights(pilot)
            await pilot.press("i")
            app.probe_input.post_message(events.Paste(PROBED))
            await pilot.press("enter", "m")
            await settle(pilot, app)
            j = len(PROBED) - 1
            for lane in (0, 1):
                h = app_h(app, lane, PROBED)
                unit = int(np.argmax(h.std(axis=0)))
                assert app.probe_views[lane].unit == unit
                want = neuron_view_backgrounds(h[:, unit])
                assert drawn_backgrounds(app, lane)[:j] == want[:j]
            assert "tanh(c_t), not c_t" in shown(app, 1) and "not c_t" not in shown(app, 0)

    asyncio.run(main())
