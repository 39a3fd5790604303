"""Display widgets: each renders real-looking data at common terminal sizes, and shows what it must.

The tests drive the widgets inside a tiny Textual app (``App.run_test``) and read back the text the
widget actually rendered (``Widget.render_lines``), so they check what a user would see.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets import GradPane, HelpScreen, LossChart, NeuronView, SamplePane, StatusBar
from rnn_tui.ui.widgets.colours import DARK
from rnn_tui.ui.widgets.grad_pane import N_HEAT
from rnn_tui.ui.widgets.help_screen import help_markdown
from rnn_tui.ui.widgets.loss_chart import WAITING_TEXT, downsample
from rnn_tui.ui.widgets.loss_readout import HELD_OUT, TRAINING, readout
from rnn_tui.ui.widgets.neuron_view import BLUE, GREY, PALETTE, RED, WHITE, palette_index
from rnn_tui.ui.widgets.status_bar import fit_paths

SIZES = [(80, 24), (120, 40)]


class OneWidgetApp(App[None]):
    """Composes a single widget; ``?`` opens the help screen like the real app."""

    BINDINGS = [("question_mark", "help", "help")]

    def __init__(self, widget: Widget, css: str = "") -> None:
        """Keep the widget to compose and optional extra CSS."""
        self._widget = widget
        self.CSS = css
        super().__init__()

    def compose(self) -> ComposeResult:
        """Just the widget under test."""
        yield self._widget

    def action_help(self) -> None:
        """Open the help screen."""
        self.push_screen(HelpScreen())


def run_in_app(
    widget: Widget,
    size: tuple[int, int],
    body: Callable[[OneWidgetApp, object], Awaitable[None]],
    css: str = "",
) -> None:
    """Run ``body(app, pilot)`` inside a headless app that shows ``widget``."""

    async def main() -> None:
        app = OneWidgetApp(widget, css)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(main())


def shown(widget: Widget) -> str:
    """The text the widget currently draws, one line per row."""
    w, h = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, w, h)))


# ----------------------------------------------------------------------------- fake data


def fake_loss(n: int = 5000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A decaying, noisy training loss ending at 1.83 and a held-out loss ending at 1.95."""
    rng = np.random.default_rng(1)
    steps = np.arange(1, n + 1, dtype=float)
    train = 1.8 + 2.4 * np.exp(-steps / 800) + 0.02 * rng.standard_normal(n)
    train[-1] = 1.83
    val_steps = np.arange(100, n + 1, 100, dtype=float)
    val = 1.9 + 2.3 * np.exp(-val_steps / 800)
    val[-1] = 1.95
    return steps, train, val_steps, val


