"""Display widgets of rnn-tui. They take plain data (numpy arrays, floats, strings) only.

Each name below is imported from its module when first asked for: the app's first frame needs
only the status bar and the model strip, not NumPy (the charts), plotext or Textual's Markdown
(the help), so importing one widget does not load the others."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnn_tui.ui.widgets.grad_pane import GradPane
    from rnn_tui.ui.widgets.help_screen import HelpScreen
    from rnn_tui.ui.widgets.loss_chart import LossChart
    from rnn_tui.ui.widgets.neuron_view import NeuronView
    from rnn_tui.ui.widgets.next_chars import NextChars
    from rnn_tui.ui.widgets.sample_pane import SamplePane
    from rnn_tui.ui.widgets.status_bar import StatusBar

_MODULES = {  # name -> the module that defines it
    "GradPane": "grad_pane",
    "HelpScreen": "help_screen",
    "LossChart": "loss_chart",
    "NeuronView": "neuron_view",
    "NextChars": "next_chars",
    "SamplePane": "sample_pane",
    "StatusBar": "status_bar",
}

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
    """A widget class, loaded from its module when first asked for."""
    if name in _MODULES:
        return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
