"""Colours by meaning, readable on a projector.

The palettes are checked on their own (contrast, distinctness), and the app is checked as a
class sees it: rendered at 120x40 from fixed data, exported as an SVG screenshot, and read back
cell by cell (character, colour, background), in the projector theme and in the dark one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import itertools
import math
import re

import numpy as np
import pytest
from rich.text import Text
from test_snapshots import TINY, FixedSource, fixed_snapshot, show_fixed
from textual.geometry import Region
from textual.pilot import Pilot
from textual.theme import BUILTIN_THEMES

from rnn_tui.engine.config import Config
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.keys import PROJECTOR_THEME
from rnn_tui.ui.widgets.colours import DARK, LIGHT, RGB, Palette, contrast
from rnn_tui.ui.widgets.loss_chart import HELD_OUT_GLYPH, TRAIN_GLYPH, LossChart

Cell = tuple[str, RGB, RGB | None]  # (character, colour, background) of one screen cell

READABLE = 4.5  # WCAG's contrast ratio for normal text
GREYS = ("uniform", "zero")  # the roles without a hue, like the theme's text
LIKE = 25.0  # CIE76 distance below which two colours of one palette could be taken for each other
WHITE = (255, 255, 255)
BRAILLE = "".join(chr(c) for c in range(0x2801, 0x2900))  # every braille cell with a dot
QUARTERS = "▖▗▘▙▚▛▜▝▞▟▀▄▌▐█"  # the quarter-block cells of plotext's hd marker


def hex_rgb(code: str) -> RGB:
    code = code.lstrip("#")
    return (int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16))


DARK_GROUND = hex_rgb(BUILTIN_THEMES["textual-dark"].to_color_system().generate()["background"])
LIGHT_GROUND = hex_rgb(PROJECTOR_THEME.to_color_system().generate()["background"])
GROUNDS = [(DARK, DARK_GROUND), (LIGHT, LIGHT_GROUND)]


def lab(rgb: RGB) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour: distances in it follow what the eye tells apart."""

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def chroma(rgb: RGB) -> float:
    """How far from grey a colour is (CIE C*ab): 0 for black, white and greys."""
    _, a, b = lab(rgb)
    return math.hypot(a, b)


def distance(a: RGB, b: RGB) -> float:
    """CIE76 colour difference: about 2.3 is just noticeable, above 20 clearly another colour."""
    return math.dist(lab(a), lab(b))


# -- the palettes -----------------------------------------------------------------------------


def test_contrast_follows_the_wcag_formula() -> None:
    """If this fails, the contrast ratios these tests rely on are computed wrongly, and a colour
    that washes out on a projector passes."""
    assert contrast((0, 0, 0), WHITE) == pytest.approx(21.0, abs=1e-9)
    assert contrast((40, 90, 200), (40, 90, 200)) == pytest.approx(1.0, abs=1e-12)
    # Published reference values: #767676 is the lightest grey with 4.5:1 on white.
    assert contrast((0x76, 0x76, 0x76), WHITE) == pytest.approx(4.54, abs=0.01)
    assert contrast((0x77, 0x77, 0x77), WHITE) == pytest.approx(4.48, abs=0.01)
    assert contrast((0, 0, 255), WHITE) == pytest.approx(8.59, abs=0.01)
    assert contrast(WHITE, (0, 0, 0)) == contrast((0, 0, 0), WHITE)


@pytest.mark.parametrize("colours, ground", GROUNDS, ids=["dark", "light"])
def test_every_colour_reads_on_its_ground(colours: Palette, ground: RGB) -> None:
    """If this fails, a curve, a legend or a bar is too faint on its ground: on a projector's
    white, pale colours vanish. (Exact zeros are drawn near the ground on purpose.)"""
    for role, rgb in colours.roles().items():
        if role not in ("zero", "grad_t"):
            assert contrast(rgb, ground) >= READABLE, (role, rgb, contrast(rgb, ground))
    # The grad_t bars are areas behind the grad_last_t line, muted on purpose, yet visible.
    assert contrast(colours.grad_t, ground) >= 1.7
    assert contrast(colours.zero, ground) < 1.6  # nothing flows: close to the ground...
    assert distance(colours.zero, ground) > 5  # ...but still a colour of its own


