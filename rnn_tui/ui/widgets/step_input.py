"""The replay's step prompt (j): a one-line box where the viewer types the step to go to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

HINT = "Enter: go · Esc: cancel · 1200, 1,200 or 1.2k"


def read_step(text: str) -> int | None:
    """A step number as typed ("1200", "1,200", "1.2k", "3M"); None if it is not one."""
    t = text.strip().replace(",", "").replace("_", "").lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    if scale > 1:
        t = t[:-1]
    try:
        value = float(t) * scale
    except ValueError:
        return None
    return int(value) if value >= 0 and value == value and value < 2**62 else None


class StepScreen(ModalScreen[int | None]):
    """Asks for a step of the replay; dismissed with it (Enter) or None (Esc). Text that is
    not a step number is refused with one line, and the box stays open."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    StepScreen {
        align: center middle;
    }
    StepScreen > #step-box {
        width: 60%;
        max-width: 60;
        height: auto;
        border: round $accent;
        border-title-align: center;
        background: $surface;
        padding: 0 1;
    }
    StepScreen #step-hint {
        color: $text-muted;
    }
    StepScreen #step-error {
        color: $error;
    }
    """

    def __init__(self, first: int, last: int) -> None:
        super().__init__()
        self.first, self.last = first, last  # the steps the recording holds

    def compose(self) -> ComposeResult:
        with Vertical(id="step-box") as box:
            box.border_title = f"go to step ({self.first:,} to {self.last:,})"
            yield Input(placeholder=f"e.g. {self.last // 2:,}", id="step-text")
            yield Static("", id="step-error", markup=False)
            yield Static(HINT, id="step-hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        step = read_step(event.value)
        if step is None:
            self.query_one("#step-error", Static).update("type a step number, e.g. 1200")
            return
        self.dismiss(step)

    def action_cancel(self) -> None:
        self.dismiss(None)
