"""The charts' colours, in one place, and the cached Rich style of each."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style

RGB = tuple[int, int, int]

TRAIN_RGB: RGB = (88, 166, 255)
"""The training-loss curve (a light blue that reads on dark and light themes)."""
HELD_OUT_RGB: RGB = (255, 150, 40)
"""The held-out loss curve (orange)."""
RUN_RGBS: list[tuple[RGB, RGB]] = [
    ((88, 166, 255), (160, 205, 255)),
    ((255, 150, 40), (255, 200, 140)),
]
"""(curve, lighter held-out curve) of each run in compare mode."""
UNIFORM_RGB: RGB = (140, 140, 140)
"""The loss chart's dotted line at ln V, the loss of guessing uniformly (a grey for both themes)."""
BAR_RGB: RGB = (50, 110, 190)
"""grad_t bars (a muted blue, so the orange grad_last_t marks stand out on top of them)."""
LAST_RGB: RGB = (255, 150, 40)
"""grad_last_t marks (orange)."""
BAD_RGB: RGB = (255, 0, 255)
"""Non-finite values in the heat strip (magenta, outside the heat palette)."""
ZERO_RGB: RGB = (40, 40, 40)
"""Exact zeros in the heat strip (near black)."""

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
