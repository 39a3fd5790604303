"""The probe pane: a text shaded by how surprised the model is by each character, by how far
back its prediction of the character under the cursor reaches, or by one hidden unit.

Three shadings, one at a time (`b` cycles them):

    surprise      the background of character i: -log2 p(c_i | c_0 .. c_{i-1}), 0 .. log2 V bits
    looking back  the background of each earlier character s: ||d log p(c_j) / d x_s|| over its
                  largest value, on a log scale of DECADES decades (j: the cursor)
    neuron        the background of character i: h_i[unit], the hidden state after reading c_i
                  (the LSTM's h_t, not its c_t), -1 blue .. +1 red on the neuron view's colours

The numbers come from `rnn_tui.engine.probe` (computed in a worker thread); this widget only
draws them. Characters are shown as the sample pane shows them: controls as visible stand-ins,
a newline as ↵ (then a new row); markup is never parsed. Characters outside the vocabulary are
struck through and greyed: the model skips them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

from rnn_tui.engine.probe import PROBE_LIMIT, ProbeResult
from rnn_tui.textsafe import sanitize
from rnn_tui.ui.widgets.colours import RGB, contrast, theme_palette
from rnn_tui.ui.widgets.drawn import Drawn, flow
from rnn_tui.ui.widgets.neuron_view import KEY_LEVELS, PALETTE, SHADES, WHAT_H, palette_index
from rnn_tui.ui.widgets.neuron_view import LEVELS as NEURON_LEVELS

LEVELS = 8  # shades per scale, plus the ground: a bounded set of styles
DECADES = 4  # looking back: 1 down to 1e-4 of the largest gradient; smaller is drawn as 1e-4
REACH_SHARE = 0.01  # the cursor line says how far back the gradient stays above this share
# (ground end, far end) of each scale, per palette: red for surprise, blue for looking back.
SURPRISE_SCALE: dict[str, tuple[RGB, RGB]] = {
    "dark": ((38, 38, 38), (230, 55, 55)),
    "light": ((255, 255, 255), (215, 30, 30)),
}
REACH_SCALE: dict[str, tuple[RGB, RGB]] = {
    "dark": ((38, 38, 38), (60, 135, 255)),
    "light": ((255, 255, 255), (25, 80, 225)),
}
UNKNOWN_INK: dict[str, RGB] = {"dark": (140, 140, 140), "light": (110, 110, 110)}
CURSOR: dict[str, tuple[RGB, RGB]] = {  # (ink, background) of the character under the cursor
    "dark": ((0, 0, 0), (255, 255, 255)),
    "light": ((255, 255, 255), (0, 0, 0)),
}
EMPTY = (
    "nothing to probe: type or paste text in the line below, or press Enter and then"
    " g: held-out text, y: the sample"
)
# The pane's keys, by where the focus is: typing in the input line, the letters are the text's.
KEYS_HINT = "←→↑↓ cursor · b shading · g held-out · y sample · Esc close"
TYPING_HINT = "typing · Enter: to the keys b g y ←→ · Esc close"
UNIT_HINT = "[ ] unit · m most varying"  # the neuron shading's keys
UNIT_HINT_SHORT = "[ ] m: unit"  # the same, in a narrow lane


def shown(ch: str) -> str:
    """One character as the pane shows it: a newline as ↵, a control as its stand-in."""
    return "↵" if ch == "\n" else sanitize(ch)


def one_line(text: str) -> str:
    """`text` for a one-line input: newlines as ↵, controls as their stand-ins."""
    return sanitize(text).replace("\n", "↵")


def named(ch: str) -> str:
    """One character as the cursor line names it: a space as ␣."""
    return "␣" if ch == " " else shown(ch)


def blend(lo: RGB, hi: RGB, level: int) -> RGB:
    """The shade of `level` in 0..LEVELS, linear from `lo` to `hi`."""
    a = level / LEVELS
    return tuple(round(x + (y - x) * a) for x, y in zip(lo, hi, strict=True))  # type: ignore[return-value]


def ink(shade: RGB) -> RGB:
    """Black or white, whichever reads better on `shade`."""
    black, white = (0, 0, 0), (255, 255, 255)
    return black if contrast(black, shade) >= contrast(white, shade) else white


def surprise_level(bits: float, max_bits: float) -> int:
    """The shade of a surprisal: 0 (no surprise) .. LEVELS (log2 V bits or more)."""
    return int(round(min(1.0, max(0.0, bits / max_bits)) * LEVELS))


def reach_levels(back: np.ndarray) -> np.ndarray:
    """`back: (j,)` gradient norms -> (j,) levels 0..LEVELS on a log scale of DECADES decades
    below the largest (LEVELS: the largest); -1 where the norm is 0 (no path: a state reset),
    -2 where it is NaN (an unknown character)."""
    finite = np.isfinite(back)
    top = float(np.max(back[finite])) if finite.any() else 0.0
    out = np.full(len(back), -2, np.int64)
    if top <= 0:
        out[finite] = -1
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        decades = np.log10(back / top)  # (j,) 0 at the largest, -1 a tenth of it ...
    level = np.rint((np.clip(decades, -DECADES, 0) + DECADES) / DECADES * LEVELS)
    out[finite] = level[finite].astype(np.int64)
    out[finite & (back == 0)] = -1
    return out


def reach(back: np.ndarray, share: float = REACH_SHARE) -> int:
    """How many characters back from the cursor the gradient is still at least `share` of its
    largest value: j - (the earliest such s); 0 when nothing is."""
    finite = np.where(np.isfinite(back), back, 0.0)
    top = float(finite.max()) if len(finite) else 0.0
    if top <= 0:
        return 0
    return len(back) - int(np.flatnonzero(finite >= share * top)[0])


def wrap(labels: list[str], width: int) -> list[tuple[int, int]]:
    """Rows of `labels` (one per character) for `width` cells: (start, end) index ranges. A
    row ends after ↵ (a newline) or, when the next character does not fit, after its last
    space (else at the edge)."""
    width = max(2, width)
    rows: list[tuple[int, int]] = []
    start, used, last_space = 0, 0, -1
    for i, label in enumerate(labels):
        w = cell_len(label)
        if used + w > width and i > start:
            cut = last_space + 1 if last_space >= start else i
            rows.append((start, cut))
            start = cut
            used = sum(cell_len(x) for x in labels[start:i])
            last_space = -1
        used += w
        if label == " ":
            last_space = i
        if label == "↵":
            rows.append((start, i + 1))
            start, used, last_space = i + 1, 0, -1
    if start < len(labels) or not rows:
        rows.append((start, len(labels)))
    return rows


@dataclass(frozen=True)
class ProbeShown:
    """What one lane's probe view draws: the text, the engine's numbers, the cursor."""

    text: str  # the characters probed (at most PROBE_LIMIT)
    cut: int  # characters dropped from the start of the text given
    cursor: int  # the position under the cursor, 0 <= cursor < len(text) (0 if empty)
    looking_back: bool  # shading: looking back (True) or surprise (False)
    result: ProbeResult | None = None  # the engine's probe of `text`, None while computing
    back: np.ndarray | None = None  # (cursor,) gradient norms, when looking back is defined
    model: str = ""  # e.g. "rnn · step 1,200"
    message: str = ""  # shown instead of the numbers: waiting, an error


class ProbeView(Widget, can_focus=True):
    """One model's view of the probe text. `show(ProbeShown)` redraws it; the arrow keys post
    `CursorTo`, which the app turns into a new cursor for every lane."""

    DEFAULT_CSS = """
    ProbeView {
        width: 1fr;
        height: 1fr;
        padding: 0 1;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    BINDINGS = [
        Binding("left", "move(-1)", "cursor left", show=False),
        Binding("right", "move(1)", "cursor right", show=False),
        Binding("up", "row(-1)", "row up", show=False),
        Binding("down", "row(1)", "row down", show=False),
        Binding("home", "to(0)", "first character", show=False),
        Binding("end", "to(-1)", "last character", show=False),
    ]

    class CursorTo(Message):
        """The user moved the cursor to `index` in this view."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Pasted(Message):
        """Text pasted while the view had focus: the whole of it, newlines and all."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.data = ProbeShown("", 0, 0, False)
        self.vocab_size = 2  # for the surprise scale's top, log2 V
        self.unit: int | None = None  # the neuron shading's hidden unit; None: another shading
        self.cell = "rnn"  # this lane's cell, for what h_t is
        self.cursor = 0  # where the keys have put the cursor (drawn once the numbers come)
        self._rows: list[tuple[int, int]] = []  # the rows of the last drawing
        self._top = 0  # the first row shown: follows the cursor

    def show(self, data: ProbeShown) -> None:
        if data.text != self.data.text:
            self.cursor = data.cursor
        self.data = data
        self.refresh()

    def show_unit(self, unit: int | None, cell: str) -> None:
        """Shade by hidden unit `unit` of this lane's `cell` (None: by the other shadings)."""
        self.unit, self.cell = unit, cell
        self.refresh()

    def unit_values(self) -> np.ndarray | None:
        """(N,) h_t[unit] after each character of the probed text (NaN where unknown), in the
        neuron shading once the numbers have come; else None."""
        r = self.data.result
        if self.unit is None or r is None or len(r.hs) != len(self.data.text):
            return None
        return r.hs[:, self.unit % r.hs.shape[1]]

    # -- keys ----------------------------------------------------------------------------------

    def _go(self, index: int) -> None:
        """Ask for the cursor at `index` (kept within the text); keys pressed before the
        answer comes move on from there."""
        self.cursor = max(0, min(index, len(self.data.text) - 1))
        self.post_message(self.CursorTo(self.cursor))

    def action_move(self, delta: int) -> None:
        self._go(self.cursor + delta)

    def action_to(self, index: int) -> None:
        self._go(index if index >= 0 else len(self.data.text) - 1)

    def action_row(self, delta: int) -> None:
        """The same column of the row above or below, as drawn last."""
        rows, j = self._rows, self.cursor
        here = next((r for r, (a, b) in enumerate(rows) if a <= j < b), None)
        if here is None or not 0 <= here + delta < len(rows):
            return
        a, b = rows[here + delta]
        col = j - rows[here][0]
        self._go(min(a + col, max(a, b - 1)))

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(self.Pasted(event.text))

    # -- drawing -------------------------------------------------------------------------------

    @property
    def max_bits(self) -> float:
        """The top of the surprise scale: log2 V bits, a uniform guess's surprise."""
        return math.log2(max(2, self.vocab_size))

    def shade(self, i: int) -> RGB | None:
        """The background of character i as drawn now (None: the ground), from the engine's
        numbers: for tests and for the drawing alike."""
        d, name = self.data, theme_palette(self).name
        r = d.result
        if r is None or not r.known[i] or i == d.cursor:
            return None
        if self.unit is not None:
            values = self.unit_values()
            return None if values is None else SHADES[int(palette_index(values[i : i + 1])[0])]
        if not d.looking_back:
            if not r.scored[i]:
                return None
            lo, hi = SURPRISE_SCALE[name]
            return blend(lo, hi, surprise_level(float(r.surprisal[i]), self.max_bits))
        if d.back is None or i >= len(d.back):
            return None
        level = int(reach_levels(d.back)[i])
        lo, hi = REACH_SCALE[name]
        return blend(lo, hi, level) if level >= 0 else None

    def header(self) -> list[Text]:
        d, r = self.data, self.data.result
        tokens = [Text().append("probe", Style(bold=True))]
        if d.model:
            tokens.append(Text(d.model))
        if d.text:
            tokens.append(Text(f"{len(d.text):,} chars"))
        if r is not None and not math.isnan(r.bits_per_char):
            tokens.append(Text().append(f"{r.bits_per_char:.2f} bits/char", Style(bold=True)))
        if r is not None and (~r.known).any():
            tokens.append(Text(f"{int((~r.known).sum())} unknown"))
        if d.cut:
            tokens.append(Text().append(f"cut to the last {PROBE_LIMIT:,}", Style(bold=True)))
        return tokens

    def legend(self) -> list[Text]:
        d, name = self.data, theme_palette(self).name
        if d.looking_back:
            lo, hi = REACH_SCALE[name]
            key = Text("looking back, |grad| vs max: ")
            for k in range(LEVELS + 1):
                if k % (LEVELS // DECADES) == 0:
                    exp = k * DECADES // LEVELS - DECADES
                    key.append("1" if exp == 0 else f"1e{exp}" if k else f"≤1e{exp}")
                shade = blend(lo, hi, k)
                key.append(" ", Style(bgcolor=_rgb(shade)))
            key.rstrip()
        else:
            lo, hi = SURPRISE_SCALE[name]
            key = Text("surprise −log2 p, bits: 0")
            for k in range(LEVELS + 1):
                key.append(" ", Style(bgcolor=_rgb(blend(lo, hi, k))))
            key.append(f"{self.max_bits:.1f} (a uniform guess)")
        unknown = Text()
        unknown.append("x", Style(color=_rgb(UNKNOWN_INK[name]), strike=True))
        unknown.append(" unknown")
        return [key, unknown]

    def unit_legend(self, width: int) -> list[Text]:
        """What the neuron shading shows, its colour key (the neuron view's shades), the range of
        the unit over the text and the keys that choose the unit: on two lines at most, the
        range and then the keys left out where the pane is too narrow for them."""
        what = WHAT_H.get(self.cell, "the hidden state").removeprefix("the ")
        if self.cell == "lstm":
            what += ", not c_t"  # the LSTM's output h_t = o_t tanh(c_t), not its cell c_t
        title = Text(f"h_t[{self.unit}], {what}: -1 .. +1", Style(bold=True))
        key = Text("-1 ")
        for level in KEY_LEVELS:
            key.append(" ", PALETTE[level + NEURON_LEVELS])
        key.append(" +1")
        hint = Text(UNIT_HINT, Style(dim=True))
        values = self.unit_values()
        rng = Text()
        if values is not None and np.isfinite(values).any():
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            rng = Text(f"range {lo:+.2f} .. {hi:+.2f}", Style(dim=True))
        short = Text(UNIT_HINT_SHORT, Style(dim=True))
        for tokens in ([title, key, rng, hint], [title, key, hint], [title, key, short]):
            lines = flow(tokens, width)
            if len(lines) <= 2:
                return lines
        return lines

    def cursor_line(self) -> list[Text]:
        d, r = self.data, self.data.result
        if r is None or not d.text:
            return []
        j = d.cursor
        head = Text().append(f"'{named(d.text[j])}' at {j}: ", Style(bold=True))
        if not r.known[j]:
            return [head + Text("not in the model's vocabulary: skipped, not scored")]
        if not r.scored[j]:
            return [head + Text("nothing known before it to predict it from")]
        out = [head.append(f"{r.surprisal[j]:.2f} bits", Style(bold=True))]
        top = " ".join(f"{named(c)} {p:.0%}" for c, p in r.top(j))
        out.append(Text(f"top-5: {top}"))
        values = self.unit_values()
        if values is not None:
            out.append(Text(f"h_t[{self.unit}] after it: {values[j]:+.2f}"))
        elif d.looking_back and d.back is not None:
            out.append(Text(f"≥1% of the max up to {reach(d.back)} chars back"))
        return out

    def body(self, labels: list[str]) -> list[Text]:
        """Every row of the text, shaded."""
        d, r, name = self.data, self.data.result, theme_palette(self).name
        cursor = Style(color=_rgb(CURSOR[name][0]), bgcolor=_rgb(CURSOR[name][1]), bold=True)
        unknown = Style(color=_rgb(UNKNOWN_INK[name]), strike=True)
        after = Style(dim=True)  # looking back: characters after the cursor play no part
        values = self.unit_values()  # the neuron shading: the neuron view's styles
        unit_styles = (
            None if values is None else [PALETTE[k] for k in palette_index(values).tolist()]
        )
        back = d.looking_back and self.unit is None
        lines = []
        for a, b in self._rows:
            line = Text()
            for i in range(a, b):
                label = labels[i]
                if i == d.cursor:
                    style = cursor
                elif r is not None and not r.known[i]:
                    style = unknown
                elif unit_styles is not None:
                    style = unit_styles[i]
                elif back and i > d.cursor:
                    style = after
                else:
                    shade = self.shade(i)
                    style = Style(color=_rgb(ink(shade)), bgcolor=_rgb(shade)) if shade else Style()
                line.append(label, style)
            lines.append(line)
        return lines

    def build_text(self, width: int, height: int) -> Text:
        d = self.data
        top = flow(self.header(), width, " · ")
        if d.message or not d.text:
            lines = [*top, Text(d.message or EMPTY, Style(dim=True))]
            self._rows = []
            return Text("\n").join(lines)
        top += flow(self.legend(), width) if self.unit is None else self.unit_legend(width)
        bottom = flow(self.cursor_line(), width, " · ")
        labels = [shown(ch) for ch in d.text]
        self._rows = wrap(labels, width)
        room = max(1, height - len(top) - len(bottom))
        here = next((r for r, (a, b) in enumerate(self._rows) if a <= d.cursor < b), 0)
        if here < self._top:
            self._top = here
        elif here >= self._top + room:
            self._top = here - room + 1
        self._top = max(0, min(self._top, len(self._rows) - room))
        body = self.body(labels)[self._top : self._top + room]
        body += [Text()] * (room - len(body))
        return Text("\n").join([*top, *body, *bottom])

    def render(self) -> Drawn:
        width, height = self.content_region.size
        return Drawn(self.build_text(width, height))


def _rgb(rgb: RGB) -> str:
    return "rgb({},{},{})".format(*rgb)


class ProbeInput(Input):
    """The probe's input line. A paste keeps the whole text, newlines and all (an Input keeps
    only the first line): it is posted as `ProbeView.Pasted` for the app to probe."""

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()  # not Input's own handler, which keeps the first line only
        self.post_message(ProbeView.Pasted(event.text))