def fake_grads(t_len: int = 50, k: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A vanishing profile: grad_last_t shrinks x10 per step back, exactly 1e-8 over 9 steps."""
    t = np.arange(1, t_len + 1)
    grad_last = 0.5 * 0.1 ** ((t_len - t) * 8 / (t_len - 1))  # ratio first/last = 1e-8
    grad = 0.2 + 0.6 * t / t_len
    hist = np.array([grad_last * (1 + 0.01 * i) for i in range(k)]).reshape(k, t_len)
    return grad, grad_last, hist


# ----------------------------------------------------------------------------- LossChart


@pytest.mark.functional
def test_loss_chart_waits_then_shows_bits() -> None:
    """If this fails, the loss pane is blank before the first step, or the user cannot read the
    latest loss in bits/char (nats / ln 2) next to nats/char."""
    chart = LossChart()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        assert WAITING_TEXT in shown(chart)
        chart.set_data(*fake_loss(), title_extra="lr 3e-3")
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(chart)
        assert WAITING_TEXT not in text
        bits_train = f"{1.83 / math.log(2):.2f}"  # 2.64
        bits_val = f"{1.95 / math.log(2):.2f}"  # 2.81
        assert f"1.83 nats/char ({bits_train} bits)" in text
        assert f"1.95 ({bits_val} bits)" in text
        assert "train" in text and "held-out" in text
        assert "┤" in text  # the plot frame with its y ticks is drawn

    run_in_app(chart, (120, 40), body)


@pytest.mark.functional
@pytest.mark.parametrize("size", SIZES)
def test_loss_chart_renders_at_common_sizes_with_bad_values(size: tuple[int, int]) -> None:
    """If this fails, the loss pane crashes or draws nothing at 80x24/120x40, e.g. when the
    trainer reports a NaN or inf loss in the history."""
    chart = LossChart()
    steps, train, val_steps, val = fake_loss()
    train[100] = np.nan
    train[200] = np.inf
    val[3] = -np.inf

    async def body(app: OneWidgetApp, pilot: object) -> None:
        chart.set_data(steps, train, val_steps, val)
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(chart)
        assert "┌" in text and "┘" in text  # frame drawn
        assert "5k" in text  # last x tick: the whole history is on the axis
        assert "nan" not in text.lower()

    run_in_app(chart, size, body)


def test_loss_chart_edge_cases_do_not_crash() -> None:
    """If this fails, the loss pane crashes on a single point, an all-NaN history, or a tiny
    terminal, or it shows a stale "waiting" message once data has arrived."""
    chart = LossChart()
    one = np.array([1.0])
    chart.set_data(one, np.array([4.2]), np.zeros(0), np.zeros(0))
    single = chart.build_text(60, 12).plain
    assert "4.20 nats/char" in single and "┤" in single
    chart.set_data(np.arange(3.0), np.full(3, np.nan), np.zeros(0), np.zeros(0))
    all_nan = chart.build_text(60, 12).plain
    assert "nan" in all_nan and "no finite loss values" in all_nan
    chart.set_data(*fake_loss())
    for w, h in [(0, 0), (1, 1), (5, 2), (19, 5), (20, 6), (25, 7)]:
        text = chart.build_text(w, h).plain
        lines = text.split("\n") if text else []
        assert len(lines) <= h
        assert all(len(line) <= w for line in lines)
    assert "1.83" in chart.build_text(19, 5).plain  # too small to plot: numbers only


def _tick_rows(lines: list[str]) -> dict[float, int]:
    """The loss chart's y ticks: value -> row, read off the labels left of the axis."""
    ticks = {}
    for row, line in enumerate(lines):
        label = line.split("┤")[0].strip() if "┤" in line else ""
        if label:
            ticks[float(label)] = row
    return ticks


@pytest.mark.parametrize(("vocab_size", "size"), [(30, (60, 20)), (69, (38, 9)), (200, (90, 30))])
def test_loss_chart_draws_the_uniform_guess_line_at_ln_v(
    vocab_size: int, size: tuple[int, int]
) -> None:
    """If this fails, the loss pane's reference line is not where guessing uniformly among the
    V characters would put the loss, so a class misreads how much the model has learned."""
    uniform = math.log(vocab_size)
    chart = LossChart(vocab_size=vocab_size)
    assert chart.uniform == pytest.approx(uniform, rel=1e-15)  # the value the line is drawn at
    steps = np.arange(1, 2001, dtype=float)
    train = 1.0 + 5.8 * np.exp(-steps / 300)  # from above ln V to well below it
    chart.set_data(steps, train, np.zeros(0), np.zeros(0))
    text = chart.build_text(*size)
    lines = text.plain.split("\n")
    rows = [r for r, line in enumerate(lines) if f"ln V = {uniform:.2f}" in line]
    assert len(rows) == 1, text.plain
    row = rows[0]
    # Where the y axis puts ln V: between the rows of the ticks on either side of it.
    ticks = _tick_rows(lines)
    above = min(v for v in ticks if v > uniform)
    below = max(v for v in ticks if v < uniform)
    want = ticks[below] + (uniform - below) / (above - below) * (ticks[above] - ticks[below])
    assert abs(row - want) < 1, (row, want, ticks)
    # The row is dotted in the line's grey, left of the label, which is in the same grey.
    start = sum(len(line) + 1 for line in lines[:row])
    grey = set()
    for span in text.spans:
        colour = Style.parse(span.style).color if isinstance(span.style, str) else span.style.color
        if (
            colour is not None
            and colour.triplet is not None
            and tuple(colour.triplet) == DARK.uniform
        ):
            grey.update(range(span.start, span.end))
    label = start + min(i for i in (lines[row].find("uniform"), lines[row].find("ln V")) if i >= 0)
    dots = [i for i in range(start, label) if i in grey]
    assert len(dots) >= 3 and all("\u2800" < text.plain[i] <= "\u28ff" for i in dots), lines[row]
    assert all(i in grey for i in range(label, label + len("ln V = "))), lines[row]


def test_loss_chart_keeps_ln_v_in_view_and_needs_the_vocabulary() -> None:
    """If this fails, the ln V line falls off a chart whose losses are all below it (a resumed
    run), or a chart that does not know V invents a line."""
    steps = np.arange(1, 501, dtype=float)
    low = 1.2 + 0.1 * np.exp(-steps / 100)  # far below ln 65 = 4.17
    known, unknown = LossChart(vocab_size=65), LossChart()
    for chart in (known, unknown):
        chart.set_data(steps, low, np.zeros(0), np.zeros(0))
    assert f"ln V = {math.log(65):.2f}" in known.build_text(60, 16).plain
    assert "ln V" not in unknown.build_text(60, 16).plain and unknown.uniform is None


@pytest.mark.functional
def test_loss_chart_caches_until_data_or_size_changes() -> None:
    """If this fails, the chart is rebuilt on every screen refresh (wasting CPU that the UI needs)
    or it keeps showing stale data after set_data."""
    chart = LossChart()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        chart.set_data(*fake_loss())
        await pilot.pause()  # type: ignore[attr-defined]
        chart.render()
        n = chart.render_count
        chart.render()
        chart.render()
        assert chart.render_count == n
        steps, train, val_steps, val = fake_loss()
        train[-1] = 1.5
        chart.set_data(steps, train, val_steps, val)
        chart.render()
        assert chart.render_count == n + 1
        assert "1.50 nats/char" in shown(chart)

    run_in_app(chart, (80, 24), body)


def test_loss_charts_share_nothing_through_plotext() -> None:
    """If this fails, a loss chart shows another chart's curves, or a title, theme or limits left
    in plotext's one shared figure, or it is cut to the size of the real terminal instead of the
    pane's: plotext 6 has a single public figure, which every chart borrows for one build."""
    import os
    import shutil

    import plotext

    first, second = LossChart(), LossChart()
    first.set_data(*fake_loss())
    steps, train, val_steps, val = fake_loss(300)
    second.set_runs([("rnn", steps, train + 3.0, val_steps, val), ("gru", steps, train, [], [])])
    alone = first.build_text(100, 24)
    second.build_text(70, 18)
    plotext.figure.title("left over")
    plotext.figure.theme("dark")
    plotext.figure.ruler("y").lim(-50, 50)
    plotext.terminal.limit(True, True)
    real_size = shutil.get_terminal_size
    try:
        shutil.get_terminal_size = lambda *_a, **_k: os.terminal_size((30, 8))  # type: ignore[assignment]
        again = first.build_text(100, 24)
    finally:
        shutil.get_terminal_size = real_size  # type: ignore[assignment]
        plotext.figure.clear()
    assert again == alone  # same characters and same colours
    lines = again.plain.split("\n")
    assert len(lines) == 24 and max(len(line) for line in lines) == 100


def test_loss_readout_names_its_loss() -> None:
    """If this fails, the large digits show a loss without saying which: the held-out loss
    once there is one (training loss beside it), the training loss, so labelled, before."""
    assert readout(None, 2.34567) == (TRAINING, "2.346", "")
    label, value, aside = readout(1.61, 1.402)
    assert (label, value) == (HELD_OUT, "1.610")
    assert "training loss 1.402" in aside
    assert "held-out" in HELD_OUT and "nats/char" in HELD_OUT
    assert TRAINING.startswith("training loss")
    # Two runs side by side: the figures are the first run's, and the label says so.
    assert readout(1.61, 1.402, "rnn")[0] == f"rnn: {HELD_OUT}"
    assert readout(None, 1.402, "lstm")[0] == f"lstm: {TRAINING}"


def test_downsample_keeps_whole_history_and_last_point() -> None:
    """If this fails, a long run is drawn with too many points (slow) or loses its start or its
    latest value."""
    x = np.arange(100_000, dtype=float)
    y = np.linspace(5.0, 1.0, x.size)
    dx, dy = downsample(x, y, 200)
    assert dx.size <= 201
    assert dx[0] < 300 and dx[-1] == x[-1] and dy[-1] == y[-1]
    assert np.all(np.diff(dx) > 0)
    small_x, small_y = downsample(x[:50], y[:50], 200)
    assert small_x.size == 50


# ----------------------------------------------------------------------------- GradPane


@pytest.mark.functional
@pytest.mark.parametrize("size", SIZES)
def test_grad_pane_renders_header_bars_and_heat_strip(size: tuple[int, int]) -> None:
    """If this fails, the gradient pane crashes or hides the vanishing ratio, |g|, the clip
    setting, how often clipping fired or the history strip at a common terminal size."""
    pane = GradPane()
    grad, grad_last, hist = fake_grads()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        pane.set_data(grad, grad_last, hist, 5.0, 0.37, 0.84, clip_steps=100)
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(pane)
        assert "ratio g_last[1]/g_last[T] = 1.0e-08" in text
        assert "|g| 0.84 (norm of all gradients)" in text
        assert "clip at 5" in text and "clipped 37% of the last 100 steps" in text
        assert "t=50" in text
        assert "1e0" in text  # log-scale decade labels
        assert "▀" in text  # the heat strip, its first and last step named
        assert "▼ step 1 " in text and "▲ step 40 " in text
        pane.set_data(grad, grad_last, hist, None, 0.0, 0.84, clip_steps=100)
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(pane)
        assert "clipping off" in text and "clipped" not in text

    run_in_app(pane, size, body)


@pytest.mark.functional
def test_grad_pane_narrow_downsamples_columns() -> None:
    """If this fails, a long BPTT window (T=100) in a narrow pane silently drops timesteps,
    leaves part of the pane empty, or does not tell the user that each column now stands for
    several steps."""
    pane = GradPane()
    grad, grad_last, hist = fake_grads(t_len=100, k=10)

    async def body(app: OneWidgetApp, pilot: object) -> None:
        pane.set_data(grad, grad_last, hist, 1.0, 0.0, 2.5)
        await pilot.pause()  # type: ignore[attr-defined]
        assert pane.size.width == 38
        text = shown(pane)
        match = re.search(r"each column = (\d+) steps", text)
        assert match, text
        group = int(match.group(1))
        columns = math.ceil(100 / group)
        assert group > 1 and columns <= 38
        assert "ratio g_last[1]/g_last[T] = 1.0e-08" in text
        assert "t=100" in text
        # The columns fill the pane and each carries a bar: the bottom bar row has no gap.
        bar_rows = [line for line in text.split("\n") if "┤" in line or "│" in line]
        bottom = bar_rows[-1].split("┤")[-1].split("│")[-1]
        gutter = len(bar_rows[-1]) - len(bottom)
        assert len(bottom) == 38 - gutter and " " not in bottom

    run_in_app(pane, (80, 24), body, css="GradPane { width: 38; }")


def test_grad_pane_survives_nan_inf_zero_and_empty_history() -> None:
    """If this fails, one NaN/inf/zero gradient (a diverging run) crashes the UI instead of
    showing a "!" marker."""
    pane = GradPane()
    grad, grad_last, _ = fake_grads(t_len=30)
    grad[3] = np.nan
    grad_last[5] = np.inf
    grad_last[7] = 0.0
    pane.set_data(grad, grad_last, np.zeros((0, 30)), None, None, float("nan"))
    for w, h in [(38, 12), (58, 30), (120, 20), (10, 3), (16, 5), (0, 0)]:
        pane.build_text(w, h)
    text = pane.build_text(58, 20).plain
    assert "!" in text and "nan/inf" in text
    assert "|g| nan" in text
    pane.set_data(np.full(4, np.nan), np.full(4, np.nan), np.full((2, 4), np.nan), 1, None, 1)
    assert "n/a" in pane.build_text(40, 12).plain
    pane.set_data(np.zeros(0), np.zeros(0), np.zeros((0, 0)), None, None, 0.0)
    assert "waiting" in pane.build_text(40, 12).plain


@pytest.mark.functional
def test_grad_pane_caches_until_data_or_size_changes() -> None:
    """If this fails, the gradient pane is rebuilt on every refresh (up to 5 per second is
    expected, repaints happen far more often) or never picks up new data."""
    pane = GradPane()
    grad, grad_last, hist = fake_grads()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        pane.set_data(grad, grad_last, hist, 5.0, 0.0, 1.0)
        await pilot.pause()  # type: ignore[attr-defined]
        pane.render()
        n = pane.render_count
        pane.render()
        assert pane.render_count == n
        pane.set_data(grad, grad_last, hist, 5.0, 0.01, 1.0, clip_steps=100)
        pane.render()
        assert pane.render_count == n + 1

    run_in_app(pane, (80, 24), body)


def test_neuron_view_shades_follow_the_value() -> None:
    """If this fails, the neuron view colours a unit's -1 and +1 alike, or NaN as a value."""
    idx = palette_index(np.array([-5.0, -1.0, -0.5, 0.0, 0.49, 1.0, np.nan, np.inf]))
    assert idx.tolist() == [0, 0, 8, 16, 24, 32, 33, 33]
    assert PALETTE[0].bgcolor.triplet == BLUE and PALETTE[32].bgcolor.triplet == RED
    assert PALETTE[16].bgcolor.triplet == WHITE and PALETTE[33].bgcolor.triplet == GREY
    view = NeuronView()
    view.set_data(list("a\x1bb\nc"), np.array([-1.0, 0.0, 1.0, 0.0, np.nan]), 0, 8)
    title, key, body = view.text.plain.split("\n", 2)
    assert body == "a␛b↵\nc"  # controls shown as stand-ins, newlines marked
    plain, start = view.text.plain, len(title) + len(key) + 2
    shade = {
        plain[s.start]: s.style.bgcolor.triplet
        for s in view.text.spans
        if s.style.bgcolor and s.start >= start
    }
    assert shade == {"a": BLUE, "␛": WHITE, "b": RED, "↵": WHITE, "c": GREY}


def test_neuron_view_keeps_each_key_with_what_it_does_at_80_columns() -> None:
    """If this fails, a narrow neuron view wraps its header inside a key hint ("[ ] unit  m" on
    one row, "most varying" on the next), so the m key and its meaning drift apart."""
    view = NeuronView()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        view.set_data(list("a sample"), np.linspace(-1, 1, 8), 5, 128)
        await pilot.pause()  # type: ignore[attr-defined]
        rows = shown(view).splitlines()
        for hint in ("[ ] unit", "m most varying", "v samples", "0 is white"):
            assert any(hint in row for row in rows), (hint, rows[:4])
        assert all(len(row.rstrip()) <= view.size.width for row in rows)

    run_in_app(view, (78, 10), body)


def test_neuron_view_says_what_it_shows_with_a_colour_key() -> None:
    """If this fails, the neuron view colours text without saying what the colour is: which
    unit of h_t, what h_t is, and which shade means -1, 0 and +1."""
    view = NeuronView()
    view.set_data(list("ab"), np.array([-0.5, 0.5]), 90, 128)
    title, key, _ = view.text.plain.split("\n", 2)
    assert title.startswith("h_t[90] of 128: the tanh output")
    assert "-1 blue .. +1 red" in title
    assert key.startswith("-1 ") and " +1" in key and "0 is white" in key
    key_start = len(title) + 1
    shades = [
        s.style.bgcolor.triplet
        for s in view.text.spans
        if s.style.bgcolor and key_start <= s.start < key_start + len(key)
    ]
    assert shades[0] == BLUE and shades[4] == WHITE and shades[8] == RED  # -1, 0, +1
    assert shades[-1] == GREY  # NaN/inf
    view.set_data(list("ab"), np.array([0.1, 0.2]), 3, 64, "lstm")
    assert view.text.plain.startswith("h_t[3] of 64: o_t * tanh(c_t)")


@pytest.mark.functional
def test_drawn_panes_reuse_a_bounded_set_of_styles() -> None:
    """If this fails, the app's memory grows for as long as it runs: every distinct style a pane
    draws is kept in Textual's style-to-ANSI cache (16,384 entries), and styles that carry a
    cell's position (what Textual adds to selectable text) are new on nearly every frame. Over 60
    frames of changing data, the heat map, the loss chart and the neuron view together must draw
    with no more styles than the heat palette's (fg, bg) pairs plus a few."""
    rng = np.random.default_rng(3)
    grads, chart, neurons = GradPane(), LossChart(), NeuronView()
    steps, train, val_steps, val = fake_loss(400)
    seen: set[object] = set()

    class ThreePanes(App[None]):
        def compose(self) -> ComposeResult:
            yield grads
            yield chart
            yield neurons

    async def main() -> None:
        async with ThreePanes().run_test(size=(120, 60)) as pilot:
            for frame in range(60):
                t_len = 40
                grad_last = 10.0 ** rng.uniform(-9, 0, t_len).cumsum() / t_len
                hist = 10.0 ** rng.uniform(-9, 0, (30, t_len))
                grads.set_data(
                    grad_last * 2, grad_last, hist, 5.0, frame % 7 / 7, 1.0, clip_steps=100
                )
                shift = rng.uniform(-0.5, 0.5)
                n = 100 + 5 * frame
                chart.set_data(steps[:n], train[:n] + shift, val_steps[: n // 100], val[: n // 100])
                values = np.tanh(rng.standard_normal(300))
                neurons.set_data(list("the cat sat " * 25), values, frame, 128)
                await pilot.pause()
                for pane in (grads, chart, neurons):
                    w, h = pane.size
                    for strip in pane.render_lines(Region(0, 0, w, h)):
                        seen.update(segment.style for segment in strip if segment.style)

    asyncio.run(main())
    positioned = [s for s in seen if s._meta and "offset" in s.meta]  # type: ignore[attr-defined]
    assert not positioned, f"{len(positioned)} styles carry a cell position"
    assert len(seen) <= (N_HEAT + 1) ** 2 + 64, len(seen)


# ----------------------------------------------------------------------------- SamplePane


NASTY = "[bold]not bold[/] \x1b[31mred\x1b[0m\r\x07\tEND"


def test_sanitize_makes_controls_visible() -> None:
    """If this fails, text from the corpus can move the cursor, ring the bell or recolour the
    terminal instead of being shown as characters."""
    out = sanitize(NASTY + "\u202e\u2028\ud800\x9b\n")
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out and "\t" not in out
    assert "␛[31m" in out and "␍" in out and "␇" in out and "␉" in out
    assert "[bold]not bold[/]" in out
    assert out.endswith("\n") and out.count("\n") == 1
    assert all(ch == "\n" or ch.isprintable() or ch == "·" for ch in out)


@pytest.mark.functional
@pytest.mark.parametrize("size", SIZES)
def test_sample_pane_shows_text_literally(size: tuple[int, int]) -> None:
    """If this fails, generated text containing "[bold]" is swallowed as markup, an escape
    sequence reaches the terminal, or CJK/emoji/combining/RTL text crashes the pane."""
    pane = SamplePane()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        pane.start_sample("── step 1200, temperature 0.8 ──")
        for ch in NASTY + "\n漢字 😀 e\u0301 שלום\n":
            pane.append_chars(ch)
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(pane)
        assert "── step 1200, temperature 0.8 ──" in text
        assert "[bold]not bold[/]" in text
        assert "␛[31mred␛[0m␍␇␉END" in text
        assert "\x1b" not in text
        assert "漢字 😀" in text and "שלום" in text

    run_in_app(pane, size, body)


@pytest.mark.functional
def test_sample_pane_bounded_wrapped_and_follows_the_end() -> None:
    """If this fails, memory grows without bound over a long run, long lines run off the pane,
    or new text arrives below the visible area without scrolling."""
    pane = SamplePane(max_samples=5)

    async def body(app: OneWidgetApp, pilot: object) -> None:
        for k in range(12):
            pane.start_sample(f"── step {k} ──")
            pane.append_chars("lorem ipsum dolor sit amet " * 8)
            pane.append_chars("\nsecond line\n")
        pane.append_chars("LAST-WORDS")
        await pilot.pause()  # type: ignore[attr-defined]
        assert len(pane.samples) == 5
        assert pane.samples[0][0] == "── step 7 ──"
        width = pane.scrollable_content_region.width
        assert all(len(r.rstrip()) <= width for r in pane.visual_rows())
        assert pane.max_scroll_y > 0 and pane.scroll_offset.y == pane.max_scroll_y
        assert "LAST-WORDS" in shown(pane)
        pane.start_sample("step 99 · temperature 1.0")
        assert pane.samples[-1][0] == "── step 99 · temperature 1.0 ──"
        # A capped sample stays bounded however long it runs.
        for _ in range(300):
            pane.append_chars("x" * 50)
        assert len(pane.samples[-1][1]) <= pane.max_chars * 5 // 4

    run_in_app(pane, (60, 12), body)


@pytest.mark.functional
def test_sample_pane_incremental_wrap_matches_full_rewrap() -> None:
    """If this fails, text typed character by character wraps differently from the same text
    re-wrapped after a resize (words jump around or get lost)."""
    pane = SamplePane()
    text = ("The quick brown fox jumps over the lazy dog. " * 6 + "\n") * 3 + "unfinished"

    async def body(app: OneWidgetApp, pilot: object) -> None:
        pane.start_sample("s")
        for i in range(0, len(text), 3):
            pane.append_chars(text[i : i + 3])
        typed = pane.visual_rows()
        pane._rewrap_all()
        assert pane.visual_rows() == typed
        assert "".join(typed[1:]).replace(" ", "") == text.replace("\n", "").replace(" ", "")

    run_in_app(pane, (50, 20), body)


# ----------------------------------------------------------------------------- StatusBar


@pytest.mark.functional
@pytest.mark.parametrize("size", SIZES)
def test_status_bar_escapes_and_formats(size: tuple[int, int]) -> None:
    """If this fails, a corpus named like "[red]x[/red]" is eaten as markup or crashes the bar,
    or sizes/speeds are shown as raw long numbers."""
    bar = StatusBar()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        bar.set_status(
            "[red]shake[/red] [b.txt",
            65,
            "rnn",
            54_321,
            12_000,
            41_234.0,
            "training",
            3e-3,
            0.8,
            "saved checkpoint to runs/x.npz",
        )
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(bar).replace("\xa0", " ")
        assert "[red]shake[/red] [b.txt" in text
        assert "54.3k params" in text and "41.2k chars/s" in text
        assert "TRAINING" in text and "step 12,000" in text
        assert "saved checkpoint to runs/x.npz" in text
        assert bar.size.height <= 2
        # Two runs side by side: each one's parameter count on its own, not only the sum.
        bar.set_status(
            "ll",
            11,
            "rnn vs lstm",
            7769,
            5,
            1e3,
            "training",
            0.03,
            0.8,
            runs=[("rnn", 1771), ("lstm", 5998)],
        )
        await pilot.pause()  # type: ignore[attr-defined]
        text = shown(bar).replace("\xa0", " ")
        assert "rnn 1.77k · lstm 6k params" in text and "7.77k" not in text

    run_in_app(bar, size, body)


@pytest.mark.functional
def test_a_long_path_in_a_notice_keeps_its_file_name_at_80_columns() -> None:
    """If this fails, a student saving to a deep folder over an 80-column SSH session reads
    "saved /home/ann/course/week-3/experim…" and never learns the file's name."""
    bar = StatusBar()
    path = "/home/ann/course/week-3/experiments/tiny-rnn-step1821.npz"

    async def body(app: OneWidgetApp, pilot: object) -> None:
        bar.set_status("tiny.txt", 69, "rnn", 34_200, 1821, 4.2e5, "training", 3e-3, 0.8,
                       f"saved {path}")  # fmt: skip
        await pilot.pause()  # type: ignore[attr-defined]
        lines = shown(bar).replace("\xa0", " ").splitlines()
        assert len(lines) == 2 and all(len(line.rstrip()) <= 80 for line in lines)
        end = "saved …/course/week-3/experiments/tiny-rnn-step1821.npz"  # /home/ann left out
        assert lines[1].rstrip().endswith(end), lines
        assert path in bar.plain_text  # the whole path is still what the bar was told

    run_in_app(bar, (80, 24), body)


def test_fit_paths_shortens_paths_from_the_left_and_nothing_else() -> None:
    """If this fails, a notice's path loses its file name, or a word that is not a path (a
    ratio, the lesson's g[key]/g[=]) is cut as if it were one."""
    text = "saved /a/bb/ccc/x.npz, runs/deep/y.npz (weights of step 3)"
    assert fit_paths(text, len(text)) == text  # fits: untouched
    assert fit_paths(text, 56) == "saved …/ccc/x.npz, runs/deep/y.npz (weights of step 3)"
    assert fit_paths(text, 52) == "saved …/ccc/x.npz, …/deep/y.npz (weights of step 3)"
    assert fit_paths(text, 10) == "saved …/x.npz, …/y.npz (weights of step 3)"  # names stay
    other = "g[key]/g[=] 0.24 and ratio 1/2.5 at step 3"
    assert fit_paths(other, 10) == other
    export = "exported to /srv/runs/a: 12 loss points"
    assert fit_paths(export, 37) == "exported to …/runs/a: 12 loss points"
    assert fit_paths(export, 20) == "exported to …/a: 12 loss points"  # as short as it goes


@pytest.mark.functional
def test_status_bar_state_colours_differ() -> None:
    """If this fails, a diverged or errored run looks the same as a healthy one in the bar."""
    bar = StatusBar()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        colours = {}
        for state in ("training", "paused", "diverged", "starting"):
            bar.set_status("c", 10, "gru", 1000, 1, 10.0, state, 0.1, 1.0)
            await pilot.pause()  # type: ignore[attr-defined]
            badge = next(
                seg
                for seg in bar.render_lines(Region(0, 0, *bar.size))[0]
                if state.upper() in seg.text
            )
            colours[state] = (badge.style.color, badge.style.bgcolor, badge.style.reverse)
        assert len(set(colours.values())) == 4

    run_in_app(bar, (80, 24), body)


# ----------------------------------------------------------------------------- HelpScreen


def test_help_gives_the_corpus_own_uniform_loss() -> None:
    """If this fails, the help quotes a uniform-guess loss for some other vocabulary than the
    one the status line shows, or makes one up when it does not know V."""
    text = help_markdown(69)
    assert f"**ln(V)** nats: {math.log(69):.2f} for this corpus's V = 69." in text
    assert "4.23" in text and "65" not in text
    plain = help_markdown()
    assert "ln(V)" in plain and "for this corpus" not in plain
    assert HelpScreen(69).vocab_size == 69


def test_help_describes_this_runs_start_up_boost() -> None:
    """If this fails, the help promises a start-up boost to a run that has none (a lesson,
    `--lr` typed alone), or quotes the defaults' boost to a run started with another."""
    from rnn_tui.engine.config import Config

    default = help_markdown(69)
    assert "The first 500 steps take up to 3 times the learning rate" in default
    other = help_markdown(69, Config(lr_boost=2.0, boost_steps=200))
    assert "The first 200 steps take up to 2 times the learning rate" in other
    none = help_markdown(69, Config(lr_boost=1.0))
    assert "no start-up boost" in none and "times the learning rate" not in none
    zero = help_markdown(69, Config(boost_steps=0))  # a saved config: no steps to boost
    assert "no start-up boost" in zero and "The first 0 steps" not in zero
    assert HelpScreen(69, Config(lr_boost=1.0)).config == Config(lr_boost=1.0)


@pytest.mark.functional
@pytest.mark.parametrize("size", SIZES)
def test_help_screen_opens_scrolls_and_closes(size: tuple[int, int]) -> None:
    """If this fails, "?" does not show the help, the help cannot be read at 80x24 (it must
    scroll), or the user is stuck in it (escape, q and ? must all close it)."""
    pane = SamplePane()

    async def body(app: OneWidgetApp, pilot: object) -> None:
        for key in ("escape", "q", "question_mark"):
            await pilot.press("question_mark")  # type: ignore[attr-defined]
            await pilot.pause()  # type: ignore[attr-defined]
            assert isinstance(app.screen, HelpScreen)
            text = app.screen.query_one("#help-text").source  # type: ignore[attr-defined]
            assert "vanish" in text and "ln(V)" in text and "temperature" in text
            box = app.screen.query_one("#help-box")
            assert box.region.height <= size[1]
            if size == (80, 24):
                assert box.max_scroll_y > 0  # longer than the screen: it scrolls
            await pilot.press(key)  # type: ignore[attr-defined]
            await pilot.pause()  # type: ignore[attr-defined]
            assert not isinstance(app.screen, HelpScreen), key

    run_in_app(pane, size, body)