@pytest.mark.parametrize("colours", [DARK, LIGHT], ids=["dark", "light"])
def test_no_two_meanings_share_a_colour(colours: Palette) -> None:
    """If this fails, two meanings look alike (orange once meant five things): a class reads
    one for the other."""
    roles = colours.roles()
    assert len(roles) == 11
    for (a, rgb_a), (b, rgb_b) in itertools.combinations(roles.items(), 2):
        assert distance(rgb_a, rgb_b) >= LIKE, (a, b, distance(rgb_a, rgb_b))


@pytest.mark.parametrize("colours", [DARK, LIGHT], ids=["dark", "light"])
def test_grad_last_marks_stand_out_on_the_bars(colours: Palette) -> None:
    """If this fails, the grad_last_t line drawn on top of the grad_t bars melts into them: it
    must be the boldest thing in the pane, the bars its lighter background."""
    assert contrast(colours.grad_last, colours.grad_t) >= 4.0
    assert distance(colours.grad_last, colours.grad_t) >= 60


@pytest.mark.parametrize("colours", [DARK, LIGHT], ids=["dark", "light"])
def test_every_measured_meaning_has_a_hue(colours: Palette) -> None:
    """If this fails, a curve or a bar is drawn in grey, the colour of text that carries no
    data (titles, headers, keys): only the labelled, dotted ln V line and zero are grey."""
    for role, rgb in colours.roles().items():
        if role in GREYS:
            assert chroma(rgb) < 3, (role, rgb)
        else:
            assert chroma(rgb) >= 25, (role, rgb, chroma(rgb))


def test_the_two_palettes_keep_each_meanings_hue() -> None:
    """If this fails, a meaning changes hue when `h` switches theme (teal train loss becoming
    pink, say), and a class that learnt the colours on one screen misreads the other."""

    def hue(rgb: RGB) -> float:
        _, a, b = lab(rgb)
        return math.degrees(math.atan2(b, a)) % 360

    for role, dark in DARK.roles().items():
        light = LIGHT.roles()[role]
        if role in GREYS:
            continue
        turn = abs(hue(dark) - hue(light))
        assert min(turn, 360 - turn) < 40, (role, hue(dark), hue(light))


# -- the loss chart, without an app (the dark palette) ----------------------------------------


def styled(text: Text, rgb: RGB) -> str:
    """The characters of `text` drawn in colour `rgb`."""
    chars = []
    for span in text.spans:
        color = getattr(span.style, "color", None)
        if color is not None and color.triplet is not None and tuple(color.triplet) == rgb:
            chars.append(text.plain[span.start : span.end])
    return "".join(chars)


def test_compare_mode_tells_runs_by_colour_and_held_out_by_beads() -> None:
    """If this fails, a run's held-out curve cannot be told from its training curve, or the
    two runs share a colour, or a run borrows the colour of a single run's train/held-out."""
    steps = np.arange(1, 801, dtype=float)
    loss = 1.5 + 2.5 * np.exp(-steps / 200)
    val_steps = np.arange(100, 801, 100, dtype=float)
    val = 1.6 + 2.5 * np.exp(-val_steps / 200)
    chart = LossChart(vocab_size=65)
    chart.set_runs(
        [("rnn", steps, loss + 0.5, val_steps, val + 0.5), ("lstm", steps, loss, val_steps, val)]
    )
    text = chart.build_text(60, 24)
    legend = text.plain.split("\n")[:4]
    assert [line.split(" ")[:3] for line in legend] == [
        [TRAIN_GLYPH, "rnn", "train"],
        [HELD_OUT_GLYPH, "rnn", "held-out"],
        [TRAIN_GLYPH, "lstm", "train"],
        [HELD_OUT_GLYPH, "lstm", "held-out"],
    ]
    for run, rgb in zip(("rnn", "lstm"), DARK.runs, strict=True):
        drawn = styled(text, rgb)
        assert f"{run} train" in drawn and f"{run} held-out" in drawn
        assert HELD_OUT_GLYPH * 3 in drawn  # the held-out curve, in beads
        assert sum(ch in BRAILLE for ch in drawn) > 20  # the training curve
    assert not styled(text, DARK.train) and not styled(text, DARK.held_out)


