"""What the help screen tells a user beyond the key table."""

from __future__ import annotations

from rnn_tui.ui.maximize import PANE_CLASSES, PANE_IDS
from rnn_tui.ui.widgets.help_screen import HELP_MARKDOWN


def test_help_says_a_click_maximizes_a_pane_and_esc_restores() -> None:
    """If this fails, nothing on screen tells a user that clicking a pane fills the screen
    with it and that Esc gives the other panes back: a stray click hides every other pane."""
    keys = HELP_MARKDOWN.split("## Keys", 1)[1]
    line = next(x for x in keys.splitlines() if x.startswith("Click a pane"))
    assert "**Esc**" in line
    assert PANE_IDS == ("loss-box",) and set(PANE_CLASSES) == {"grads", "lane"}  # the three named
    for pane in ("loss", "gradients", "samples"):
        assert pane in line
