"""`--ascii` and `NO_COLOR` as line filters (`rnn_tui.ui.glyphs`)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import Monochrome, NoColor

from rnn_tui.textsafe import STANDIN_CHARS
from rnn_tui.ui.actions import palette
from rnn_tui.ui.glyphs import RAMP, AsciiGlyphs, ascii_for, line_filters, to_ascii
from rnn_tui.ui.widgets.colours import rgb_style
from rnn_tui.ui.widgets.grad_heat import HEAT_PALETTE
from rnn_tui.ui.widgets.help_screen import help_markdown
from rnn_tui.ui.widgets.probe_pane import EMPTY, KEYS_HINT, TYPING_HINT
from rnn_tui.ui.widgets.spelled import SPELLED, spell_out


def test_every_character_becomes_ascii_of_its_width() -> None:
    """If this fails, `--ascii` still sends a character a plain console cannot show, or
    shifts the columns after a wide character (every chart and border out of line)."""
    assert to_ascii("╭─ loss ─╮│╰┤┬") == "+- loss -+|+++"
    assert to_ascii("⠉⣀⠒⡇⣿⠀") == "'.-||" + " "  # braille by the height of its dots
    assert to_ascii("█▁▄▇ ≤1e-5 · ‖W‖₂ •") == "#_=# <1e-5 . |W|2 *"
    for ch in "é中\u0301✨ﬁ":
        out = ascii_for(ch)
        assert out.isascii() and cell_len(out) == cell_len(ch), ch
    assert ascii_for("é") == "e" and ascii_for("中") == "??" and ascii_for("\u0301") == ""


def test_heat_cells_become_a_brightness_ramp() -> None:
    """If this fails, the heat strip under --ascii or NO_COLOR is a block of one character:
    its values were only in its colours, and the class sees nothing of the history."""
    lo, hi = HEAT_PALETTE[0], HEAT_PALETTE[-1]
    segs = [
        Segment("▀▀", rgb_style(lo, lo)),
        Segment("▀", rgb_style(hi, hi)),
        Segment("█", rgb_style(hi)),  # the legend
        Segment("█", Style(color="red")),  # a bar, not heat
    ]
    out = AsciiGlyphs(heat_only=True).apply(segs, Color(0, 0, 0))
    assert [s.text for s in out] == [RAMP[0] * 2, RAMP[-1], RAMP[-1], "█"]
    assert AsciiGlyphs().apply(segs[3:], Color(0, 0, 0))[0].text == "#"


def test_no_color_drops_the_greys_too() -> None:
    """If this fails, NO_COLOR still sends colour codes (Textual's greys), or the heat strip
    loses its ramp under it."""
    filters = line_filters([Monochrome()], ascii_only=False, no_color=True)
    assert [type(f) for f in filters] == [AsciiGlyphs, NoColor]
    assert filters[0].heat_only  # type: ignore[attr-defined]
    assert line_filters([Monochrome()], ascii_only=False, no_color=False)[0].__class__ is Monochrome


def test_the_apps_own_words_keep_their_signs_readable_in_ascii() -> None:
    """If this fails, `--ascii` turns a sign of the app's own text into "?" (the help's
    "ln 2 ? 0.693", an arrow key, a Greek letter): a character with no one-cell ASCII
    stand-in that `widgets/spelled.py` does not spell out. The corpus's control characters
    are the exception: their stand-ins show as "?" on the screen too, so the help says so."""
    for sign, ascii_text in SPELLED.items():
        assert ascii_text.isascii() and spell_out(f"a{sign}b") == f"a{ascii_text}b"
    assert spell_out("Divide by ln 2 ≈ 0.693") == "Divide by ln 2 ~ 0.693"
    texts = [help_markdown(69), KEYS_HINT, TYPING_HINT, EMPTY]
    texts.append("↑/↓ or PgUp/PgDn to scroll · ?, Esc or q to close")
    texts += [t for entry in palette() for t in entry[:2]]
    for text in texts:
        text = "".join(c for c in text if c not in STANDIN_CHARS)
        shown = to_ascii(spell_out(text))
        assert shown.count("?") == text.count("?"), [
            c for c in text if "?" in to_ascii(spell_out(c))
        ]
