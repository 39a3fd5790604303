"""Sample pane: generated text typing out character by character.

Text is treated strictly as data: it is never parsed as Rich/Textual markup, and control
characters are replaced by visible stand-ins before display (see :func:`sanitize`). A sample may
begin with a prime, the text the model was given to continue, drawn dimmed. Lines are
word-wrapped to the pane width; appending only re-wraps the last visual row of the current sample,
so feeding a few characters 30 times a second stays cheap. Only the last ``max_samples`` samples
(each capped at ``max_chars`` characters) are kept, so memory stays flat.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections import deque
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rnn_tui.textsafe import STANDIN_CHARS, sanitize


def char_width(ch: str) -> int:
    """Terminal cell width of one (sanitized) character: 0 for combining marks, 2 for wide."""
    if unicodedata.combining(ch):
        return 0
    return cell_len(ch)


def wrap_into(rows: list[str], widths: list[int], text: str, width: int) -> None:
    """Greedy word wrap of ``text`` (no newlines) continuing the last row of ``rows``.

    ``rows``/``widths`` hold the visual rows of one logical line and their cell widths; the last
    row is extended, new rows are appended. Breaks after the last space when a word does not fit,
    otherwise hard-breaks; spaces at a break hang past the edge. Earlier rows are never changed,
    which is what makes appending cheap.
    """
    width = max(1, width)
    if not rows:
        rows.append("")
        widths.append(0)
    cur = rows[-1]
    cur_w = widths[-1]
    for ch in text:
        w = char_width(ch)
        if cur_w + w > width and cur:
            if ch == " ":
                # A space may hang past the edge (it is cropped), so no row starts with one.
                cur += ch
                cur_w += w
                continue
            brk = cur.rfind(" ") + 1
            if 0 < brk < len(cur):
                head, tail = cur[:brk], cur[brk:]
                rows[-1], widths[-1] = head, cell_len(head)
                cur, cur_w = tail, cell_len(tail)
            else:
                rows[-1], widths[-1] = cur, cur_w
                cur, cur_w = "", 0
            rows.append(cur)
            widths.append(cur_w)
        cur += ch
        cur_w += w
    rows[-1], widths[-1] = cur, cur_w


@dataclass
class _Sample:
    """One generated sample: a header and its (sanitized) text, plus wrap caches."""

    header: str
    text: str = ""
    prime_len: int = 0  # the first characters of `text` are the prime the model continued
    rows: list[str] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)


class SamplePane(ScrollView, can_focus=True):
    """Scrollable, auto-scrolling view of generated text samples.

    Use :meth:`start_sample` to open a new block and :meth:`append_chars` to type into it.
    """

    DEFAULT_CSS = """
    SamplePane {
        width: 1fr;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        background: $surface;
        color: $text;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    SamplePane > .sample-pane--header {
        color: $text-muted;
        text-style: bold;
    }
    SamplePane > .sample-pane--control {
        color: $text-muted;
        text-style: reverse;
    }
    SamplePane > .sample-pane--prime {
        text-style: dim;
    }
    """

    COMPONENT_CLASSES = {"sample-pane--header", "sample-pane--control", "sample-pane--prime"}

    def __init__(
        self,
        max_samples: int = 20,
        max_chars: int = 4000,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        """Create an empty pane.

        Args:
            max_samples: how many samples to keep (older ones are dropped).
            max_chars: per-sample character cap; older characters of a longer sample are dropped.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.max_samples = max(1, int(max_samples))
        self.max_chars = max(16, int(max_chars))
        self._samples: deque[_Sample] = deque(maxlen=self.max_samples)
        self._wrap_width = 0
        self._offsets: list[int] = []  # first visual row of each sample except the current one
        self._done_rows = 0  # visual rows of all samples before the current one

    # ----------------------------------------------------------------- API

    def start_sample(self, header: str, prime: str = "") -> None:
        """Begin a new sample block with a header line, e.g. "── step 1200, temperature 0.8 ──",
        and the `prime` it continues (drawn dimmed; the generated text follows it).

        A header that does not already start with "─" is framed as "── header ──".
        """
        clean = sanitize(str(header).replace("\n", " ")).strip()
        if clean and not clean.startswith("─"):
            clean = f"── {clean} ──"
        self._samples.append(_Sample(header=clean))
        self._reindex()
        self._after_change(full=True)
        if prime:
            self.append_chars(prime)
            self._samples[-1].prime_len = len(self._samples[-1].text)

    def append_chars(self, chars: str) -> None:
        """Append characters to the current sample (a sample is started if there is none)."""
        if not chars:
            return
        if not self._samples:
            self._samples.append(_Sample(header=""))
            self._reindex()
        sample = self._samples[-1]
        clean = sanitize(str(chars))
        sample.text += clean
        if len(sample.text) > self.max_chars + self.max_chars // 4:
            sample.prime_len = max(0, sample.prime_len - (len(sample.text) - self.max_chars))
            sample.text = sample.text[-self.max_chars :]
            self._rewrap(sample)
            self._after_change(full=True)
            return
        before = len(sample.rows)
        self._wrap_append(sample, clean)
        first_changed = self._done_rows + 1 + max(0, before - 1)
        # Typing within one row repaints that row up to its last character: the blank rest of
        # it is on the screen already (Textual sends a repainted row from the pane's left edge).
        upto = sample.widths[-1] if len(sample.rows) == before else 0
        self._after_change(full=False, first_row=first_changed, upto=upto)

    def clear(self) -> None:
        """Remove all samples."""
        self._samples.clear()
        self._reindex()
        self._after_change(full=True)

    @property
    def samples(self) -> list[tuple[str, str]]:
        """(header, text) of every kept sample, oldest first, as displayed (sanitized)."""
        return [(s.header, s.text) for s in self._samples]

    @property
    def row_count(self) -> int:
        """Number of visual rows (headers included) at the current width."""
        cur = self._samples[-1] if self._samples else None
        return self._done_rows + (1 + len(cur.rows) if cur is not None else 0)

    def visual_rows(self) -> list[str]:
        """All visual rows as plain text (headers included), for inspection and tests."""
        return [self._row_text(y)[0] for y in range(self.row_count)]

    # ------------------------------------------------------------ wrapping

    def _content_width(self) -> int:
        """Width available for text (pane width minus the scrollbar gutter)."""
        return max(1, self.scrollable_content_region.width or self.size.width or 80)

    def _wrap_append(self, sample: _Sample, clean: str) -> None:
        """Wrap newly appended (sanitized) characters into ``sample.rows``.

        Only the last visual row can change; further rows are appended.
        """
        width = self._wrap_width or self._content_width()
        if not sample.rows:
            sample.rows.append("")
            sample.widths.append(0)
        for i, part in enumerate(clean.split("\n")):
            if i > 0:
                sample.rows.append("")
                sample.widths.append(0)
            if part:
                wrap_into(sample.rows, sample.widths, part, width)

    def _rewrap(self, sample: _Sample) -> None:
        """Wrap a sample's whole text from scratch at the current width."""
        sample.rows, sample.widths = [], []
        if sample.text:
            self._wrap_append(sample, sample.text)

    def _reindex(self) -> None:
        """Recompute the first visual row of every sample but the newest."""
        self._offsets = []
        y = 0
        samples = list(self._samples)
        for s in samples[:-1]:
            self._offsets.append(y)
            y += 1 + len(s.rows)
        self._done_rows = y

    def _rewrap_all(self) -> None:
        """Re-wrap everything (after a width change)."""
        self._wrap_width = self._content_width()
        for s in self._samples:
            self._rewrap(s)
        self._reindex()

    # ----------------------------------------------------------- rendering

    def _after_change(self, full: bool, first_row: int = 0, upto: int = 0) -> None:
        """Update the virtual size, refresh what changed and follow the end if we were there;
        `upto` > 0: only row `first_row` changed, in its first `upto` cells."""
        if not self.is_mounted:
            return
        at_end = self.is_vertical_scroll_end or self.max_scroll_y <= 0
        self._resize_virtual(Size(self._content_width(), self.row_count))
        if full:
            self.refresh()
        elif upto > 0:
            self.refresh(Region(0, first_row - self.scroll_offset.y, upto, 1))
        else:
            self.refresh_lines(first_row, max(1, self.row_count - first_row))
        # Typing within the last row adds no row: the view stays where it is.
        if at_end and upto == 0 and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def _resize_virtual(self, size: Size) -> None:
        """Set the scrollable size. A few more (or fewer) rows behind a scrollbar that stays
        change neither the pane's place nor its size: the pane only updates its scrollbar then,
        where assigning `virtual_size` would lay out the whole screen again (once per typed row:
        about a tenth of the UI's CPU while training). What follows is what Textual itself does
        for a size set without a layout (`Widget._size_updated`)."""
        old, height = self.virtual_size, self.scrollable_content_region.height
        if size == old:
            return
        if size.width != old.width or min(size.height, old.height) <= height:
            self.virtual_size = size  # the scrollbar may come or go: a new layout
            return
        self.set_reactive(SamplePane.virtual_size, size)
        self._scroll_update(size)  # the scrollbar's thumb, and the scroll offset kept in range

    def on_resize(self) -> None:
        """Re-wrap on width changes (and stay at the end if we were there)."""
        if self._content_width() != self._wrap_width:
            at_end = self.is_vertical_scroll_end or self.max_scroll_y <= 0
            self._rewrap_all()
            self.virtual_size = Size(self._content_width(), self.row_count)
            if at_end:
                self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
            self.refresh()

    def on_mount(self) -> None:
        """Wrap anything added before mounting."""
        super().on_mount()
        self._rewrap_all()
        self.virtual_size = Size(self._content_width(), self.row_count)

    def _row_text(self, y: int) -> tuple[str, bool]:
        """(text, is_header) of visual row ``y``."""
        text, is_header, _ = self._row(y)
        return text, is_header

    def _row(self, y: int) -> tuple[str, bool, int]:
        """(text, is_header, how many of its first characters are the prime) of row ``y``."""
        samples = self._samples
        if not samples or y < 0:
            return "", False, 0
        if y >= self._done_rows:
            sample = samples[-1]
            r = y - self._done_rows
        else:
            i = bisect.bisect_right(self._offsets, y) - 1
            sample = samples[i]
            r = y - self._offsets[i]
        if r == 0:
            return sample.header, True, 0
        r -= 1
        if r < len(sample.rows):
            return sample.rows[r], False, _prime_in_row(sample, r)
        return "", False, 0

    def render_line(self, y: int) -> Strip:
        """Render visual row ``y`` of the viewport (Line API)."""
        if self._wrap_width != self._content_width():
            self._rewrap_all()
        width = self.size.width
        base = self.rich_style
        _scroll_x, scroll_y = self.scroll_offset
        text, is_header, n_prime = self._row(scroll_y + y)
        if not text:
            return Strip.blank(width, base)
        if is_header:
            style = base + self.get_component_rich_style("sample-pane--header")
            segments = [Segment(text, style)]
        elif n_prime:
            dim = base + self.get_component_rich_style("sample-pane--prime")
            segments = self._segments(text[:n_prime], dim) + self._segments(text[n_prime:], base)
        else:
            segments = self._segments(text, base)
        strip = Strip(segments)
        return strip.crop_extend(0, width, base)

    def _segments(self, text: str, base: Style) -> list[Segment]:
        """Split a row into runs of ordinary text and highlighted control stand-ins."""
        if not text:
            return []
        if not any(ch in STANDIN_CHARS for ch in text):
            return [Segment(text, base)]
        ctrl = base + self.get_component_rich_style("sample-pane--control")
        segments: list[Segment] = []
        run = ""
        run_ctrl = False
        for ch in text:
            is_ctrl = ch in STANDIN_CHARS
            if is_ctrl != run_ctrl and run:
                segments.append(Segment(run, ctrl if run_ctrl else base))
                run = ""
            run_ctrl = is_ctrl
            run += ch
        if run:
            segments.append(Segment(run, ctrl if run_ctrl else base))
        return segments


def _prime_in_row(sample: _Sample, r: int) -> int:
    """How many of the first characters of visual row `r` of `sample` belong to its prime.

    The rows, joined, are the text without its newlines (wrapping moves characters between
    rows but never drops one), so the prime's share is counted along the rows before `r`.
    """
    if sample.prime_len == 0:
        return 0
    left = len(sample.text[: sample.prime_len].replace("\n", ""))  # prime characters in rows
    for row in sample.rows[:r]:
        left -= len(row)
        if left <= 0:
            return 0
    return min(left, len(sample.rows[r]))