def test_single_run_has_its_train_and_held_out_colours() -> None:
    """If this fails, the training and held-out curves of one run have swapped or lost their
    colours, and the legend no longer matches the curves."""
    steps = np.arange(1, 801, dtype=float)
    val_steps = np.arange(100, 801, 100, dtype=float)
    chart = LossChart(vocab_size=65)
    chart.set_data(steps, 1.5 + 2.5 * np.exp(-steps / 200), val_steps, 2.0 + 0 * val_steps)
    text = chart.build_text(60, 20)
    train, held_out = styled(text, DARK.train), styled(text, DARK.held_out)
    assert train.startswith(f"{TRAIN_GLYPH} train")
    assert held_out.startswith(f"{HELD_OUT_GLYPH} held-out")
    assert HELD_OUT_GLYPH * 10 in held_out  # a flat held-out line, in beads
    assert sum(ch in BRAILLE for ch in train) > 20


# -- the app as a class sees it ---------------------------------------------------------------

CHAR_W, LINE_H, CHAR_H = 12.2, 24.4, 20  # Rich's SVG export: cell width, line height, baseline


def screen_cells(svg: str) -> dict[tuple[int, int], Cell]:
    """Read an SVG screenshot back: (row, column) -> (character, colour, background)."""
    classes = {
        m[1]: hex_rgb(m[2]) for m in re.finditer(r"\.terminal-\d+-(r\d+) \{ fill: (#\w{6})", svg)
    }
    ground: dict[tuple[int, int], RGB] = {}
    for m in re.finditer(
        r'<rect fill="(#\w{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+"'
        r' shape-rendering="crispEdges"/>',
        svg,
    ):
        row, col = round((float(m[3]) - 1.5) / LINE_H), round(float(m[2]) / CHAR_W)
        for c in range(col, col + round(float(m[4]) / CHAR_W)):
            ground[row, c] = hex_rgb(m[1])
    cells: dict[tuple[int, int], Cell] = {}
    for m in re.finditer(
        r'<text class="terminal-\d+-(r\d+)" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg
    ):
        row, col = round((float(m[3]) - CHAR_H) / LINE_H), round(float(m[2]) / CHAR_W)
        for i, ch in enumerate(html.unescape(m[4])):
            cells[row, col + i] = (ch, classes[m[1]], ground.get((row, col + i)))
    return cells


def text_at(cells: dict[tuple[int, int], Cell], row: int) -> str:
    """Row `row` of the screen as plain text."""
    width = max(c for _, c in cells) + 1
    return "".join(cells.get((row, c), (" ",))[0] for c in range(width)).replace("\xa0", " ")


def colours_of(cells: dict[tuple[int, int], Cell], region: Region, chars: str = "") -> set[RGB]:
    """The colours of the visible characters in a region (only `chars`, if given)."""
    return {
        fg
        for (row, col), (ch, fg, _) in cells.items()
        if region.contains(col, row) and ch.strip() and (not chars or ch in chars)
    }


def word_colour(cells: dict[tuple[int, int], Cell], region: Region, word: str) -> RGB:
    """The colour of the first character of `word`'s first appearance in a region."""
    for row in range(region.y, region.bottom):
        line = text_at(cells, row)
        col = line.find(word, region.x, region.right)
        if col >= 0:
            return cells[row, col][1]
    raise AssertionError(f"{word!r} not shown in {region}")


def compare_app() -> RnnApp:
    """The app of `--compare rnn,lstm`, fed by hand (no trainer, no timers)."""
    spec = RunSpec(str(TINY), (Config(cell="rnn"), Config(cell="lstm")))
    app = make_app(spec, source=FixedSource())
    app.animate = False
    return app


