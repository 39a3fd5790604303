"""What makes the app's trainer processes, and the settings they need. A light module (no
Textual, no NumPy): the command line makes and starts the first trainer before it loads the UI
(`launch.py`), the app makes any later one (a new cell)."""

from __future__ import annotations

import os
from collections.abc import Callable

from rnn_tui.run.source import RunSource, TrainerProcess
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.settings import UISettings

SourceFactory = Callable[[RunSpec], RunSource]


def prepared(settings: UISettings) -> UISettings:
    """`settings` as the trainer needs them: an export folder (made here) gets the metrics."""
    if settings.export_dir and not settings.metrics_path:
        os.makedirs(settings.export_dir, exist_ok=True)
        return settings.with_(metrics_path=os.path.join(settings.export_dir, "metrics.jsonl"))
    return settings


def trainer_sources(
    settings: UISettings,
    record: str | None = None,
    wrap: Callable[[RunSource], RunSource] | None = None,
) -> SourceFactory:
    """What makes the app's trainer processes, the first and any later one (a new cell):
    each records into `record` (--record) and is wrapped by `wrap` (--listen publishes)."""

    def new_source(spec: RunSpec) -> RunSource:
        made = TrainerProcess(
            spec, settings.log_path, settings.metrics_path, settings.log_every, record
        )
        return made if wrap is None else wrap(made)

    return new_source
