"""Display widgets of rnn-tui. They take plain data (numpy arrays, floats, strings) only."""

from rnn_tui.ui.widgets.grad_pane import GradPane
from rnn_tui.ui.widgets.help_screen import HelpScreen
from rnn_tui.ui.widgets.loss_chart import LossChart
from rnn_tui.ui.widgets.neuron_view import NeuronView
from rnn_tui.ui.widgets.next_chars import NextChars
from rnn_tui.ui.widgets.sample_pane import SamplePane
from rnn_tui.ui.widgets.status_bar import StatusBar

__all__ = [
    "GradPane",
    "HelpScreen",
    "LossChart",
    "NeuronView",
    "NextChars",
    "SamplePane",
    "StatusBar",
]