async def show_compare(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, RnnApp)
    a = fixed_snapshot(app.vocab.size)
    b = dataclasses.replace(
        a,
        cell="lstm",
        loss_values=a.loss_values * 0.6,  # well below the rnn: both curves in sight
        val_values=a.val_values * 0.65,
        record=dataclasses.replace(a.record, val_loss=a.record.val_loss * 0.65),
    )
    app.show_snapshots((a, b))
    app._draw_charts(force=True)
    for lane in app.lanes:
        lane.sample_pane.start_sample("step 1,100 · temperature 0.8")
        lane.sample_pane.append_chars("The baker opened the door [bold]and[/bold] the river.")
        lane.next_chars.show([("e", 0.41), (" ", 0.22), ("a", 0.09)], chosen=" ")
    await pilot.pause()


def fixed(compare: bool) -> RnnApp:
    """The app of one run or of two, fed by hand."""
    if compare:
        return compare_app()
    app = make_app(RunSpec(str(TINY), (Config(),)), source=FixedSource())
    app.animate = False
    return app


async def shown(app: RnnApp, pilot: Pilot, compare: bool) -> None:
    """Fixed data on every pane of `app`: one run's (tests/test_snapshots.py) or two runs'."""
    if compare:
        await show_compare(pilot)
    else:
        await show_fixed(pilot)
        app.lanes[0].next_chars.show([("e", 0.41), (" ", 0.22), ("[", 0.09)], chosen=" ")
        await pilot.pause()


def unreadable(app: RnnApp, cells: dict[tuple[int, int], Cell]) -> list[str]:
    """Every character in the loss, sample, status and key panes, and every pane title, whose
    contrast with its own background is below 4.5, as 'row,col char ratio'."""
    regions = [app.loss_digits.region, app.loss_chart.region, app.status_bar.region]
    regions.append(app.footer.region)
    for lane in app.lanes:
        regions += [lane.sample_pane.region, lane.next_chars.region]
    titles = [w.region for w in app.query(".lane, .grads, #loss-box")]
    bad = []
    for (row, col), (ch, fg, ground) in cells.items():
        if not ch.strip() or ch == "▏":  # ▏: the footer's separator rule
            continue
        in_pane = any(r.contains(col, row) for r in regions)
        in_title = any(r.contains(col, row) and row == r.y and ch.isalnum() for r in titles)
        if not (in_pane or in_title):
            continue
        if ground is None:
            bad.append(f"{row},{col} {ch!r} on no background")
        elif contrast(fg, ground) < READABLE:
            bad.append(f"{row},{col} {ch!r} {contrast(fg, ground):.2f}")
    return bad


@pytest.mark.functional
@pytest.mark.parametrize("compare", [False, True], ids=["one-run", "compare"])
@pytest.mark.parametrize("projector", [True, False], ids=["projector", "dark"])
def test_every_character_reads_on_its_background(projector: bool, compare: bool) -> None:
    """If this fails, some text or curve of the loss, sample, status or key panes is too faint
    to read (on a projector: pale legends, dotted curves, a dimmed next-character line)."""

    async def main() -> None:
        app = fixed(compare)
        async with app.run_test(size=(120, 40)) as pilot:
            await shown(app, pilot, compare)
            if projector:
                await pilot.press("h")
                await pilot.pause()
            assert app.current_theme.dark is not projector
            cells = screen_cells(app.export_screenshot())
            assert not unreadable(app, cells)
            colours = LIGHT if projector else DARK
            chart = app.loss_chart.region
            drawn = colours_of(cells, chart)
            curves = [*colours.runs] if compare else [colours.train, colours.held_out]
            assert {*curves, colours.uniform} <= drawn  # every curve is on the chart...
            assert colours_of(cells, chart, HELD_OUT_GLYPH) <= set(curves)  # ...beads included
            # The training curves: quarter blocks on a projector, braille dots on a dark screen.
            line = QUARTERS if projector else BRAILLE
            for rgb in colours.runs if compare else [colours.train]:
                assert sum(c[1] == rgb and c[0] in line for c in cells.values()) > 5
            assert word_colour(cells, chart, "uniform guess") == colours.uniform
            digits = colours_of(cells, app.loss_digits.digits.region)
            # The large digits: the held-out loss, in compare mode the first run's, in its colour.
            assert digits == {colours.runs[0] if compare else colours.held_out}

    asyncio.run(main())


