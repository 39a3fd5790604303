"""Status bar: corpus, model size, progress, speed, training state and short notices.

Every string is shown literally (Textual ``Content`` built from plain text, never markup) and
control characters are neutralised, so a corpus called "[red]x" or "a\\x1b[2Jb" displays as is.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.app import RenderResult
from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.drawn import changed_upto, content_strip
from rnn_tui.ui.widgets.spelled import spelled

if TYPE_CHECKING:
    from textual.timer import Timer

STATE_STYLES: dict[str, str] = {
    "training": "bold $success",
    "paused": "bold $warning",
    "diverged": "bold $error",
    "error": "bold $error",
    "starting": "bold $primary",
    "stopped": "bold $error",  # the trainer process is gone
    "silent": "bold $warning",  # the trainer process has not answered for seconds
}
"""Badge colour per training state (diverged, error and stopped share the error colour)."""
# A notice comes last and is cut where the line ends. At 80 columns the second line has this
# much room after the learning rate and the temperature (the rate moves down there when the
# first line is full): the app's own notices are written to fit it.
NOTICE_ROOM = 56


def format_si(x: float, digits: int = 3) -> str:
    """Short human number: 950, 54.3k, 1.2M, 3.4G."""
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else "inf"
    a = abs(x)
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= threshold:
            return f"{x / threshold:.{digits}g}{suffix}"
    if float(x).is_integer():
        return f"{int(x)}"
    return f"{x:.{digits}g}"


def format_float(x: float) -> str:
    """Compact float for learning rates and temperatures: 0.003, 1e-05, 0.8."""
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else "inf"
    return f"{x:.3g}"


def recall_text(runs: list[tuple[str, float | None, float | None]]) -> str:
    """The status field for held-out key recall, from each run's (name, recall, chance):
    "recall rnn 13% · lstm 96% (chance 1 in 8)", or "recall 96% (chance 1 in 8)" for one
    unnamed run. Runs without a recall (not a long-lag corpus, or not yet measured) are left
    out; with none left the text is empty."""
    shown = [(name, r, c) for name, r, c in runs if r is not None and c is not None]
    if not shown:
        return ""
    figures = " · ".join(f"{name} {r:.0%}" if name else f"{r:.0%}" for name, r, _ in shown)
    return f"recall {figures} (chance 1 in {round(1 / shown[0][2])})"


_FILE_NAME = re.compile(r"[^/]*\.[A-Za-z][A-Za-z0-9]*")  # x.npz, rnn-tui.svg: not 1/2.5


def _is_path(word: str) -> bool:
    """Whether a notice's word names a file or folder: absolute or home-relative, or ending
    in a file name with an extension ("runs/x.npz"; not "g[key]/g[=]", not "1/2.5")."""
    if "/" not in word:
        return False
    return word.startswith(("/", "~/", "./", "../", "…/")) or bool(
        _FILE_NAME.fullmatch(word.rsplit("/", 1)[1])
    )


@functools.lru_cache(maxsize=32)  # a notice stays up for seconds: once, not every repaint
def fit_paths(text: str, room: int) -> str:
    """`text` with its paths shortened from the left ("…/runs/x.npz" for "/home/ann/runs/x.npz"),
    longest first, until it fits in `room` cells or no path can lose another folder; a file's
    own name is never cut. The line's end cuts whatever still does not fit, and the end of a
    path is what a notice is about."""
    words = text.split(" ")
    while len(" ".join(words)) > room:
        best = None  # (the word's index, its shorter form)
        for i, word in enumerate(words):
            core = word.rstrip(",:;)")
            parts = core.split("/")
            if not _is_path(core) or (parts[0] == "…" and len(parts) < 3):
                continue  # not a path, or only its name is left
            rest = parts[2:] if parts[0] == "…" else parts[1:]
            if not rest[-1]:
                continue  # a folder's trailing slash: nothing to name
            shorter = "/".join(["…", *rest]) + word[len(core) :]
            if best is None or len(word) > len(words[best[0]]):
                best = (i, shorter)
        if best is None:
            break
        words[best[0]] = best[1]
    return " ".join(words)


def _plain(s: object) -> str:
    """A single-line, control-free version of any value."""
    return sanitize(str(s).replace("\n", " "))


class StatusBar(Widget):
    """One or two status lines; fields wrap to the second line only between fields."""

    DEFAULT_CSS = """
    StatusBar {
        width: 1fr;
        height: auto;
        max-height: 2;
        background: $panel;
        color: $text;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    MAX_LINES = 2
    COUNTS_EVERY = 0.25
    """Seconds between two repaints when only the step and the speed changed (they change at
    every tick of the app, 10 times a second: four a second read the same and write less)."""
    COUNTS_LATE = 1.0
    """Counts held back are painted by the next status after COUNTS_EVERY, in the frame the
    app draws anyway (a timer of their own would cost a frame of its own); by a timer this
    many seconds later only if no status comes by then."""

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        """Create the bar in the "starting" state with no details yet."""
        super().__init__(name=name, id=id, classes=classes)
        self.state = "starting"
        """The state last passed to :meth:`set_status` (sanitized)."""
        self._fields: list[Content] = [
            Content.assemble(("\u00a0STARTING\u00a0", f"reverse {STATE_STYLES['starting']}"))
        ]
        self.plain_text = "STARTING"
        """All fields as one plain line (for tests and logs)."""
        self._steady = ""  # the fields other than step and speed, as last painted
        self._painted_at = 0.0  # monotonic time of the last repaint
        self._lines = 1  # lines of the bar as last painted
        self._pending: Timer | None = None  # paints counts held back, if nothing else does
        self._drawn: list[Content] = []  # the lines as last drawn
        self._notice: Content | None = None  # the notice, the last of the fields, if any

    def set_status(
        self,
        corpus: str,
        vocab: int,
        cell: str,
        params: int,
        step: int,
        chars_per_s: float,
        state: str,
        lr: float | str,
        temperature: float,
        message: str = "",
        recall: str = "",
        runs: Sequence[tuple[str, int]] = (),
        source: str = "",
    ) -> None:
        """Show the current status.

        Args:
            corpus: corpus name (shown literally, may contain "[").
            vocab: vocabulary size V.
            cell: recurrent cell name, e.g. "rnn", "lstm", "gru".
            params: number of trainable parameters.
            step: training step.
            chars_per_s: training throughput in characters per second.
            state: one of "training", "paused", "diverged", "error", "starting", "stopped",
                "silent".
            lr: learning rate, or a text of one per run ("rnn 0.03 · lstm 0.1") when the runs
                of a comparison differ.
            temperature: sampling temperature.
            message: short notice such as "saved checkpoint to runs/x.npz".
            recall: held-out key recall of a long-lag corpus, e.g.
                "recall rnn 13% · lstm 96% (chance 1 in 8)"; empty for other corpora.
            runs: (cell, parameters) of each run in compare mode, shown each on its own
                ("rnn 1.77k · lstm 6k params") instead of `cell` and the sum `params`.
            source: what the run's source says of itself in place of the step, e.g.
                "replay 2.0x · step 1,200 of 9,800"; its first word is the badge while the
                run moves ("REPLAY" rather than "TRAINING"). Empty for a live trainer.
        """
        state_s = _plain(state)
        badge_style = STATE_STYLES.get(state_s, "bold")
        badge = state_s
        if source and state_s == "training":  # not training here, but playing or showing it
            badge = _plain(source).split(" ", 1)[0]
        step_s = f"{step:,}" if isinstance(step, int) else _plain(step)
        step_field = (
            Content.styled(_plain(source), "bold")
            if source
            else Content.assemble(("step ", "dim"), (step_s, "bold"))
        )
        counts = [step_field, Content(f"{format_si(chars_per_s)} chars/s")]  # change often
        fields = [
            Content.assemble(
                (f"\u00a0{badge.upper()}\u00a0", f"reverse {badge_style}"),
                " ",
                (_plain(corpus), "bold"),
            ),
            Content(f"V={vocab}"),
            *(
                [Content(" · ".join(f"{_plain(c)} {format_si(n)}" for c, n in runs) + " params")]
                if runs
                else [Content(_plain(cell)), Content(f"{format_si(params)} params")]
            ),
            counts[0],
            *([Content.styled(_plain(recall), "bold")] if recall else []),
            counts[1],
            Content.assemble(("lr ", "dim"), lr if isinstance(lr, str) else format_float(lr)),
            Content.assemble(("temp ", "dim"), format_float(temperature)),
        ]
        notice = None
        if message:
            notice = Content.styled(_plain(spelled(self, message)), "italic")  # not data
            fields.append(notice)
        plain = "  ".join(f.plain for f in fields).replace("\u00a0", " ").strip()
        if plain == self.plain_text and state_s == self.state:
            return  # nothing changed: no repaint
        steady = "  ".join(f.plain for f in fields if all(f is not c for c in counts))
        self.state = state_s
        self._fields = fields
        self._notice = notice
        self.plain_text = plain
        now = time.monotonic()
        if steady == self._steady and now - self._painted_at < self.COUNTS_EVERY:
            if self._pending is None and self.is_mounted:  # only the counts: paint them later
                self._pending = self.set_timer(self.COUNTS_LATE, self._paint)
            return
        self._steady = steady
        self._paint()

    def _paint(self) -> None:
        """Repaint with the fields now; a new layout only when the bar changes height (a
        repaint is far cheaper). At the same height only each line's changed cells are
        repainted, from the left edge to the last one (the speed, not the fields after it)."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        self._painted_at = time.monotonic()
        width = max(1, self.size.width)
        lines = len(self._pack(width))
        shown = self._shown(width)
        old = self._drawn  # what the screen shows: as last drawn
        if lines != self._lines or len(old) != len(shown):
            self.refresh(layout=lines != self._lines)
        else:
            for y, (a, b) in enumerate(zip(old, shown, strict=True)):
                if a.plain == b.plain and a.spans != b.spans:  # only a style: the badge's
                    self.refresh(Region(0, y, width, 1))
                elif (end := changed_upto(a.plain, b.plain)) > 0:
                    self.refresh(Region(0, y, end, 1))
        self._lines = lines

    def _pack(self, width: int) -> list[Content]:
        """Greedily pack the fields into lines of ``width`` cells, two spaces apart."""
        lines: list[Content] = []
        cur: Content | None = None
        for f in self._fields:
            if cur is None:
                cur = f
            elif cur.cell_length + 2 + f.cell_length <= width:
                cur = cur + "  " + f
            else:
                lines.append(cur)
                cur = f
        if cur is not None:
            lines.append(cur)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """One line if everything fits, else two."""
        return max(1, min(self.MAX_LINES, len(self._pack(width))))

    def _shown(self, width: int) -> list[Content]:
        """The lines drawn at `width`: the packed fields, at most two lines (the rest goes
        on the last one, cut with an ellipsis when drawn)."""
        lines = self._pack(width)
        if len(lines) > self.MAX_LINES:
            lines = [*lines[: self.MAX_LINES - 1], Content("  ").join(lines[self.MAX_LINES - 1 :])]
        last, notice = lines[-1], self._notice
        if notice is not None and last.cell_length > width:  # the notice, at its end, is cut
            before = last.cell_length - notice.cell_length
            short = fit_paths(notice.plain, width - before)
            if short != notice.plain:
                lines[-1] = last[:before] + Content.styled(short, "italic")
        return lines

    def render(self) -> RenderResult:
        """The packed fields, at most two lines (the rest is cut with an ellipsis)."""
        self._drawn = self._shown(max(1, self.size.width))
        return Content("\n").join(self._drawn)

    def render_line(self, y: int) -> Strip:
        """Line `y` of `render`, drawn straight from its runs (`content_strip`)."""
        width = self.content_region.width
        self._drawn = self._shown(max(1, self.size.width))  # what the screen shows from now
        if y >= len(self._drawn):
            return Strip.blank(width, self.visual_style.rich_style)
        return content_strip(self, self._drawn[y], width)
