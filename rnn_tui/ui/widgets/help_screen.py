"""Help screen: what each pane shows, in plain words, and the keys."""

from __future__ import annotations

import math

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rnn_tui.engine.config import Config
from rnn_tui.engine.optim import lr_in_force
from rnn_tui.engine.presets import PRESETS
from rnn_tui.run.blowup import BLOWUP_NORM, WEIGHTS_JUMP
from rnn_tui.ui.actions import help_table
from rnn_tui.ui.widgets.spelled import spelled


def uniform_line(vocab_size: int | None) -> str:
    """The help's sentence on guessing uniformly, with this corpus's numbers when known."""
    head = "A model that guesses uniformly among the V characters of the vocabulary scores"
    if vocab_size is None or vocab_size < 1:
        return f"{head} **ln(V)** nats."
    v = int(vocab_size)
    return f"{head} **ln(V)** nats: {math.log(v):.2f} for this corpus's V = {v}."


def boost_line(config: Config) -> str:
    """The help's sentence on the start-up boost, as `config` (the run's) has it: none when
    the trainer's own rule (`optim.lr_in_force`) gives the first step the plain rate."""
    if lr_in_force(1.0, 1, config.lr_boost, config.boost_steps) == 1.0:
        return (
            "This run takes its learning rate from the first step: no start-up boost (a lesson,"
            " `--lr` typed alone, or `--lr-boost 1`)."
        )
    return (
        f"The first {config.boost_steps} steps take up to {config.lr_boost:g} times the learning"
        " rate, falling to it in a straight line (words come sooner); meanwhile the status line"
        " shows the rate in force. **+** and **-** change the rate it falls to."
    )


