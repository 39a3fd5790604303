"""The strip above the panes: a preset's lesson and the model's formulas, at every size."""

from __future__ import annotations

import asyncio
import dataclasses
from itertools import pairwise

import pytest
from conftest import wait_for
from test_app import SMALL, spec_for, step_of

from rnn_tui.engine.presets import PRESETS
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets.model_strip import READOUT, STATE_UPDATE, formula_lines


@pytest.mark.parametrize("cells", [["rnn"], ["lstm"], ["gru"], ["rnn", "lstm"], ["rnn", "gru"]])
@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_the_formula_fits_and_names_the_whole_model(cells: list[str], width: int) -> None:
    """If this fails, the formula strip overflows its line or drops the state update, the
    softmax readout or the loss at some window width."""
    text = "\n".join(line.plain for line in formula_lines(cells, width))
    assert all(len(line) <= width for line in text.split("\n"))
    assert "…" not in text, text  # a spelling fits whole: nothing is cut
    assert "softmax(W_hy h_t" in text and "ln p(next" in text
    for cell in cells:
        assert "h_t" in text and ("c_t" in text if cell == "lstm" else True)
        if len(cells) > 1:
            assert f"{cell}: " in text


def test_the_vanilla_rnn_reads_as_in_the_lecture() -> None:
    """If this fails, the strip no longer spells the lecture's equations at a projector's width."""
    text = formula_lines(["rnn"], 118)[0].plain
    assert "h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)" in text
    assert "p = softmax(W_hy h_t + b_y)" in text and "loss = -ln p(next char)" in text
    assert all(len(s) >= len(t) for s, t in pairwise(READOUT))  # long to short
    for spellings in STATE_UPDATE.values():
        assert all(len(s) >= len(t) for s, t in pairwise(spellings))


def strip_text(app) -> str:
    return app.model_strip.render().plain


@pytest.mark.functional
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("preset", ["vanishing", "exploding", "lstm-rescue"])
def test_the_preset_lesson_and_the_formula_stay_on_screen(
    size: tuple[int, int], preset: str
) -> None:
    """If this fails, a preset's lesson is gone once training says anything else, or the strip
    is hidden at a common window size: a class sees panes move without knowing what to watch."""
    p = PRESETS[preset]
    cells = list(p.compare) if p.compare else [p.changes.get("cell", "rnn")]
    configs = tuple(dataclasses.replace(SMALL, cell=c) for c in cells)
    spec = RunSpec(spec_for().corpus, configs)
    app = make_app(spec, UISettings(banner=p.lesson))

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 5)
            await pilot.press("plus")  # the status line now says something else
            await pilot.pause(0.3)
            region = app.model_strip.region
            assert region.y == 0 and region.width == size[0], region
            lines = strip_text(app).split("\n")
            assert region.height == len(lines) >= 2
            k = len(formula_lines(cells, region.width, 1 if size[1] < 36 else 2))
            lesson, formula = " ".join(lines[:-k]), "\n".join(lines[-k:])
            assert lesson.startswith(" ".join(p.lesson.split()[:6])), lesson
            if k == len(cells) or len(cells) == 1:  # the readout, unless two runs share a line
                assert "softmax(W_hy h_t" in formula and "ln p(next" in formula
            assert "h_t" in formula and all(f"{c}: " in formula for c in cells if len(cells) > 1)
            assert app.query_one("#main").region.y == region.height  # the panes come below it

    asyncio.run(main())


@pytest.mark.functional
def test_the_formula_follows_a_cell_switch() -> None:
    """If this fails, after `l` the strip still shows the old cell's equations."""
    app = make_app(spec_for(), UISettings())

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: step_of(app) > 0)
            assert "tanh(W_hh" in strip_text(app) and "c_t" not in strip_text(app)
            assert app.model_strip.region.height == 1  # no preset: the formula line alone
            await pilot.press("l")
            await wait_for(pilot, lambda: app.snapshot.cell == "lstm")
            await pilot.pause(0.2)
            assert "c_t = f_t*c_{t-1} + i_t*g_t" in strip_text(app)

    asyncio.run(main())


def test_large_vocabulary_notice_is_true_and_fits_80_columns() -> None:
    """If this fails, a corpus of thousands of characters (Chinese, say) gets a notice cut off
    mid-word on an 80-column terminal, or one whose share of the weights is wrong."""
    from rnn_tui.engine.model import make_cell
    from rnn_tui.ui.app import large_vocab_notice
    from rnn_tui.ui.widgets.status_bar import NOTICE_ROOM

    for V, H in ((1000, 128), (2997, 128), (99_999, 4096)):
        cell = make_cell("rnn", V, H, "float32")
        text = large_vocab_notice(cell)
        assert len(text) <= NOTICE_ROOM, text  # the status line's room at 80 columns
        readout = V * H + V  # W_hy and b_y, counted apart from the cell's own sums
        assert f"{round(100 * readout / cell.n_params())}%" in text, text
    assert large_vocab_notice(make_cell("rnn", 2997, 128, "float32")) == (
        "V=2,997: 49% of the weights are the output layer's"
    )
