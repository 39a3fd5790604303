"""Help screen: what each pane shows, in plain words, and the keys."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from rnn_tui.engine.presets import PRESETS
from rnn_tui.run.blowup import BLOWUP_NORM
from rnn_tui.ui.actions import help_table


def uniform_line(vocab_size: int | None) -> str:
    """The help's sentence on guessing uniformly, with this corpus's numbers when known."""
    head = "A model that guesses uniformly among the V characters of the vocabulary scores"
    if vocab_size is None or vocab_size < 1:
        return f"{head} **ln(V)** nats."
    v = int(vocab_size)
    return f"{head} **ln(V)** nats: {math.log(v):.2f} for this corpus's V = {v}."


def help_markdown(vocab_size: int | None = None) -> str:
    """The help text; `vocab_size`, when given, puts the corpus's own ln(V) in it."""
    return f"""\
# What you are looking at

A small recurrent neural network reads the corpus one character at a time and learns to guess
the next character. The panes show how well it guesses, how the learning signal flows back
through time, and what it writes on its own.

## Loss pane

The loss is the average surprise of the model at the next character, measured in **nats per
character** (natural log). Divide by ln 2 ≈ 0.693 to get **bits per character**: the number of
yes/no questions the model would still need, on average, to pin down each character.

* {uniform_line(vocab_size)} The grey dotted line marks it on the
  chart. Anything below that means the model has learned something.
* The **train** curve is the smoothed loss on the text it is learning from.
* The **held-out** curve is the loss on text it never trains on. That is the honest number: if
  train keeps falling while held-out stalls or rises, the model is memorising instead of
  generalising (overfitting).

## Gradient pane

Training uses backpropagation through time: the network makes a guess, and so has a loss, at
every step of a window of T steps, and each loss sends a learning signal (a gradient) back to
the hidden states h_t of the steps before it. The pane shows how big that signal is at each
step t = 1 … T (oldest on the left, newest on the right), for one stream of text. Both
measures are gradients of the losses themselves, each loss counted once, so they share one
scale.

* **grad_t** (blue bars): the gradient of the **sum of all T losses** of the window, at h_t.
  Every loss from step t on reaches h_t, so the early steps collect more of them: blue bars
  that **rise towards the left are normal** in healthy training, not a warning.
* **grad_last_t** (orange ━ marks): the gradient of **the last step's loss alone** (the loss
  at t = T), carried back to h_t. It is one of the terms in grad_t's sum. At t = T no other
  loss reaches, so there the mark sits exactly on the top of the bar.
* The vertical axis is **logarithmic**: each labelled decade (1e-3, 1e-2, …) is ten times the one
  below it. A straight slope means the signal shrinks or grows by the same factor at every step.
* **Read vanishing and exploding gradients from the orange marks**, right to left: they show
  what is left of one loss's signal after travelling back from step T to step t. Marks that
  **fall away** to the left by several decades mean the gradient **vanishes**: the first steps
  of the window hear almost nothing from the last one, so the network cannot learn
  dependencies that long. Marks that **climb** to the left mean it **explodes**: one bad
  update can wreck the weights.
* **ratio g_last[1]/g_last[T]** says the same in one number: the first orange mark divided by
  the last. The closer to 1, the further back the signal reaches; 1e-8 means the first step
  gets a hundred-millionth of what the last step gets (vanishing); far above 1 means it
  explodes.
* **Gradient clipping** guards against explosions: when |g|, the norm of the gradient of all
  the weights together, exceeds the clip value ("clip at 5"), it is scaled down. The header
  says how often that happened: "clipped 37% of the last 100 steps". Clipped most of the
  time, the threshold or the learning rate is too high for this model.
* When there are more timesteps than columns, several steps share one column (their largest
  value is drawn) and the key says "each column = N steps". "!" marks NaN/inf values.
* The **heat strip** underneath repeats grad_last_t for recent training steps, one row each,
  oldest at the top and newest at the bottom (two rows per line of text). Bright is large,
  dark is small, magenta is NaN/inf. It shows how the profile changes as training goes on.
* Why it happens: for a plain RNN the signal is multiplied by the recurrent weight matrix W_hh
  (and the tanh slopes) once per step. The pane shows the spectral norm ‖W_hh‖₂, the most
  any vector can be stretched by W_hh. Below 1 the gradient must vanish, since the tanh slopes
  are at most 1 too. Above 1 it may explode (a sudden spike of |g| and the loss), though
  saturated tanh units often still shrink it. LSTM and GRU cells add gates and an additive
  memory path that keep the gradient alive over many more steps: try `rnn-tui --preset
  lstm-rescue`, and press `l` to switch cells.

## Sample pane

Every so often the model writes text on its own, one character at a time, drawing each next
character from its predicted probabilities. The **temperature** reshapes those probabilities:
low (e.g. 0.5) is conservative and repetitive, sticking to the likeliest characters; high
(e.g. 1.2) is adventurous, with more variety and more mistakes. Control characters from the
corpus are shown as symbols such as ␛ (escape), ␉ (tab) or ␍ (carriage return).

## Lessons (--preset)

{preset_lines()}

## Keys

{help_table()}

Press **?**, **Esc** or **q** to close this help.
"""


def preset_lines() -> str:
    """One bullet per preset: its command (with PATH where it needs a text file) and its
    lesson, in the help's words; then what happens at a gradient blow-up."""
    return "\n".join(
        f"* `rnn-tui {'' if p.corpus else 'PATH '}--preset {name}`: {p.summary}."
        f" {p.lesson.replace('lesson:', 'Lesson:', 1)}."
        for name, p in PRESETS.items()
    ) + (
        f"\n\nWith clipping off, a step whose |g| exceeds {BLOWUP_NORM:,.0f} is a blow-up: the"
        " training pauses there, so the exploded profile stays on screen, and the status line"
        " names the step, |g| and the weights' norm. Press **c** to clip, then **r** to start"
        " again (once per reset; **space** goes on without clipping)."
    )


HELP_MARKDOWN = help_markdown()  # the text without a corpus's numbers


class HelpScreen(ModalScreen[None]):
    """Modal help explaining the panes and the keys; closes on escape, q or ?."""

    BINDINGS = [
        Binding("escape", "close", "Close help"),
        Binding("q", "close", "Close help", show=False),
        Binding("question_mark", "close", "Close help", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > #help-box {
        width: 92%;
        max-width: 100;
        height: 92%;
        border: round $accent;
        border-title-align: center;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-footer {
        dock: bottom;
        height: 1;
        color: $text-muted;
        background: $surface;
    }
    HelpScreen Markdown {
        margin: 0;
        padding: 0;
    }
    """

    def __init__(self, vocab_size: int | None = None) -> None:
        """`vocab_size`: the corpus's V, so the help can give its ln(V); None leaves it out."""
        super().__init__()
        self.vocab_size = vocab_size

    def compose(self) -> ComposeResult:
        """A scrollable box with the help text."""
        with VerticalScroll(id="help-box") as box:
            box.border_title = "rnn-tui help"
            yield Static("↑/↓ or PgUp/PgDn to scroll · ?, Esc or q to close", id="help-footer")
            yield Markdown(help_markdown(self.vocab_size), id="help-text")

    def on_mount(self) -> None:
        """Focus the scroll box so arrow keys scroll the help."""
        self.query_one("#help-box", VerticalScroll).focus()

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
