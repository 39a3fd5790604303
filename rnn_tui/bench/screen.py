"""A small terminal screen for the benchmarks: what the app shows, read back from its output.

Enough of a VT100/xterm to follow what Textual writes (cursor moves, erases, text; colours and
modes are skipped), so the benchmark can see when the sample pane first holds words. Not a full
emulator: no scroll regions, no character sets, no attributes. Standard library only.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable

TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT = "╭┌+", "╮┐+", "╰└+"  # box corners, Unicode or ASCII
WORD = re.compile(r"[A-Za-z]{3,}")  # a word, for "words sooner": three letters or more


class Screen:
    """`rows` x `cols` cells of text; `feed` the terminal output as it comes."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.grid = [[" "] * cols for _ in range(rows)]
        self.x = self.y = 0  # cursor: column, row
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # the start of an escape sequence cut off at the end of a chunk

    def lines(self) -> list[str]:
        """The screen, one string per row (wide characters take one string position)."""
        return ["".join(row) for row in self.grid]

    def feed(self, data: bytes) -> None:
        """Apply a chunk of terminal output."""
        text = self._pending + self._decode.decode(data)
        self._pending = ""
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "\x1b":
                end = self._escape(text, i)
                if end < 0:  # cut off: wait for the rest
                    self._pending = text[i:]
                    return
                i = end
                continue
            i += 1
            if ch == "\r":
                self.x = 0
            elif ch == "\n":
                self._down()
            elif ch == "\b":
                self.x = max(0, self.x - 1)
            elif ch == "\t":
                self.x = min(self.cols - 1, (self.x // 8 + 1) * 8)
            elif ch >= " " and ch != "\x7f":
                self._put(ch)

    def _down(self) -> None:
        if self.y == self.rows - 1:  # the bottom row: scroll the screen up
            self.grid.pop(0)
            self.grid.append([" "] * self.cols)
        else:
            self.y += 1

    def _put(self, ch: str) -> None:
        if unicodedata.combining(ch):
            return
        wide = unicodedata.east_asian_width(ch) in "WF"
        if self.x >= self.cols:  # autowrap
            self.x = 0
            self._down()
        self.grid[self.y][self.x] = ch
        self.x += 1
        if wide and self.x < self.cols:
            self.grid[self.y][self.x] = ""
            self.x += 1

    def _escape(self, text: str, i: int) -> int:
        """Apply the escape sequence at `text[i]`; the index after it, or -1 if incomplete."""
        if i + 1 >= len(text):
            return -1
        kind = text[i + 1]
        if kind == "[":  # CSI: parameters, then one final byte in @..~
            j = i + 2
            while j < len(text) and not ("@" <= text[j] <= "~"):
                j += 1
            if j >= len(text):
                return -1
            self._csi(text[i + 2 : j], text[j])
            return j + 1
        if kind in "]PX^_":  # OSC, DCS and the like: up to BEL or ESC \
            for j in range(i + 2, len(text)):
                if text[j] == "\x07":
                    return j + 1
                if text[j] == "\x1b" and j + 1 < len(text) and text[j + 1] == "\\":
                    return j + 2
            return -1
        if kind in "()*+#%":  # a character set or line size: one more byte
            return i + 3 if i + 2 < len(text) else -1
        return i + 2  # ESC 7, ESC 8, ESC = ...: nothing the text depends on

    def _csi(self, params: str, final: str) -> None:
        if params.startswith(("?", ">", "<", "=")):
            return  # private modes (cursor, mouse, synchronized output...): no text
        nums = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []

        def arg(k: int, default: int) -> int:
            return nums[k] if k < len(nums) and nums[k] > 0 else default

        if final in "Hf":
            self.y = min(self.rows, arg(0, 1)) - 1
            self.x = min(self.cols, arg(1, 1)) - 1
        elif final == "A":
            self.y = max(0, self.y - arg(0, 1))
        elif final == "B":
            self.y = min(self.rows - 1, self.y + arg(0, 1))
        elif final == "C":
            self.x = min(self.cols - 1, self.x + arg(0, 1))
        elif final == "D":
            self.x = max(0, self.x - arg(0, 1))
        elif final == "G":
            self.x = min(self.cols, arg(0, 1)) - 1
        elif final == "d":
            self.y = min(self.rows, arg(0, 1)) - 1
        elif final == "K":
            mode = nums[0] if nums else 0
            row = self.grid[self.y]
            lo, hi = {0: (self.x, self.cols), 1: (0, self.x + 1)}.get(mode, (0, self.cols))
            row[lo:hi] = [" "] * (min(hi, self.cols) - lo)
        elif final == "J":
            mode = nums[0] if nums else 0
            if mode in (2, 3):
                self.grid = [[" "] * self.cols for _ in range(self.rows)]
            elif mode == 0:
                self.grid[self.y][self.x :] = [" "] * (self.cols - self.x)
                for r in range(self.y + 1, self.rows):
                    self.grid[r] = [" "] * self.cols
        elif final == "X":
            n = arg(0, 1)
            row = self.grid[self.y]
            end = min(self.cols, self.x + n)
            row[self.x : end] = [" "] * (end - self.x)


def corpus_words(text: str) -> frozenset[str]:
    """Every word of three letters or more in a corpus, lower-cased."""
    return frozenset(w.lower() for w in WORD.findall(text))


def sample_rows(lines: list[str], title: str = "samples") -> list[str]:
    """The text rows of the first sample pane: the rows inside the box whose top border holds
    `title`, less its sample headers ("── step 1,200 · ... ──") and its "next:" line."""
    for top, line in enumerate(lines):
        at = line.find(f" {title}")
        if at < 0 or not any(c in TOP_LEFT for c in line[:at]):
            continue
        left = max(line.rfind(c, 0, at) for c in TOP_LEFT)
        rights = [k for k in (line.find(c, at) for c in TOP_RIGHT) if k >= 0]
        right = min(rights) if rights else len(line)
        out = []
        for row in lines[top + 1 :]:
            if row[left : left + 1] in BOTTOM_LEFT:
                break
            inner = row[left + 1 : right]
            if "── step" in inner or "-- step" in inner or inner.lstrip().startswith("next:"):
                continue
            out.append(inner)
        return out
    return []


def words_in(rows: Iterable[str], known: frozenset[str]) -> int:
    """The most distinct corpus words on any one row."""
    best = 0
    for row in rows:
        found = {w.lower() for w in WORD.findall(row)} & known
        best = max(best, len(found))
    return best
