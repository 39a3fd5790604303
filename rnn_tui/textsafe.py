"""Make corpus text safe to show: control characters become visible symbols, never commands.

Used by every pane and by headless mode. Pure Python: no UI import.
"""

from __future__ import annotations

# C0 controls (except newline) -> Unicode "control pictures" U+2400..U+241F: ESC -> ␛, TAB -> ␉,
# CR -> ␍, BEL -> ␇ ...; DEL -> ␡. C1 controls, line/paragraph separators, bidi overrides and lone
# surrogates get stand-ins too, so nothing in the corpus can move the cursor, ring the bell,
# reorder text or break a line behind our back.
_CONTROL_MAP: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c != 0x0A}
_CONTROL_MAP[0x7F] = "\u2421"  # ␡
for _c in range(0x80, 0xA0):  # C1 controls (includes NEL U+0085 and CSI U+009B)
    _CONTROL_MAP[_c] = "\u2426"  # ␦ (substitute form two)
_CONTROL_MAP[0x2028] = "\u2424"  # LINE SEPARATOR -> ␤
_CONTROL_MAP[0x2029] = "\u2424"  # PARAGRAPH SEPARATOR -> ␤
for _c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
    _CONTROL_MAP[_c] = "\u00b7"  # bidi marks/overrides/isolates -> ·
_CONTROL_MAP[0xFEFF] = "\u00b7"  # BOM / zero width no-break space
_SURROGATES = {c: "\ufffd" for c in range(0xD800, 0xE000)}
_TRANSLATE = {**_CONTROL_MAP, **_SURROGATES}

STANDIN_CHARS = frozenset({*_CONTROL_MAP.values(), "\ufffd"})
"""Characters produced by `sanitize` in place of controls (panes show them in a warning colour)."""


def sanitize(text: str) -> str:
    """Make arbitrary text safe to put on a terminal as literal characters.

    Newlines are kept; every other control character, lone surrogate, bidi override and
    line/paragraph separator becomes a visible stand-in (e.g. ESC -> "␛", TAB -> "␉",
    CR -> "␍"). Markup syntax such as "[bold]" is untouched: nothing here parses markup.
    """
    return text.translate(_TRANSLATE)
