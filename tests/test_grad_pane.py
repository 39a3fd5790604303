"""The gradient pane read back as a class reads it: values off the log scale, step numbers off
the heat strip, the key, the BPTT line, and how much room the profile gets."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import TINY
from rich.style import Style
from rich.text import Text

from rnn_tui.engine.config import Config
from rnn_tui.engine.longlag import DEFAULT_LAG, line_length
from rnn_tui.run.history import GradHistory
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.widgets import GradPane
from rnn_tui.ui.widgets.colours import DARK
from rnn_tui.ui.widgets.grad_pane import EIGHTHS, MIN_BARS, bptt_text, pack
from rnn_tui.ui.widgets.grad_scale import column_edges, merge_rows
from rnn_tui.ui.widgets.grad_style import BRAILLE, DOT_ROW_BITS

# ----------------------------------------------------------------------------- reading it back


def lines_of(text: Text) -> list[str]:
    return text.plain.split("\n")


def style_at(text: Text, row: int, col: int) -> Style | None:
    """The style of the cell at (row, col) of a built pane (the last span covering it)."""
    pos = sum(len(line) + 1 for line in lines_of(text)[:row]) + col
    found = None
    for span in text.spans:
        if span.start <= pos < span.end:
            found = span.style
    return found


def axis_at(line: str) -> int | None:
    """Where a profile row's decade axis (┤ or │) is, after its label; None: not a row of it."""
    for i, ch in enumerate(line[:7]):
        if ch in "┤│":
            return i if line[:i].strip().startswith("1e") or not line[:i].strip() else None
    return None


def bar_area(text: Text) -> tuple[int, int, int]:
    """(first row, number of rows, gutter width) of the profile: the rows with a decade axis."""
    rows = [i for i, line in enumerate(lines_of(text)) if axis_at(line) is not None]
    assert rows == list(range(rows[0], rows[0] + len(rows)))
    return rows[0], len(rows), axis_at(lines_of(text)[rows[0]]) + 1  # type: ignore[operator]


def line_top_dots(text: Text, col: int, colour: tuple[int, int, int]) -> int | None:
    """The highest dot (counted from the bottom of the profile, 0 = lowest dot row) of the
    braille line drawn in `colour` at column `col`; None if there is none."""
    first, n, _ = bar_area(text)
    lines = lines_of(text)
    for i in range(n):
        ch = lines[first + i][col]
        style = style_at(text, first + i, col)
        if BRAILLE < ord(ch) < BRAILLE + 256 and style and style.color.triplet == colour:
            bits = ord(ch) - BRAILLE
            j = next(j for j in range(4) if bits & DOT_ROW_BITS[j])  # top-most dot row
            return (n - 1 - i) * 4 + (3 - j)
    return None


def bar_top_eighths(text: Text, col: int) -> int:
    """The bar's height at column `col` in eighths of a row, read from its block glyphs."""
    first, n, _ = bar_area(text)
    lines = lines_of(text)
    for i in range(n):
        ch = lines[first + i][col]
        if ch in EIGHTHS[1:]:
            return (n - 1 - i) * 8 + EIGHTHS.index(ch)
    return 0