@pytest.mark.functional
def test_h_redraws_every_pane_in_the_other_palette() -> None:
    """If this fails, pressing h leaves a pane in the colours of the other theme (dark-theme
    pastels on white), until its data happens to change."""

    async def main() -> None:
        app = fixed(False)
        async with app.run_test(size=(120, 40)) as pilot:
            await shown(app, pilot, False)
            lane = app.lanes[0]
            drawn = [app.loss_chart.render_count, lane.grad_pane.render_count]
            looks = []
            for colours in (LIGHT, DARK, LIGHT):
                await pilot.press("h")
                await pilot.pause()
                cells = screen_cells(app.export_screenshot())
                chart = app.loss_chart.region
                assert word_colour(cells, chart, "train") == colours.train
                assert word_colour(cells, chart, "held-out") == colours.held_out
                assert colours_of(cells, app.loss_digits.digits.region) == {colours.held_out}
                now = [app.loss_chart.render_count, lane.grad_pane.render_count]
                assert all(n > d for n, d in zip(now, drawn, strict=True))  # drawn anew
                drawn = now
                looks.append(
                    (
                        word_colour(cells, lane.next_chars.region, "next"),
                        word_colour(cells, lane.sample_pane.region, "step 1,100"),
                        word_colour(cells, app.status_bar.region, "tiny.txt"),
                    )
                )
            # The text panes follow too: each changed its colours, and back.
            assert looks[0] == looks[2] and all(a != b for a, b in zip(*looks[:2], strict=True))

    asyncio.run(main())


@pytest.mark.functional
@pytest.mark.parametrize("projector", [True, False], ids=["projector", "dark"])
def test_text_without_data_has_no_data_colour(projector: bool) -> None:
    """If this fails, a sample header, a pane title or a key wears the colour of a meaning
    (orange headers once looked like grad_last_t): the screen says something it does not mean."""

    async def main() -> None:
        app = fixed(False)
        async with app.run_test(size=(120, 40)) as pilot:
            await shown(app, pilot, False)
            if projector:
                await pilot.press("h")
                await pilot.pause()
            cells = screen_cells(app.export_screenshot())
            lane = app.lanes[0]
            neutral = {
                "sample header": word_colour(cells, lane.sample_pane.region, "step 1,100"),
                "pane title": word_colour(cells, app.query_one("#loss-box").region, "loss"),
                "key": word_colour(cells, app.footer.region, "space"),
                "notice": word_colour(cells, app.status_bar.region, "high contrast")
                if projector
                else None,
            }
            roles = (LIGHT if projector else DARK).roles()
            hued = {role: rgb for role, rgb in roles.items() if role not in GREYS}
            for what, rgb in neutral.items():
                if rgb is not None:
                    assert chroma(rgb) < 3, (what, rgb)  # black, white or grey: no hue
                    near = min(hued, key=lambda r: distance(hued[r], rgb))
                    assert distance(hued[near], rgb) >= LIKE, (what, rgb, near)

    asyncio.run(main())


@pytest.mark.functional
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_footer_shows_the_keys_a_class_needs(size: tuple[int, int]) -> None:
    """If this fails, the keys for help, the neuron view, high contrast or screenshots are cut
    off the footer (or hidden under the command palette's hint), and nobody finds them."""

    async def main() -> None:
        app = fixed(False)
        async with app.run_test(size=size) as pilot:
            await shown(app, pilot, False)
            keys = {k.key_display: k for k in app.footer.query("FooterKey")}
            hint = keys.pop("^p", None)
            right = hint.region.x if hint is not None and hint.display else size[0]
            want = ["q", "?", "v", "h", "p"] if size[0] >= 120 else ["q", "?"]
            for key in want:
                assert keys[key].region.right <= right, (key, keys[key].region, right)
            row = text_at(screen_cells(app.export_screenshot()), size[1] - 1)
            for key in want:
                assert f"{key} {keys[key].description}" in row, row

    asyncio.run(main())
