"""`rnn-tui replay DIR`: the app, fed from a recording (--record DIR) instead of a trainer.

Every mistake (no such folder, not a recording, a newer format, nothing complete in it) ends
as one line on stderr and exit code 2, raised as a UserError for `cli.main` to print.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.engine.text import Vocab
from rnn_tui.errors import OneLineParser, UserError
from rnn_tui.run.record import read_recording
from rnn_tui.run.replay import MAX_SPEED, MIN_SPEED, ReplaySource
from rnn_tui.run.spec import GENERATED, RunSpec
from rnn_tui.textsafe import sanitize

if TYPE_CHECKING:
    from rnn_tui.ui.app import RnnApp


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a number, e.g. 2 (got {text!r})") from None
    if not math.isfinite(value) or not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_SPEED:g} and {MAX_SPEED:g} (got {text!r})"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="rnn-tui replay",
        description="Play back a run recorded with --record DIR: the same app, as a time-lapse."
        " Space pauses, < and > change the speed, the arrow keys move back and forward,"
        " j jumps to a step.",
    )
    p.add_argument("folder", metavar="DIR", help="a folder written by --record")
    p.add_argument(
        "--speed",
        type=_speed,
        metavar="X",
        help="play at X times the recorded pace (default: 1, or faster for a run longer than"
        " two minutes, so that it plays in about two)",
    )
    p.add_argument(
        "--high-contrast", action="store_true", help="black on white, for projectors (h)"
    )
    return p


def make_replay_app(folder: str, speed: float | None = None, high_contrast: bool = False) -> RnnApp:
    """The app on the recording in `folder`, exactly as `rnn-tui replay` builds it."""
    recording = read_recording(folder)
    configs = tuple(r.config for r in recording.runs)
    corpus = None if recording.corpus == GENERATED else recording.corpus
    spec = RunSpec(corpus, configs, lag=recording.lag)
    if len(set(recording.vocab)) != len(recording.vocab):
        raise UserError(f"cannot replay {sanitize(folder)}: its vocabulary repeats")
    source = ReplaySource(recording, speed)

    from rnn_tui.ui.app import make_app
    from rnn_tui.ui.settings import UISettings

    settings = UISettings(sampling=SampleSettings(), high_contrast=high_contrast)
    return make_app(spec, settings, source=source, vocab=Vocab(recording.vocab))


def run_replay(argv: Sequence[str]) -> int:
    """Open the app on the recording in `argv`'s folder until the user quits."""
    from rnn_tui.ui.app import run_to_end

    args = build_parser().parse_args(argv)
    return run_to_end(make_replay_app(args.folder, args.speed, args.high_contrast))
