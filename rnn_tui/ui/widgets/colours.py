"""The panes' colours, in one place: one colour per meaning, the same in every pane.

Two palettes: `DARK` for dark themes and `LIGHT` for light ones, such as the projector theme
(`h`), whose white ground washes pale colours out. Every colour a chart or a legend draws with
stands out from its ground by a WCAG contrast ratio of at least 4.5 (the `contrast` function;
a test holds both palettes to it), and no two roles share a colour. Text that carries no data
(headers, keys, hints) uses the theme's neutral text colours, never one of these.

A widget asks for the palette of its app's theme with `theme_palette(widget)` (a `DrawnPane` has
it as `self.colours`), uses the roles by name, and redraws when the theme changes
(`follow_theme`). `rgb_style` caches the Rich style of each colour pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from rich.color import Color
from rich.style import Style
from textual.dom import DOMNode

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Each role names one meaning on screen; each meaning has one colour."""

    name: str  # "dark" or "light": part of a pane's cache key
    train: RGB  # the training loss (curve, legend, the large digits before any held-out loss)
    held_out: RGB  # the held-out loss (curve, legend, the large digits)
    runs: tuple[RGB, RGB]  # the two runs of --compare: the run is told by its colour
    uniform: RGB  # the loss chart's line at ln V, the loss of guessing uniformly
    counting: RGB  # the loss chart's counting lines: the n-gram baseline, the long-lag floors
    grad_t: RGB  # grad_t bars: the gradient of all T losses
    grad_last: RGB  # the grad_last_t line: the gradient of the last loss alone
    cell_grad: RGB  # the LSTM's cell-state gradient dL/dc_t
    bad: RGB  # non-finite values (nan/inf), in text and in the heat strip
    zero: RGB  # exact zeros in the heat strip: next to the ground, since nothing flows there
    curve_marker: str  # plotext marker of the loss curves: braille dots, or hd's quarter blocks

    def roles(self) -> dict[str, RGB]:
        """Every role's colour by name, a run's as `runs[i]`."""
        out: dict[str, RGB] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "runs":
                out.update({f"runs[{i}]": rgb for i, rgb in enumerate(value)})
            elif isinstance(value, tuple):
                out[f.name] = value
        return out


# On the dark themes' ground (#121212): light, saturated colours.
DARK = Palette(
    name="dark",
    train=(45, 200, 210),  # cyan
    held_out=(255, 110, 200),  # pink
    runs=((200, 130, 255), (220, 220, 50)),  # violet, lemon (not the orange of grad_last)
    uniform=(150, 150, 150),  # grey
    counting=(100, 160, 255),  # sky blue (far lighter than the grad_t bars' muted blue)
    grad_t=(40, 68, 110),  # a muted blue: the bars are the background of the profile
    grad_last=(255, 170, 50),  # orange, the boldest thing in the pane (5:1 on the bars)
    cell_grad=(80, 200, 110),  # green
    bad=(255, 75, 75),  # red, outside the heat palette
    zero=(45, 45, 45),  # near the ground
    curve_marker="braille",  # fine dots read well as light on dark
)
# On white (the projector theme): the same hues, dark enough to survive a washed-out projector.
LIGHT = Palette(
    name="light",
    train=(0, 115, 125),  # teal
    held_out=(180, 0, 120),  # magenta
    runs=((110, 50, 200), (120, 110, 0)),  # violet, olive
    uniform=(100, 100, 100),  # grey
    counting=(0, 90, 200),  # blue (far darker than the grad_t bars' pale blue)
    grad_t=(170, 195, 240),  # a pale blue: the bars are the background of the profile
    grad_last=(150, 55, 0),  # a deep orange, the boldest thing in the pane (4:1 on the bars)
    cell_grad=(0, 125, 50),  # green
    bad=(200, 0, 0),  # red
    zero=(215, 215, 215),  # near the ground
    curve_marker="hd",  # braille's single dots vanish on a projector: quarter blocks do not
)


def palette(light: bool) -> Palette:
    """The palette for a light (projector) or dark ground."""
    return LIGHT if light else DARK


def theme_palette(node: DOMNode) -> Palette:
    """The palette for the theme of `node`'s app now: `LIGHT` on a light one, else `DARK`
    (also for a widget drawn without an app, as in some tests)."""
    try:
        light = not node.app.current_theme.dark
    except Exception:  # no app running
        light = False
    return palette(light)


def follow_theme(node: DOMNode, redraw: Callable[[], object]) -> None:
    """Call `redraw()` after every change of the app's theme (`h`), once the new theme's colours
    are in place. Call from `on_mount`: a node must be running to subscribe."""
    node.app.theme_changed_signal.subscribe(node, lambda _theme: redraw())


def luminance(rgb: RGB) -> float:
    """WCAG relative luminance of an sRGB colour: 0 for black, 1 for white."""

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4  # undo the gamma

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b  # the eye's weights of the three primaries


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio of two colours, 1 (same) to 21 (black on white); text needs 4.5."""
    lo, hi = sorted((luminance(a), luminance(b)))
    return (hi + 0.05) / (lo + 0.05)


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


# Viridis-like stops: dark purple (tiny gradient) -> blue -> green -> yellow (large gradient).
_HEAT_STOPS = [
    (68, 1, 84),
    (72, 40, 120),
    (62, 74, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (109, 205, 89),
    (180, 222, 44),
    (253, 231, 37),
]
N_HEAT = 24


def _lerp_palette(stops: list[RGB], n: int) -> list[RGB]:
    """Interpolate ``n`` colours evenly along the given colour stops."""
    out = []
    for i in range(n):
        pos = i / (n - 1) * (len(stops) - 1)
        k = min(int(pos), len(stops) - 2)
        f = pos - k
        a, b = stops[k], stops[k + 1]
        out.append(tuple(round(a[j] + (b[j] - a[j]) * f) for j in range(3)))
    return out  # type: ignore[return-value]


HEAT_PALETTE: list[RGB] = _lerp_palette(_HEAT_STOPS, N_HEAT)