def vanishing(t_len: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """grad_last_t falling 1e-7 over the window; grad_t, the sum of all losses' shares, above
    it and equal to it at t = T."""
    t = np.arange(t_len)
    last = 0.5 * 10.0 ** (-7 * (t_len - 1 - t) / (t_len - 1))
    grad = np.array([last[i:].sum() for i in range(t_len)]) * 0.4 + last * 0.6
    grad[-1] = last[-1]
    return grad, last


def pane_with(**kw: object) -> GradPane:
    grad, last = vanishing(int(kw.pop("t_len", 32)))  # type: ignore[call-overload]
    pane = GradPane()
    hist = kw.pop("history", np.zeros((0, grad.size)))
    pane.set_data(grad, last, hist, 5.0, 0.37, 0.84, clip_steps=100, **kw)  # type: ignore[arg-type]
    return pane


# ----------------------------------------------------------------------------- the profile


def test_values_read_off_the_profile_are_the_data() -> None:
    """If this fails, the bars or the grad_last_t line sit at another height than their value
    on the log scale, or the line only has whole-row steps (plateaus) instead of quarter rows:
    a class reads wrong numbers off the pane."""
    grad, last = vanishing(32)
    pane = GradPane()
    pane.set_data(grad, last, np.zeros((0, 32)), 5.0, 0.0, 1.0, scale=(-8, 0))
    text = pane.build_text(98, 16)
    _, n, gutter = bar_area(text)
    edges = column_edges(32, 98 - gutter)
    heights = []
    for t in range(32):
        col = gutter + int(edges[t])
        want = (math.log10(last[t]) + 8) / 8 * n * 4  # the value, in dots from the bottom
        top = line_top_dots(text, col, DARK.grad_last)
        assert top is not None and want - 1e-9 <= top + 1 < want + 1 + 1e-9, (t, top, want)
        heights.append(top)
    assert len(set(heights)) > n  # finer than one step per text row
    # The bars, read where the line does not cover their top, are grad_t to an eighth.
    pane.set_data(grad, np.full(32, 1e-12), np.zeros((0, 32)), 5.0, 0.0, 1.0, scale=(-8, 0))
    text = pane.build_text(98, 16)
    for t in range(32):
        want = (math.log10(grad[t]) + 8) / 8 * n * 8
        assert abs(bar_top_eighths(text, gutter + int(edges[t])) - want) <= 0.5 + 1e-9


def test_grad_last_line_caps_the_bar_at_t_equals_T() -> None:
    """If this fails, at t = T, where grad_t and grad_last_t are the same number, the line and
    the bar top are drawn at different heights (or the bar hides the line)."""
    grad, last = vanishing(32)
    pane = GradPane()
    pane.set_data(grad, last, np.zeros((0, 32)), 5.0, 0.0, 1.0, scale=(-8, 1))
    text = pane.build_text(98, 36)
    first, n, gutter = bar_area(text)
    col = 97  # the last cell of the last column
    top = line_top_dots(text, col, DARK.grad_last)
    assert top is not None
    above = [lines_of(text)[first + i][col] for i in range(n - 1 - top // 4)]
    assert all(ch == " " for ch in above)  # nothing of the bar pokes out above the line
    if top % 4 != 3:  # the line's top is inside its cell: no bar colour fills the cell above it
        assert style_at(text, first + n - 1 - top // 4, col).bgcolor is None
    pane.set_data(grad, np.full(32, 1e-12), np.zeros((0, 32)), 5.0, 0.0, 1.0, scale=(-8, 1))
    bar = bar_top_eighths(pane.build_text(98, 36), col)
    assert abs((top + 1) * 2 - bar) < 2  # the line's top edge is the bar's top, within a dot
    # Left of T the bar rises above the line and is drawn behind it.
    pane.set_data(grad, last, np.zeros((0, 32)), 5.0, 0.0, 1.0, scale=(-8, 1))
    text = pane.build_text(98, 36)
    col = gutter + 1
    top = line_top_dots(text, col, DARK.grad_last)
    style = style_at(text, first + n - 1 - top // 4, col)
    assert style.bgcolor is not None and style.bgcolor.triplet == DARK.grad_t


@pytest.mark.parametrize(("width", "t_len"), [(98, 32), (98, 84), (198, 84), (40, 100)])
def test_profile_and_strip_fill_the_width(width: int, t_len: int) -> None:
    """If this fails, the profile and heat strip leave part of a wide pane empty (a window of
    32 steps in 100 columns used to take 96 of them at most; 84 steps took 84 of 200)."""
    hist = np.tile(vanishing(t_len)[1], (20, 1))
    text = pane_with(t_len=t_len, history=hist).build_text(width, 40)
    first, n, gutter = bar_area(text)
    bottom = lines_of(text)[first + n - 1]
    assert len(bottom) == width and " " not in bottom[gutter:]
    strip = [line for line in lines_of(text) if "▀" in line]
    assert strip and all(line.rstrip().endswith("▀") and len(line) == width for line in strip)


def test_lstm_cell_state_gradient_is_drawn_and_keyed() -> None:
    """If this fails, the LSTM's cell-state gradient is missing, unexplained, or said to be of
    another loss than the one it is computed from (the sum of the window's T losses)."""
    grad, last = vanishing(32)
    pane = GradPane()
    pane.set_data(grad, last, np.zeros((0, 32)), 5.0, 0.0, 1.0, cell_grad=grad * 1e-2)
    text = pane.build_text(98, 36)
    assert "dL/dc_t (cell state, all T losses)" in text.plain
    first, n, gutter = bar_area(text)
    assert line_top_dots(text, gutter + 1, DARK.cell_grad) is not None
    pane.set_data(grad, last, np.zeros((0, 32)), 5.0, 0.0, 1.0)
    assert "dL/dc_t" not in pane.build_text(98, 36).plain


# ----------------------------------------------------------------------------- the heat strip


def test_heat_strip_names_the_first_and_the_newest_step_after_10000_steps() -> None:
    """If this fails, the heat strip does not span the whole run: after 10,000 steps it must
    run from step 1 (top) to step 10,000 (bottom) and say so."""
    grad, last = vanishing(32)
    hist = GradHistory()
    for step in range(1, 10_001):
        hist.add(step, last * (1 + 9 * math.exp(-step / 2000)))
    rows, steps = hist.rows()
    pane = GradPane()
    pane.set_data(grad, last, rows, 5.0, 0.0, 1.0, history_steps=steps)
    lines = lines_of(pane.build_text(98, 36))
    top = next(i for i, line in enumerate(lines) if line.startswith("▼ step 1 "))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("▲ step 10,000 "))
    assert bottom - top >= 3 and all("▀" in line for line in lines[top + 1 : bottom])


def test_heat_strip_shares_the_bars_scale_and_says_so() -> None:
    """If this fails, the heat strip's colours mean other decades than the bars' axis (in a
    single pane too), or its legend hides that older values lie beyond the scale."""
    last = 10.0 ** np.linspace(-2.5, -0.5, 32)  # two decades: the axis labels each one
    grad = last * 2
    grad[-1] = last[-1]
    hist = np.vstack([last * 1e-6, np.tile(last, (5, 1))])  # an old row far below today's
    steps = np.array([[1, 50], [51, 52], [53, 54], [55, 56], [57, 58], [59, 60]])
    pane = GradPane()
    pane.set_data(grad, last, hist, 5.0, 0.0, 1.0, history_steps=steps)
    lines = lines_of(pane.build_text(98, 36))
    labels = [line.split("┤")[0].strip() for line in lines if "┤" in line[:7]]
    assert labels == ["1e0", "1e-1", "1e-2", "1e-3"]  # every decade of the bars' axis
    legend = next(line for line in lines if line.startswith("▲ step 60 "))
    assert "  ≤1e-3 " in legend and " 1e0  same log scale as the bars" in legend


def test_merge_rows_is_a_weighted_geometric_mean() -> None:
    """If this fails, merging history rows to fit the strip shifts their colours."""
    values = np.array([[1e-4, 0.0, 1.0], [1e-2, 0.0, np.nan], [1.0, 3.0, 1.0]])
    merged = merge_rows(values, np.array([1, 3, 4]), 2)
    assert merged.shape == (2, 3)
    # Rows 0 and 1 (weights 1 and 3) merge; row 2 stays.
    assert merged[0, 0] == pytest.approx(10 ** ((-4 * 1 + -2 * 3) / 4), rel=1e-12)
    assert merged[0, 1] == 0.0 and np.isnan(merged[0, 2])
    np.testing.assert_allclose(merged[1], values[2], rtol=1e-12)


# ----------------------------------------------------------------------------- header, key, room


def test_bptt_window_line_says_how_state_crosses_windows() -> None:
    """If this fails, the pane does not say what one training window is, or says the state is
    carried over when the run resets it at each line (or the reverse)."""
    assert bptt_text(32, "") == "truncated BPTT: T = 32, state carried across windows"
    assert bptt_text(84, "\n") == "truncated BPTT: T = 84, state reset at each line"
    wide = pane_with(reset_at="").build_text(98, 36).plain
    assert "truncated BPTT: T = 32, state carried across windows" in wide
    assert "state reset at each line" in pane_with(reset_at="\n").build_text(98, 36).plain
    assert "BPTT" not in pane_with().build_text(98, 36).plain  # not known: not said


@pytest.mark.parametrize(
    ("width", "t_len", "lstm"), [(38, 32, False), (38, 32, True), (25, 84, False), (25, 84, True)]
)
def test_small_pane_keeps_the_profile_rows(width: int, t_len: int, lstm: bool) -> None:
    """If this fails, the header and key eat the profile in the 80x24 layout (38 x 10 cells a
    pane, 25 x 10 in compare mode): it must keep MIN_BARS rows, the key, and the ratio."""
    grad, last = vanishing(t_len)
    pane = GradPane()
    cell = grad * 0.1 if lstm else None
    pane.set_data(grad, last, np.tile(last, (30, 1)), 5.0, 0.37, 0.84, "‖W_hh‖₂ 2.77",
                  clip_steps=100, cell_grad=cell, reset_at="")  # fmt: skip
    text = pane.build_text(width, 10)
    _, n, _ = bar_area(text)
    assert n >= MIN_BARS
    plain = text.plain
    assert "ratio" in plain and "1.0e-07" in plain and "█ grad_t" in plain
    assert "grad_last_t" in plain and ("dL/dc_t" in plain) == lstm
    assert "…" not in plain  # nothing cut
    if width == 38 and not lstm:  # the default run at 80x24 keeps the clipping text whole
        assert "|g| 0.84 (norm of all gradients)" in plain and "clip at 5" in plain
        assert "clipped 37% of the last 100 steps" in plain


def test_pack_fills_gaps_with_short_tokens() -> None:
    """If this fails, compact headers waste lines that a short token could have shared."""
    lines = pack([Text("a" * 30), Text("b" * 30), Text("c" * 6), Text("d" * 8)], 38)
    assert [line.plain for line in lines] == ["a" * 30 + "  " + "c" * 6, "b" * 30, "d" * 8]


@pytest.mark.functional
@pytest.mark.parametrize("compare", [False, True], ids=["default", "lstm-rescue"])
def test_gradient_pane_rows_in_an_80x24_window(compare: bool) -> None:
    """If this fails, at 80x24 (a projector's usual window) the gradient profile has fewer than
    MIN_BARS rows: the header and key took them (it had 3 before they learned to shorten)."""
    from test_snapshots import FixedSource, fixed_snapshot

    from rnn_tui.ui.app import make_app

    if compare:
        lesson = Config(seq_len=line_length(DEFAULT_LAG), reset_at="\n", clip=1.0, hidden=32)
        spec = RunSpec(None, (lesson, lesson.with_(cell="lstm")))
    else:
        spec = RunSpec(str(TINY), (Config(),))
    app = make_app(spec, source=FixedSource())
    app.animate = False

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            t_len = spec.configs[0].seq_len
            grad, last = vanishing(t_len)
            snaps = []
            for config in spec.configs:
                snap = fixed_snapshot(app.vocab.size)
                cell = grad * 0.1 if config.cell == "lstm" else None
                record = replace(snap.record, grad_t=grad, grad_last_t=last, cell_grad_t=cell)
                hist = np.tile(last, (10, 1))
                snaps.append(replace(snap, record=record, cell=config.cell, grad_history=hist))
            app.show_snapshots(tuple(snaps))
            app._draw_charts(force=True)
            await pilot.pause()
            for lane in app.lanes:
                pane = lane.grad_pane
                w, h = pane.content_region.size
                _, n, _ = bar_area(pane.build_text(w, h))
                assert n >= MIN_BARS, (lane.cell.name, w, h, n)

    asyncio.run(main())


def test_an_underflowed_ratio_says_so() -> None:
    """If this fails, a gradient that vanished below float32's range shows as a bare ratio of 0
    (or n/a), and a student reads it as an exact zero."""
    pane = GradPane()
    pane.set_data(
        np.array([0.0, 0.5, 1.0]), np.array([0.0, 1e-20, 1.0]), np.zeros((0, 3)), 5.0, 0.0, 1.0
    )
    plain = pane.build_text(80, 20).plain
    assert "ratio g_last[1]/g_last[T] = 0 (too small for float32)" in plain
    # As narrow as each pane of --compare at 120 columns: the short form, whole, not cut;
    # the rest of the header as it was.
    pane.set_data(
        np.array([0.0, 0.5, 1.0]),
        np.array([0.0, 1e-20, 1.0]),
        np.zeros((0, 3)),
        5.0,
        0.0,
        1.0,
        extra="g[key]/g[=] 0",
    )
    narrow = pane.build_text(38, 20).plain
    assert "ratio 0 (underflow)" in narrow and "too sm" not in narrow, narrow
    assert "(norm of all gradients)" in narrow and "g[key]/g[=] 0" in narrow, narrow