def help_markdown(vocab_size: int | None = None, config: Config | None = None) -> str:
    """The help text; `vocab_size`, when given, puts the corpus's own ln(V) in it, and
    `config` (the run's; default `Config()`) its start-up boost."""
    return f"""\
# What you are looking at

A small recurrent neural network reads the corpus one character at a time and learns to guess
the next character. The panes show how well it guesses, how the learning signal flows back
through time, and what it writes on its own.

The line at the top spells out what the model computes at every step t, for the cell being
trained: how the hidden state h_t is made from the previous state h_{{t-1}} and the current
character x_t (a one-hot vector), the probabilities p of the next character, and the loss.
With a lesson (`--preset`), the lesson's one line stands above it for the whole run.

## Loss pane

The loss is the average surprise of the model at the next character. At each step the model
gives every character of the vocabulary a probability, p = softmax(W_hy h_t + b_y), and the
loss is **-ln p(the character that really came next)**, averaged over the characters: the
**cross-entropy** between the text and the model's guesses. It is measured in **nats per
character** (natural log). Divide by ln 2 ≈ 0.693 to get **bits per character**: the number of
yes/no questions the model would still need, on average, to pin down each character.

* {uniform_line(vocab_size)} The grey dotted line marks it on the
  chart. Anything below that means the model has learned something.
* The **train** curve (a solid line) is the smoothed loss on the text it is learning from.
* The **held-out** curve (a line of beads •; in a large window also the big figure above the
  chart) is the loss on text it never trains on. That is the honest number: if train keeps
  falling while held-out stalls or rises, the model is memorising instead of generalising
  (overfitting).
* With `--compare`, each run has a colour of its own: its solid line is its training loss,
  its beads its held-out loss.
* The blue dotted line labelled **counting** is the held-out loss of the best n-gram model of
  this text (a table of which character follows the last n-1): below it, the network beats
  counting. On a long-lag corpus the axis is logarithmic and two more lines mark the floors:
  **forgets the key** (2 ln K / L, for K keys and lines of L characters: a model that counts
  the filler but cannot carry the key) and **recalls the key** (ln K / L: only each line's
  first key stays unpredictable).

## Gradient pane

Training uses backpropagation through time: the network makes a guess, and so has a loss, at
every step of a window of T steps, and each loss sends a learning signal (a gradient) back to
the hidden states h_t of the steps before it. The pane shows how big that signal is at each
step t = 1 … T (oldest on the left, newest on the right). Each of the streams of text trained
at once (`--batch` of them) sends back a signal of its own; the pane shows their average, on
the scale of one stream. Its measures are all gradients of the losses themselves, each loss
counted once, so they share one scale.

* Under the profile, where there is room, one line says what a window is: "truncated BPTT:
  T = 32, state carried across windows". The gradient stops at the start of the window (that
  is the truncation), while the hidden state runs on into the next window. When every line of
  the text starts from a zero state (`--preset vanishing`, `lstm-rescue`), it says "state
  reset at each line" instead.
* **grad_t** (the muted bars, █ in the key): the gradient of the **sum of all T losses** of the
  window, at h_t. Every loss from step t on reaches h_t, so the early steps collect more of
  them: bars that **rise towards the left are normal** in healthy training, not a warning.
* **grad_last_t** (the bold dotted line, ⠶ in the key): the gradient of **the last step's loss
  alone** (the loss at t = T), carried back to h_t. It is one of the terms in grad_t's sum. At
  t = T no other loss reaches, so there the two are the same number and the line caps the bar.
  The line is drawn in braille dots, four heights to a text row, so small steps still show.
* **dL/dc_t** (LSTM only: the thin dotted line, ⠒ in the key): the gradient at the LSTM's
  **cell state** c_t, of the same sum of all T losses as grad_t and on the same scale. The
  cell state is the LSTM's memory lane: from c_t back to c_(t-1) the gradient is only
  multiplied by the forget gate f_t, with no squashing derivative (no tanh slope) and no
  weight matrix on the way, so with forget gates near 1 it crosses many steps where a plain
  RNN's gradient fades.
* The vertical axis is **logarithmic**: each labelled decade (1e-3, 1e-2, …) is ten times the one
  below it. A straight slope means the signal shrinks or grows by the same factor at every step.
* **Read vanishing and exploding gradients from the grad_last_t line**, right to left: it shows
  what is left of one loss's signal after travelling back from step T to step t. A line that
  **falls away** to the left by several decades means the gradient **vanishes**: the first
  steps of the window hear almost nothing from the last one, so the network cannot learn
  dependencies that long. A line that **climbs** to the left means it **explodes**: one bad
  update can wreck the weights.
* **ratio g_last[1]/g_last[T]** says the same in one number: the line's first point divided by
  its last. The closer to 1, the further back the signal reaches; 1e-8 means the first step
  gets a hundred-millionth of what the last step gets (vanishing); far above 1 means it
  explodes.
* **g[key]/g[=]** (long-lag corpora only) is that ratio for the one loss that needs a memory:
  the key after `=`. It compares how strongly that prediction depends on the input at the
  key with how strongly it depends on the `=` just before it. Near 0: the key is forgotten.
* **Gradient clipping** guards against explosions: when |g|, the norm of the gradient of all
  the weights together, exceeds the clip value ("clip at 5"), it is scaled down. The header
  says how often that happened: "clipped 37% of the last 100 steps". Clipped most of the
  time, the threshold or the learning rate is too high for this model.
* When there are more timesteps than columns, several steps share one column (their largest
  value is drawn) and the pane says "each column = N steps". "!" marks NaN/inf values.
* The **heat strip** underneath shows grad_last_t over the **whole run**, in the same columns
  as the profile: the run's first step at the top ("▼ step 1") and the newest at the bottom
  ("▲ step 10,000"), two rows to a line of text. As the run grows, neighbouring rows are
  merged (averaged on the log scale), so the whole run always fits. Its colours use the
  **same log scale as the bars**, as its legend says: bright is large, dark is small, NaN/inf
  has a colour outside the scale, and an end of the legend marked "≤" or "≥" also holds older
  values beyond the bars' range. It shows how far back the signal reached as training went on.
* Why it happens: for a plain RNN the signal is multiplied by the recurrent weight matrix W_hh
  (and the tanh slopes) once per step. The pane shows the spectral norm ‖W_hh‖₂, the most
  any vector can be stretched by W_hh. Below 1 the gradient must vanish, since the tanh slopes
  are at most 1 too. Above 1 it may explode (a sudden spike of |g| and the loss), though
  saturated tanh units often still shrink it. LSTM and GRU cells add gates and an additive
  memory path that keep the gradient alive over many more steps: try `rnn-tui --preset
  lstm-rescue`, and press `l` to switch cells.

## Inside the cell (w)

**w** puts another view in the gradient pane's place, and **w** again goes on: gradients,
spectrum, gates (a lone vanilla RNN has no gates, so its cycle skips them).

* **Spectrum**: the eigenvalues λ of the recurrent matrix, drawn as points against the unit
  circle: W_hh for the RNN; for the LSTM and the GRU, the recurrent block of the candidate
  state (W_hg, the LSTM's g; U_n, the GRU's n). Above them, the spectral radius ρ (the largest
  |λ|) and the spectral norm (the largest singular value, the most the matrix stretches any
  vector). Eigenvalues outside the unit circle mean that repeated multiplication by the matrix
  grows some directions (gradients can explode); inside it they shrink (gradients vanish).
* **Gates** (LSTM, GRU): for each gate, the share of its values below 0.1 and above 0.9, and a
  small histogram of its values from 0 to 1, over 512 characters of held-out text. Saturated
  gates (near 0 or 1) pass or block rather than mix. The LSTM's forget gate values near 1 are
  what carries its gradient back: from c_t to c_(t-1) the gradient is multiplied by f_t alone.

Both are computed from each new copy of the weights (every 2 s), in the background.

## Sample pane

Every so often the model writes text on its own, one character at a time, drawing each next
character from its predicted probabilities. The **temperature** τ reshapes those
probabilities: the model's scores z = W_hy h_t + b_y are divided by τ before the softmax,
**p = softmax(z / τ)**. τ = 1 samples the model as it is; low (e.g. 0.5) sharpens p towards
the likeliest characters, conservative and repetitive; high (e.g. 1.2) flattens it, with more
variety and more mistakes. Control characters from the
corpus are shown as symbols such as ␛ (escape), ␉ (tab) or ␍ (carriage return).

A **prime** (**P**, or `--prime TEXT`) is a start you choose: the model reads it into its
hidden state first, and every sample continues it, shown dimmed before the generated text.

## Probe pane

Press **i** to look inside the model: type or paste a text into the input line, then Enter
or Tab to reach the text, where the arrow keys move the cursor; **Esc** closes it. Or press
**g** for a random passage of the held-out text, **y** for the sample being typed: with the
probe closed, or from the text (in the input line they are letters like any other).

* **Surprise**: each character is shaded by its **surprisal**, -log2 p(character | everything
  before it), in **bits**. 0 bits (no shade): the model was sure of it; 1 bit: as surprised as
  by a coin toss; log2 V, the deepest red: what a model that knows nothing pays. The header
  gives the mean, the passage's **bits per character**; the bottom line gives the cursor
  character's surprisal and the model's top-5 guesses for that place. As the model learns and
  new weights arrive, the shading fades.
* **Looking back** (**b** switches): for the character under the cursor, each earlier
  character s is shaded by how strongly it still steers that prediction: the size of the
  gradient of log p(the cursor's character) with respect to the input at step s, relative to
  the largest, on a log scale (deep blue: 1, the largest; no shade: below 1e-4). Where the
  shading fades is how far back the model's memory reaches. On `--preset lstm-rescue`, put the
  cursor on the letter after `=`: to predict it, a model must reach back to the first letter
  of the line, 80 characters earlier.
* **One unit** (**b** again, or **v**): each character is coloured by one hidden unit's value
  h_t[unit] after reading it (the LSTM's h_t, not its cell c_t), -1 blue .. +1 red as in the
  neuron view; **[** / **]** choose the unit and **m** the one that varies most over the text,
  each model its own in compare mode.
* Characters the model has never seen are struck through and skipped. A text longer than
  4,000 characters keeps its end, and the header says it was cut.

## Lessons (--preset)

{preset_lines()}

## Keys

Click a pane (loss, gradients, samples) to fill the screen with it; **Esc** gives the others back.

{help_table()}

{boost_line(config or Config())}

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
        f"\n\nWith clipping off, a step whose |g| exceeds {BLOWUP_NORM:,.0f}, or that leaves the"
        f" norm of all the weights more than {WEIGHTS_JUMP:g} times what it was, is a blow-up:"
        " the training pauses there, so the exploded profile stays on screen, and the status line"
        " names the step, |g| and the weights' norm. Press **c** to clip, then **r** to start"
        " again (once per reset; **space** goes on without clipping)."
        "\n\nOn a long-lag corpus the status line shows each model's key recall at every"
        " evaluation: how often its likeliest character after `=` is the line's key, on"
        " held-out lines, next to chance (1 in the number of keys)."
    )


HELP_MARKDOWN = help_markdown()  # the text without a corpus's numbers


class HelpText(Static):
    """The help's Markdown, rendered by Rich into this one widget. Textual's Markdown widget
    builds a widget per block: 3x as slow to open (0.6-1.6 s for this text)."""

    def __init__(self, source: str, id: str | None = None) -> None:  # noqa: A002 - Textual's
        super().__init__(Markdown(source), id=id)
        self.source = source  # the Markdown text shown


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
    HelpScreen #help-text {
        margin: 0;
        padding: 0;
    }
    """

    def __init__(self, vocab_size: int | None = None, config: Config | None = None) -> None:
        """`vocab_size`: the corpus's V, so the help can give its ln(V); None leaves it out.
        `config`: the run's settings, for its start-up boost (None: the defaults')."""
        super().__init__()
        self.vocab_size = vocab_size
        self.config = config

    def compose(self) -> ComposeResult:
        """A scrollable box with the help text."""
        with VerticalScroll(id="help-box") as box:
            box.border_title = "rnn-tui help"
            keys = spelled(self, "↑/↓ or PgUp/PgDn to scroll · ?, Esc or q to close")
            yield Static(keys, id="help-footer")
            text = spelled(self, help_markdown(self.vocab_size, self.config))
            yield HelpText(text, id="help-text")

    def on_mount(self) -> None:
        """Focus the scroll box so arrow keys scroll the help."""
        self.query_one("#help-box", VerticalScroll).focus()

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
