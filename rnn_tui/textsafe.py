"""Make corpus text safe to print: control characters become visible symbols, never commands."""

from __future__ import annotations

# C0 controls (except newline) and DEL map to the Unicode "control pictures" (U+2400..U+2421):
# ESC prints as a symbol instead of starting an escape sequence. C1 controls (U+0080..U+009F)
# map to a middle dot, since a terminal may read U+009B as the start of a command too.
_TABLE = {i: 0x2400 + i for i in range(0x20) if i != 0x0A}
_TABLE[0x7F] = 0x2421
_TABLE |= {i: 0x00B7 for i in range(0x80, 0xA0)}


def visible(text: str) -> str:
    """`text` with every control character but newline replaced by a visible stand-in."""
    return text.translate(_TABLE)
