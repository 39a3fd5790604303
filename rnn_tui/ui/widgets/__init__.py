"""Display widgets of rnn-tui. They take plain data (numpy arrays, floats, strings) only.

`HelpScreen` is imported on first use: it loads Textual's Markdown, which the first frame does
not need (issue 16: quicker to start)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnn_tui.ui.widgets.grad_pane import GradPane
from rnn_tui.ui.widgets.loss_chart import LossChart
from rnn_tui.ui.widgets.neuron_view import NeuronView
from rnn_tui.ui.widgets.next_chars import NextChars
from rnn_tui.ui.widgets.sample_pane import SamplePane
from rnn_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from rnn_tui.ui.widgets.help_screen import HelpScreen

__all__ = [
    "GradPane",
    "HelpScreen",
    "LossChart",
    "NeuronView",
    "NextChars",
    "SamplePane",
    "StatusBar",
]


def __getattr__(name: str) -> Any:
    """`HelpScreen`, loaded when first asked for."""
    if name == "HelpScreen":
        from rnn_tui.ui.widgets.help_screen import HelpScreen

        return HelpScreen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
