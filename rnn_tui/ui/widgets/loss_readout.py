"""The loss in large digits, labelled: the held-out loss once there is one, the training loss
beside it, smaller.

The held-out loss is the figure that says whether the model generalises: the training loss can
keep falling while it rises (overfitting). Before the first evaluation the digits show the
training loss, and the label says so. The large digits have the colour of what they show, the
colour of the held-out (or training) curve in the loss chart, in either theme.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import Digits, Static

from rnn_tui.ui.widgets.colours import follow_theme, theme_palette

HELD_OUT = "held-out loss, nats/char"
TRAINING = "training loss, nats/char (smoothed; held-out not measured yet)"


def readout(val_loss: float | None, train_loss: float, run: str = "") -> tuple[str, str, str]:
    """(label, large value, small line under it) for the latest step's losses; `run` names the
    run in compare mode (the figures are the first run's)."""
    who = f"{run}: " if run else ""
    if val_loss is None:
        return who + TRAINING, f"{train_loss:.3f}", ""
    return who + HELD_OUT, f"{val_loss:.3f}", f"training loss {train_loss:.3f} (smoothed)"


class LossReadout(Vertical):
    """A label, the loss in large digits, and the training loss in one small line."""

    DEFAULT_CSS = """
    LossReadout { height: auto; }
    LossReadout > Static { width: auto; color: $text-muted; text-wrap: nowrap; }
    LossReadout > Digits { width: auto; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = Static("", classes="label")
        self.digits = Digits("")
        self.aside = Static("", classes="aside")
        self.shown: tuple[str, str, str] = ("", "", "")
        self.run = ""  # the run the figures belong to, in compare mode

    def compose(self) -> ComposeResult:
        yield self.label
        yield self.digits
        yield self.aside

    def on_mount(self) -> None:
        self.paint()
        follow_theme(self, self.paint)

    def paint(self) -> None:
        """Colour the digits as the loss chart colours the curve they show, in this theme."""
        colours = theme_palette(self)
        if self.run:  # compare mode: the run's own colour, as on the chart
            rgb = colours.runs[0]
        else:
            rgb = colours.train if self.shown[0].endswith(TRAINING) else colours.held_out
        self.digits.styles.color = Color(*rgb)

    @property
    def value(self) -> str:
        """The figure in the large digits ("" before the first step)."""
        return self.shown[1]

    @property
    def caption(self) -> str:
        """What the large figure is."""
        return self.shown[0]

    def show(self, val_loss: float | None, train_loss: float, run: str = "") -> None:
        """Show the losses (of the run named `run`, in compare mode); nothing is redrawn (or
        relaid out) unless a figure changed."""
        self.run = run
        new = readout(val_loss, train_loss, run)
        if new == self.shown:
            return
        for widget, old, text in zip(
            (self.label, self.digits, self.aside), self.shown, new, strict=True
        ):
            if old == text:
                continue
            if isinstance(widget, Digits):
                widget.update(text)  # lays out again only when its width changes
            else:  # the same width (the smoothed loss's next figure): a repaint, no layout
                widget.update(text, layout=cell_len(text) != cell_len(old))
        other_loss = new[0] != self.shown[0]  # e.g. from the training loss to the held-out one
        self.shown = new
        if other_loss:
            self.paint()
