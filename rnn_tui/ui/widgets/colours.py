"""The panes' colours, in one place: one colour per meaning, the same in every pane.

Two palettes: `DARK` for the default themes and `LIGHT` for the projector theme (white ground,
where pale colours vanish). A pane asks for `palette(light)` and uses the roles by name, so a
meaning never changes colour from one pane to the next. `rgb_style` caches the Rich style of
each colour pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.color import Color
from rich.style import Style

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Each role names one meaning on screen; each meaning has one colour."""

    name: str  # "dark" or "light": part of a pane's cache key
    train: RGB  # the training loss (curve, legend, figures)
    held_out: RGB  # the held-out loss (curve, legend, large digits when they show it)
    runs: tuple[RGB, RGB]  # the two runs of --compare, told apart by colour
    uniform: RGB  # the loss chart's line at ln V, the loss of guessing uniformly
    grad_t: RGB  # grad_t bars: the gradient of all T losses
    grad_last: RGB  # grad_last_t profile: the gradient of the last loss alone
    cell_grad: RGB  # the LSTM's cell-state gradient dL/dc_t
    bad: RGB  # non-finite values (nan/inf)
    zero: RGB  # exact zeros in the heat strip


DARK = Palette(
    name="dark",
    train=(88, 166, 255),  # light blue
    held_out=(255, 150, 40),  # orange
    runs=((88, 166, 255), (255, 150, 40)),
    uniform=(140, 140, 140),  # grey
    grad_t=(50, 110, 190),  # muted blue
    grad_last=(255, 150, 40),  # orange
    cell_grad=(80, 200, 120),  # green
    bad=(255, 0, 255),  # magenta, outside the heat palette
    zero=(40, 40, 40),  # near black
)
LIGHT = Palette(
    name="light",
    train=(88, 166, 255),
    held_out=(255, 150, 40),
    runs=((88, 166, 255), (255, 150, 40)),
    uniform=(140, 140, 140),
    grad_t=(50, 110, 190),
    grad_last=(255, 150, 40),
    cell_grad=(80, 200, 120),
    bad=(255, 0, 255),
    zero=(40, 40, 40),
)


def palette(light: bool) -> Palette:
    """The palette for a light (projector) or dark ground."""
    return LIGHT if light else DARK


# The dark palette's colours under their old names, for code that has no theme to ask.
TRAIN_RGB: RGB = DARK.train
HELD_OUT_RGB: RGB = DARK.held_out
RUN_RGBS: list[tuple[RGB, RGB]] = [
    ((88, 166, 255), (160, 205, 255)),
    ((255, 150, 40), (255, 200, 140)),
]
"""(curve, lighter held-out curve) of each run in compare mode."""
UNIFORM_RGB: RGB = DARK.uniform
BAR_RGB: RGB = DARK.grad_t
LAST_RGB: RGB = DARK.grad_last
BAD_RGB: RGB = DARK.bad
ZERO_RGB: RGB = DARK.zero

_STYLES: dict[tuple[RGB | None, RGB | None, bool], Style] = {}


def rgb_style(fg: RGB | None, bg: RGB | None = None, bold: bool = False) -> Style:
    """The Rich style of a true-colour (foreground, background) pair, made once."""
    key = (fg, bg, bold)
    style = _STYLES.get(key)
    if style is None:
        color = Color.from_rgb(*fg) if fg else None
        bgcolor = Color.from_rgb(*bg) if bg else None
        style = _STYLES[key] = Style(color=color, bgcolor=bgcolor, bold=bold)
    return style
