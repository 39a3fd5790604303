"""A bare Textual app with one Static widget: the yardstick of the app's first frame.

`python -m rnn_tui.bench.bare_app` is launched by `bench app` exactly as the app is (same
interpreter, same pseudo-terminal size, same environment); its text holds a frame marker of
`rnn_tui.bench.terminal`, so its first frame is seen the same way. q quits.
"""

from textual.app import App, ComposeResult
from textual.widgets import Static


class BareApp(App[int]):
    """One Static widget, nothing else."""

    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("a bare Textual app: STARTING")


if __name__ == "__main__":
    BareApp().run()
