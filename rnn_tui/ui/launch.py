"""Starting the app: its trainer process first, then Textual and the first frame.

This module loads no Textual, NumPy or model code, so the command line can start the trainer
before it loads the UI: the trainer (a new interpreter, see `TrainerProcess.start`) starts
Python and loads NumPy on the other core while this one loads Textual and draws the first
frame. It gets its arguments, reads the corpus and trains once the app first asks for
snapshots, so the first frame does not share this process's interpreter with pickling, nor
the trainer wait for the first frame longer than that.
"""

from __future__ import annotations

from collections.abc import Callable

from rnn_tui.engine.text import Vocab
from rnn_tui.run.source import RunSource
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.sources import prepared, trainer_sources


def run_app(
    spec: RunSpec,
    settings: UISettings,
    vocab: Vocab,
    record: str | None = None,
    wrap: Callable[[RunSource], RunSource] | None = None,
) -> int:
    """Start the trainer, then load the UI and run it until the user quits; the trainer
    process is stopped whatever happens. `record`: a folder the trainer records the run into
    (--record); `wrap`: see `trainer_sources`."""
    settings = prepared(settings)
    source = trainer_sources(settings, record, wrap)(spec)
    source.start(background=True)  # about a millisecond (see TrainerProcess.start)
    from rnn_tui.ui.app import make_app, run_to_end

    return run_to_end(
        make_app(spec, settings, source=source, vocab=vocab, record=record, wrap=wrap)
    )
