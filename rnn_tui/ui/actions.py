"""The one table of keys: the bindings, the footer, the command palette and the help screen's
key table are all built from `ACTIONS` (and a test holds the README's key table to it)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

LR_FACTOR = 1.5  # `+` and `-` multiply or divide the learning rate by this
TEMP_STEP = 0.1  # `t` and `T` change the temperature by this
SURPRISE, LOOKING_BACK, NEURON = "surprise", "looking back", "neuron"  # the probe's shadings
SHADINGS = (SURPRISE, LOOKING_BACK, NEURON)  # what `b` cycles through, in this order
SEEK_SHARE = 0.05  # a replay's ← / → move by this share of the recording
SEEK_PERCENT = round(100 * SEEK_SHARE)  # the same share, as the help says it


@dataclass(frozen=True)
class Action:
    """One thing a key does, with every name it is shown by."""

    shown: str  # the key as the help and the README show it: "+ / -", "space"
    what: str  # what it does, for the help's key table
    bindings: tuple[tuple[str, str], ...]  # (Textual key names, action) pairs
    footer: str = ""  # its label in the footer; "" keeps it out of the footer
    palette: tuple[tuple[str, str, str], ...] = ()  # (title, help, action) in the palette
    replay: bool = False  # only a replay carries it out: elsewhere it is not in the footer


# The footer shows the keys with a label in this order and cuts off what does not fit: q and ?
# come first, so that even 80 columns show how to get help; at 120 all of them fit.
ACTIONS: tuple[Action, ...] = (
    Action("q", "quit", (("q", "quit_app"),), "Quit"),
    Action(
        "?",
        "show / hide this help",
        (("question_mark,f1", "help"),),
        "Help",
        (("Help: what the panes show", "?", "help"),),
    ),
    Action(
        "space",
        "pause / resume training",
        (("space", "toggle_pause"),),
        "Pause",
        (("Pause / resume training", "space", "toggle_pause"),),
    ),
    Action(
        "n",
        "one training step while paused",
        (("n", "one_step"),),
        "Step",
        (("One training step", "n, while paused", "one_step"),),
    ),
    Action(
        "r",
        "reset the weights (start learning again); after the trainer process died, start a new"
        " one from the weights the app holds",
        (("r", "reset"),),
        "Reset",
        (("Reset the weights", "r: start learning again from scratch", "reset"),),
    ),
    Action(
        "+ / -",
        "raise / lower the learning rate",
        (("plus,equals_sign", "lr_up"), ("minus", "lr_down")),
        "LR",
        (
            ("Raise the learning rate", f"+: times {LR_FACTOR}", "lr_up"),
            ("Lower the learning rate", f"-: divided by {LR_FACTOR}", "lr_down"),
        ),
    ),
    Action(
        "t / T",
        "temperature down / up",
        (("t", "temp_down"), ("T,shift+t", "temp_up")),
        "Temp",
        (
            ("Lower the temperature", "t: safer samples", "temp_down"),
            ("Raise the temperature", "T: wilder samples", "temp_up"),
        ),
    ),
    Action(
        "P",
        "prime: the text every sample continues, shown dimmed (empty: none)",
        (("P,shift+p", "prime"),),
        palette=(("Prime the samples", "P: the text every sample continues", "prime"),),
    ),
    Action(
        "c",
        "cycle gradient clipping (norm / off)",
        (("c", "cycle_clip"),),
        "Clip",
        (("Cycle gradient clipping", "c: norm / off", "cycle_clip"),),
    ),
    Action(
        "l",
        "switch the cell: rnn, lstm, gru (a new model from the seed, with the cell's own H and"
        " lr unless you set them; a paused run stays paused)",
        (("l", "next_cell"),),
        "Cell",
        (("Switch the cell", "l: rnn, lstm, gru; a new model from the seed", "next_cell"),),
    ),
    Action(
        "s",
        "save a checkpoint",
        (("s", "save"),),
        "Save",
        (("Save a checkpoint", "s", "save"),),
    ),
    Action(
        "v",
        "neuron view: the sample coloured by one hidden unit (-1 blue, +1 red); in the probe, its"
        " text so coloured",
        (("v", "toggle_neurons"),),
        "Neurons",
        (("Neuron view on / off", "v: colour the sample by one hidden unit", "toggle_neurons"),),
    ),
    Action(
        "[ / ]",
        "neuron view (and the probe's neuron shading): previous / next unit",
        (("left_square_bracket", "unit(-1)"), ("right_square_bracket", "unit(1)")),
        palette=(
            ("Neuron view: previous unit", "[", "unit(-1)"),
            ("Neuron view: next unit", "]", "unit(1)"),
        ),
    ),
    Action(
        "m",
        "neuron view (and the probe's neuron shading): the unit whose value varies most",
        (("m", "most_varying_unit"),),
        palette=(("Neuron view: most varying unit", "m", "most_varying_unit"),),
    ),
    Action(
        "i",
        "probe pane: a text shaded by the model's surprise at each character (type, paste,"
        " or g / y); Esc closes it",
        (("i", "toggle_probe"),),
        palette=(
            ("Probe pane on / off", "i: how surprised the model is by a text", "toggle_probe"),
        ),
    ),
    Action("Esc", "close the probe pane", (("escape", "close_probe"),)),
    Action(
        "← / →",
        "probe: move the cursor (↑ / ↓ a row, Home / End); Enter or Tab leaves the input line;"
        f" replay only, probe closed: back / forward {SEEK_PERCENT}% of the recording",
        (("left", "replay_seek(-1)"), ("right", "replay_seek(1)")),
        "Seek",
        replay=True,
        palette=(
            ("Replay: back", f"←: {SEEK_PERCENT}% of the recording", "replay_seek(-1)"),
            ("Replay: forward", f"→: {SEEK_PERCENT}% of the recording", "replay_seek(1)"),
        ),
    ),
    Action(
        "b",
        "probe: shade by surprise, by looking back from the cursor, or by one hidden unit",
        (("b", "probe_shading"),),
        palette=(
            ("Probe: switch the shading", "b: surprise / looking back / unit", "probe_shading"),
        ),
    ),
    Action(
        "g",
        "probe: a random passage of the held-out text",
        (("g", "probe_held_out"),),
        palette=(("Probe: held-out text", "g: a random passage", "probe_held_out"),),
    ),
    Action(
        "y",
        "probe: the sample being typed",
        (("y", "probe_sample"),),
        palette=(("Probe: the sample being typed", "y", "probe_sample"),),
    ),
    Action(
        "w",
        "gradient pane: gradients, the eigenvalues of the recurrent matrix against the unit"
        " circle, the gates' saturation (LSTM, GRU)",
        (("w", "inside_view"),),
        palette=(
            (
                "Inside the cell: next view",
                "w: gradients / spectrum / gates",
                "inside_view",
            ),
        ),
    ),
    Action(
        "h",
        "high contrast for projectors",
        (("h", "toggle_contrast"),),
        "Contrast",
        (("High contrast for projectors", "h", "toggle_contrast"),),
    ),
    Action(
        "p",
        "save an SVG screenshot (into --export-dir, or here)",
        (("p", "screenshot"),),
        "Shot",
        (("Save a screenshot (SVG)", "p", "screenshot"),),
    ),
    Action(
        "e",
        "export loss.csv, metrics.jsonl, samples.txt and a checkpoint (--export-dir)",
        (("e", "export"),),
        palette=(("Export loss, metrics, samples and model", "e: to --export-dir", "export"),),
    ),
    Action(
        "< / >",
        "replay only: slower / faster (half / twice the speed)",
        (
            ("less_than_sign,comma", "replay_speed(0.5)"),
            ("greater_than_sign,full_stop", "replay_speed(2)"),
        ),
        "Speed",
        replay=True,
        palette=(
            ("Replay: slower", "<: half the speed", "replay_speed(0.5)"),
            ("Replay: faster", ">: twice the speed", "replay_speed(2)"),
        ),
    ),
    Action(
        "j",
        "replay only: jump to a step (asks for its number)",
        (("j", "replay_go_to"),),
        "Jump",
        replay=True,
        palette=(("Replay: jump to a step", "j", "replay_go_to"),),
    ),
    Action("ctrl+p", "command palette: every action above, searchable by name", ()),
)


# The actions only a replay carries out, by name (parameters left out, as `check_action` gets them).
REPLAY_ACTIONS = frozenset(
    action.split("(")[0] for a in ACTIONS if a.replay for _, action in a.bindings
)


def bindings() -> list[Binding]:
    """The app's key bindings, footer labels included, in the table's order."""
    out = []
    for a in ACTIONS:
        for i, (keys, action) in enumerate(a.bindings):
            first = i == 0
            display = a.shown.replace(" ", "") if first and len(a.bindings) > 1 else None
            out.append(
                Binding(
                    keys,
                    action,
                    a.footer if first and a.footer else a.what,
                    show=bool(a.footer) and first,
                    key_display=display,
                )
            )
    # Ctrl+C quits too, before anything else may take it (Screen has its own copy).
    out.insert(1, Binding("ctrl+c", "quit_app", "Quit", show=False, priority=True))
    return out


def palette() -> list[tuple[str, str, str]]:
    """(title, help, action) of every command the palette offers."""
    return [entry for a in ACTIONS for entry in a.palette]


def help_table() -> str:
    """The help screen's key table, in Markdown."""
    rows = ["| key | action |", "| --- | --- |"]
    rows += [f"| {a.shown} | {a.what} |" for a in ACTIONS]
    return "\n".join(rows)
