"""Glyphs and the line builder shared by the gradient pane's pieces."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rich.style import Style
from rich.text import Text

EIGHTHS = " ▁▂▃▄▅▆▇█"
BAD_CHAR = "!"
ZERO_CHAR = "0"

# Braille: a character cell holds 2 x 4 dots, one bit each; U+2800 is the empty pattern.
BRAILLE = 0x2800
# The bits of one row of dots (both columns), from the top row (0) to the bottom row (3).
DOT_ROW_BITS = (0x09, 0x12, 0x24, 0xC0)
LAST_THICK = 2  # grad_last_t's line is two dot rows thick: the boldest thing in the pane
CELL_THICK = 1  # the LSTM cell-state line, one dot row: told apart by its thickness too
LAST_GLYPH = chr(BRAILLE | DOT_ROW_BITS[1] | DOT_ROW_BITS[2])  # ⠶, the key's sample
CELL_GLYPH = chr(BRAILLE | DOT_ROW_BITS[1])  # ⠒
BAR_GLYPH = "█"


_PIECES: dict[tuple[int, int], Text] = {}  # (code point, n) -> that glyph n times
_MAX_PIECES = 4096
_JOIN = Text("", no_wrap=True, overflow="crop", end="")  # joins pieces into a pane's line


def _piece(code: int, n: int) -> Text:
    """The Text of one glyph repeated `n` times, made once. Rich scans every new Text for
    control codes, at about half a microsecond per non-ASCII character (more than all the
    rest of the drawing); joining ready-made pieces skips that scan."""
    key = (code, n)
    piece = _PIECES.get(key)
    if piece is None:
        if len(_PIECES) >= _MAX_PIECES:  # many pane widths seen: start over
            _PIECES.clear()
        piece = _PIECES[key] = Text(chr(code) * n)
    return piece


def grid_text(
    codes: np.ndarray,
    style_ids: np.ndarray,
    style_of: Callable[[int], Style | None],
    widths: np.ndarray,
    gutters: Sequence[str],
    gutter_style: Style | None,
) -> list[Text]:
    """Lines of a picture made of columns: cell (r, c) is the character ``codes[r, c]`` (a code
    point) in the style ``style_of(style_ids[r, c])``, repeated over column c's ``widths[c]``
    cells; each line starts with ``gutters[r]``.

    codes, style_ids: (R, C) ints; widths: (C,). One piece of text per run of equal glyphs
    (see `_piece`), one span per run of equal style.
    """
    rows, ncols = codes.shape
    xs = np.concatenate(([0], np.cumsum(widths))).tolist()  # column c spans xs[c]..xs[c+1]
    styles: dict[int, Style | None] = {}
    out: list[Text] = []
    for r in range(rows):
        gutter = Text(gutters[r])
        g = len(gutter)
        c = codes[r]
        cuts = (np.flatnonzero(c[1:] != c[:-1]) + 1).tolist()  # where a new glyph starts
        code = c.tolist()
        runs = zip([0, *cuts], [*cuts, ncols], strict=True)
        line = _JOIN.join([gutter, *(_piece(code[a], xs[b] - xs[a]) for a, b in runs)])
        if gutter_style is not None:
            line.stylize(gutter_style, 0, g)
        s = style_ids[r]
        cuts = (np.flatnonzero(s[1:] != s[:-1]) + 1).tolist()  # where a new style starts
        sid = s.tolist()
        for a, b in zip([0, *cuts], [*cuts, ncols], strict=True):
            style = styles.get(sid[a], False)
            if style is False:
                style = styles[sid[a]] = style_of(sid[a])
            if style is not None:
                line.stylize(style, g + xs[a], g + xs[b])
        out.append(line)
    return out
