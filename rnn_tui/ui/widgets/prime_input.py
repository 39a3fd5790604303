"""The prime input: a one-line box where the viewer types the text every sample continues."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rnn_tui.engine.sample_settings import prime_problem, read_prime
from rnn_tui.textsafe import sanitize

HINT = "Enter: set · Esc: cancel · empty: no prime · \\n: a newline"


def typed_form(prime: str) -> str:
    """`prime` as it would be typed: backslashes and characters that cannot be typed (a newline,
    a tab) as escapes, so that `read_prime(typed_form(p)) == p`."""
    return "".join(
        ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode("ascii")
        for ch in prime
    )


def prime_notice(prime: str) -> str:
    """The status line's word on a new prime, on one line."""
    if not prime:
        return "prime cleared: samples start from a blank state"
    return f"samples now continue: {sanitize(prime.replace(chr(10), '↵'))}"


class PrimeScreen(ModalScreen[str | None]):
    """Asks for the prime; dismissed with the new prime (Enter), or None (Esc). A prime the
    model cannot read is refused with one line saying why, and the box stays open."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    PrimeScreen {
        align: center middle;
    }
    PrimeScreen > #prime-box {
        width: 80%;
        max-width: 90;
        height: auto;
        border: round $accent;
        border-title-align: center;
        background: $surface;
        padding: 0 1;
    }
    PrimeScreen #prime-hint {
        color: $text-muted;
    }
    PrimeScreen #prime-error {
        color: $error;
    }
    """

    def __init__(self, prime: str, chars: tuple[str, ...]) -> None:
        super().__init__()
        self.prime = prime  # the prime now, shown for editing
        self.chars = chars  # the vocabulary: a prime may use only these

    def compose(self) -> ComposeResult:
        with Vertical(id="prime-box") as box:
            box.border_title = "every sample continues this text"
            yield Input(typed_form(self.prime), placeholder="e.g. The baker ", id="prime-text")
            yield Static("", id="prime-error", markup=False)
            yield Static(HINT, id="prime-hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            prime = read_prime(event.value)
            problem = prime_problem(prime, self.chars)
        except ValueError as exc:
            problem = str(exc)
        if problem is not None:
            self.query_one("#prime-error", Static).update(sanitize(problem))
            return
        self.dismiss(prime)

    def action_cancel(self) -> None:
        self.dismiss(None)
