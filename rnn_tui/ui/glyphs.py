"""Terminal reach: `--ascii` for consoles and fonts without box-drawing, block or braille
characters, and `NO_COLOR` for terminals (and people) that want no colour.

Both work as Textual line filters, applied to every line of every widget (Textual's own
included) just before it is drawn, so a pane needs no code of its own for them:

- `AsciiGlyphs` replaces each character outside ASCII by one of the same width: box drawing by
  `+ - |`, braille dots by the ASCII mark nearest their height (`' - .`, `|` for a tall
  stroke), bar blocks by `_ = #`, and heat-strip cells (half blocks coloured from the heat
  palette) by a brightness ramp, so the heat strip keeps its values without colour;
- with `NO_COLOR` set, Textual's own filter (greys instead of colours) is replaced by one that
  removes every colour: the terminal's own foreground and background, with bold, dim and
  reverse kept. The heat strip then uses the same ramp (its cells had nothing but colour).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter, Monochrome, NoColor

from rnn_tui.ui.widgets.colours import HEAT_PALETTE

RAMP = " .:-=+*#%@"  # dark (small gradient) to bright (large), one ASCII character per step
HEAT_CELLS = "▀▄█"  # heat-strip cells (two history rows, one per colour) and its legend
_HEAT_INDEX = {rgb: i for i, rgb in enumerate(HEAT_PALETTE)}

# Characters the app draws, with the ASCII character (or characters, for a wide one) in their
# place; box drawing, blocks and braille follow rules (`ascii_for`).
TABLE = {
    "\u00a0": " ",  # no-break space
    "·": ".",
    "•": "*",  # the held-out loss marks
    "…": ".",
    "≤": "<",
    "≥": ">",
    "‖": "|",
    "×": "x",
    "−": "-",
    "–": "-",
    "—": "-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "▼": "v",
    "▲": "^",
    "▶": ">",
    "◀": "<",
    "►": ">",
    "◄": "<",
    "↵": "~",  # a newline in a sample's next characters or the probe's input
    "␣": "_",  # a space there
    "░": ".",
    "▒": ":",
    "▓": "#",
    "█": "#",
    "▀": '"',
    "▐": "|",
    "✓": "v",
    "✗": "x",
    "≈": "~",  # the app's own text spells these out (widgets/spelled.py); the rest gets these
    "←": "<",
    "→": ">",
    "↑": "^",
    "↓": "v",
}
LOWER_BLOCKS = "▁▂▃▄▅▆▇"  # a bar's top: low, middle, high
LEFT_BLOCKS = "▏▎▍▌▋▊▉"


def _braille(ch: str) -> str:
    """The ASCII mark nearest the dots of one braille cell (2 columns x 4 rows of dots)."""
    bits = ord(ch) - 0x2800
    # Dots by row, top to bottom: (1, 4), (2, 5), (3, 6), (7, 8) in braille numbering.
    rows = [r for r, mask in enumerate((0x09, 0x12, 0x24, 0xC0)) if bits & mask]
    if not rows:
        return " "
    if rows[-1] - rows[0] >= 2:
        return "|"  # a steep stroke
    mean = sum(rows) / len(rows)
    return "'" if mean < 1 else "-" if mean < 2 else "."


@lru_cache(4096)
def ascii_for(ch: str) -> str:
    """ASCII text of the same cell width as `ch` (an empty string for a combining mark)."""
    if ch.isascii():
        return ch
    if ch in TABLE:
        return TABLE[ch]
    code = ord(ch)
    if 0x2800 <= code <= 0x28FF:
        return _braille(ch)
    if ch in LOWER_BLOCKS:
        return "_" if LOWER_BLOCKS.index(ch) < 2 else "=" if LOWER_BLOCKS.index(ch) < 5 else "#"
    if ch in LEFT_BLOCKS:
        return "|"
    if 0x2500 <= code <= 0x257F:  # box drawing
        name = unicodedata.name(ch, "")
        if "HORIZONTAL" in name and "VERTICAL" not in name and "AND" not in name:
            return "-"
        if "VERTICAL" in name and "HORIZONTAL" not in name and "AND" not in name:
            return "|"
        if name.endswith(("LEFT", "RIGHT")) and "AND" not in name:  # ╴ ╶: half a line
            return "-"
        if name.endswith(("UP", "DOWN")) and "AND" not in name:  # ╵ ╷
            return "|"
        return "+"
    width = cell_len(ch)
    if unicodedata.combining(ch) or width == 0:
        return ""
    base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if len(base) == width and base.isprintable():
        return base  # é -> e, ₂ -> 2, ﬁ stays two cells only if it was
    return "?" * width


def to_ascii(text: str) -> str:
    """`text` with every character replaced by ASCII of the same width."""
    return text if text.isascii() else "".join(ascii_for(c) for c in text)


def _heat_value(style: Style | None) -> int | None:
    """The ramp step of a heat-strip cell: the mean of its two rows' palette positions."""
    if style is None or style.color is None or style.color.triplet is None:
        return None
    top = _HEAT_INDEX.get(tuple(style.color.triplet))
    bottom = top
    if style.bgcolor is not None and style.bgcolor.triplet is not None:
        bottom = _HEAT_INDEX.get(tuple(style.bgcolor.triplet), top)
    if top is None or bottom is None:
        return None
    return round((top + bottom) / 2 / (len(HEAT_PALETTE) - 1) * (len(RAMP) - 1))


class AsciiGlyphs(LineFilter):
    """Every character outside ASCII replaced by ASCII of the same width (`--ascii`); with
    `heat_only`, only the heat strip's cells, by the brightness ramp (for `NO_COLOR`)."""

    def __init__(self, heat_only: bool = False) -> None:
        super().__init__()
        self.heat_only = heat_only

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = []
        for seg in segments:
            text, style, control = seg
            if text.isascii() or control:
                out.append(seg)
                continue
            if text.strip(HEAT_CELLS) == "" and (step := _heat_value(style)) is not None:
                out.append(Segment(RAMP[step] * len(text), style, control))
            elif self.heat_only:
                out.append(seg)
            else:
                out.append(Segment(to_ascii(text), style, control))
        return out


def line_filters(
    textual_filters: Sequence[LineFilter], ascii_only: bool, no_color: bool
) -> list[LineFilter]:
    """The filters of an app: ours first (they read the colours), then Textual's, where the
    greys of `NO_COLOR` become no colour at all."""
    ours: list[LineFilter] = []
    if ascii_only or no_color:
        ours.append(AsciiGlyphs(heat_only=not ascii_only))
    theirs = [f for f in textual_filters if not (no_color and isinstance(f, Monochrome))]
    if no_color:
        theirs.append(NoColor())
    return ours + theirs
