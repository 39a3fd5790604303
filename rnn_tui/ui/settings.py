"""The app's own settings: how it samples and where it writes. None of them is the model's."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rnn_tui.engine.sample_settings import SampleSettings


@dataclass(frozen=True)
class UISettings:
    """What the command line gives the app besides the run itself."""

    sampling: SampleSettings = field(default_factory=SampleSettings)  # temperature, top-k...
    high_contrast: bool = False  # start in the projector theme (h toggles it)
    save_path: str | None = None  # where `s` saves; None: a name from the corpus and step
    autosave_path: str | None = None  # saved on quit, SIGTERM, SIGHUP and SIGINT
    export_dir: str | None = None  # loss, metrics, samples and a checkpoint go here (e)
    metrics_path: str | None = None  # the trainer appends JSON lines of metrics here
    log_every: int = 10  # steps between two metrics lines
    log_path: str | None = None  # where the trainer's tracebacks go; None: a temp file
    banner: str = ""  # a preset's lesson, shown in the status line until another notice
    ascii_only: bool = False  # --ascii: no box-drawing, block or braille characters (glyphs.py)

    def with_(self, **changes: Any) -> UISettings:
        return replace(self, **changes)
