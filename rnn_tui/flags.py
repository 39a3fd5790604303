"""What the command line accepts: every flag of `rnn-tui`, its help and its default, and how
parsed flags become the engine's settings (`Config`, `SampleSettings`). `cli.py` does what
they ask.

Pure Python, like everything the command line imports before the app's first frame.
"""

from __future__ import annotations

import argparse
import codecs
import math

from rnn_tui.attach_cli import add_listen_flags
from rnn_tui.engine.config import CELL_NAMES, CLIP_MODES, DTYPES, OPTIMIZERS, Config
from rnn_tui.engine.longlag import DEFAULT_LAG
from rnn_tui.engine.presets import PRESETS
from rnn_tui.engine.sample_settings import MAX_PRIME, SampleSettings, read_prime
from rnn_tui.errors import OneLineParser

DEFAULTS = Config()  # the engine's settings, as --help shows them
SAMPLING = SampleSettings()  # the sampler's, likewise
MIN_LAG, MAX_LAG = 1, 1000  # --lag: at least one filler character; lines of at most ~1 KB


def _unescape(text: str) -> str:
    """'\\n' as typed in a shell becomes a newline; other backslash escapes likewise."""
    try:
        return codecs.decode(text, "unicode_escape")
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"cannot read the escapes in {text!r}") from None


def _seconds(text: str) -> float:
    """--seconds: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a number of seconds (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0 (got {text!r})")
    return value


def _prime(text: str) -> str:
    try:
        return read_prime(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _default(text: str) -> str:
    """A flag's help with its default: shown only where it says something (a number, a
    name), not for the flags that are off or unset until typed."""
    return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    d = DEFAULTS
    p = OneLineParser(
        prog="rnn-tui",
        description="Watch a character-level recurrent network learn a text file, live.",
        epilog="exit codes: 0 done, 1 diverged, crashed or a checkpoint could not be written,"
        " 2 bad input, 130/129/143 stopped by SIGINT/SIGHUP/SIGTERM (after saving)",
    )
    p.add_argument("path", nargs="?", help="a UTF-8 text file to learn, e.g. corpora/tiny.txt")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a one-command lesson: "
        + "; ".join(f"{name}: {pr.summary}" for name, pr in sorted(PRESETS.items())),
    )
    p.add_argument(
        "--compare",
        metavar="CELL,CELL",
        help="train two cells side by side on the same batches, e.g. rnn,lstm",
    )
    p.add_argument("--headless", action="store_true", help="train without the UI, print progress")
    p.add_argument("--steps", type=int, default=2000, help=_default("training steps (headless)"))
    p.add_argument(
        "--lag",
        type=int,
        metavar="N",
        help=f"with --preset vanishing or lstm-rescue: N filler characters between the key and"
        f" its recall (default {DEFAULT_LAG}; {MIN_LAG}..{MAX_LAG}); short lags the RNN copes"
        " with, long ones it cannot; the BPTT window follows (N + 4) unless --seq-len is typed",
    )
    p.add_argument(
        "--seconds",
        type=_seconds,
        metavar="S",
        help="headless only: train for S seconds instead of a step count; with --steps"
        " typed too, whichever limit is reached first stops",
    )
    p.add_argument(
        "--cell",
        choices=CELL_NAMES,
        default=d.cell,
        help=_default(
            "recurrent cell; the defaults shown are the rnn's, lstm and gru have their own"
        ),
    )
    p.add_argument("--hidden", type=int, default=d.hidden, help=_default("hidden units H"))
    p.add_argument("--seq-len", type=int, default=d.seq_len, help=_default("BPTT window T"))
    p.add_argument(
        "--batch", type=int, default=d.batch, help=_default("streams B trained together")
    )
    p.add_argument("--lr", type=float, default=d.lr, help=_default("learning rate"))
    p.add_argument(
        "--lr-boost",
        type=float,
        default=d.lr_boost,
        help=_default(
            f"the first step takes this many times --lr, falling to --lr over {d.boost_steps}"
            " steps (words come sooner); 1 turns it off, as does --lr given alone"
        ),
    )
    p.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=d.optimizer, help=_default("optimizer")
    )
    p.add_argument("--clip", type=float, default=d.clip, help=_default("clipping threshold"))
    p.add_argument(
        "--clip-mode", choices=CLIP_MODES, default=d.clip_mode, help=_default("clipping")
    )
    p.add_argument(
        "--init-gain", type=float, default=d.rec_gain, help=_default("scale of W_hh at init")
    )
    p.add_argument("--seed", type=int, default=d.seed, help=_default("random seed"))
    p.add_argument(
        "--temperature",
        type=float,
        default=SAMPLING.temperature,
        help=_default("sampling temperature"),
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=SAMPLING.top_k,
        help=_default("sample from the k likeliest; 0=all"),
    )
    p.add_argument(
        "--sample-len",
        type=int,
        default=SAMPLING.sample_len,
        help=_default("characters per sample"),
    )
    p.add_argument(
        "--prime",
        type=_prime,
        metavar="TEXT",
        help="every sample continues TEXT, shown dimmed before it: the model reads it first, so"
        " you see how it goes on from a start you choose; '\\n' is a newline; at most"
        f" {MAX_PRIME} characters, all of them in the corpus (else exit 2); P changes it in the"
        " app",
    )
    p.add_argument(
        "--dtype", choices=DTYPES, default=d.dtype, help=_default("floating-point precision")
    )
    p.add_argument(
        "--reset-at",
        type=_unescape,
        default=d.reset_at,
        metavar="CHARS",
        help="reset the hidden state after these characters, e.g. '\\n' for every line",
    )
    p.add_argument(
        "--eval-every", type=int, default=d.eval_every, help=_default("steps between evaluations")
    )
    p.add_argument(
        "--metrics",
        metavar="FILE",
        help="append JSON lines of metrics to FILE (its folder must exist)",
    )
    p.add_argument(
        "--log-every", type=int, default=10, help=_default("steps between metrics lines")
    )
    p.add_argument(
        "--record",
        metavar="DIR",
        help="record the run into the new or empty folder DIR as it goes (settings, metrics,"
        " samples, weights now and then); `rnn-tui replay DIR` plays it back",
    )
    p.add_argument(
        "--autosave",
        metavar="CHECKPOINT",
        help="save here when the run ends: the app quits, a headless run finishes, or either is"
        " stopped by Ctrl-C, SIGTERM or SIGHUP; its folder must exist",
    )
    p.add_argument(
        "--high-contrast", action="store_true", help="app: black on white, for projectors (h)"
    )
    p.add_argument(
        "--ascii",
        action="store_true",
        help="app: ASCII characters only (no box-drawing, block or braille characters), for"
        " consoles and fonts that lack them; NO_COLOR=1 in the environment drops the colours",
    )
    p.add_argument(
        "--export-dir",
        metavar="DIR",
        help="app: on quit and on the e key, write loss.csv, metrics.jsonl, samples.txt and"
        " checkpoint.npz here",
    )
    p.add_argument("--load", metavar="CHECKPOINT", help="resume from a checkpoint (.npz)")
    p.add_argument(
        "--probe",
        metavar="TEXT",
        help="with --load: print each character's surprisal (bits) and the model's top-5"
        " guesses for it, and how far back its last prediction looks; trains nothing, PATH"
        " may be left out",
    )
    p.add_argument("--json", action="store_true", help="--probe: print one JSON object")
    p.add_argument(
        "--save",
        metavar="CHECKPOINT",
        help="checkpoint path: written at the end of a headless run (also on Ctrl-C, SIGTERM or"
        " SIGHUP) or by the s key (app); its folder must exist",
    )
    # The browser view (rnn_tui.ui.serve): each connection runs the app with the other flags.
    web = p.add_argument_group("browser view")
    web.add_argument("--serve", action="store_true", help="serve the app to web browsers")
    web.add_argument("--host", default="127.0.0.1", help=_default("--serve: address to listen on"))
    web.add_argument("--port", type=int, default=8000, help=_default("--serve: port to listen on"))
    web.add_argument(
        "--allow-origin",
        action="append",
        dest="allow_origin",
        metavar="ORIGIN",
        help="--serve: also accept sessions from pages of ORIGIN (e.g. a proxy's"
        " https://rnn.example.com); repeatable",
    )
    web.add_argument(
        "--max-sessions",
        type=int,
        default=3,
        metavar="N",
        help=_default(
            "--serve: browser sessions (each its own trainer, or a viewer with --shared) at once"
        ),
    )
    web.add_argument(
        "--shared",
        action="store_true",
        help="--serve: one trainer for every session, each attached read-only (rnn-tui attach)",
    )
    add_listen_flags(p)
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        cell=args.cell,
        hidden=args.hidden,
        seq_len=args.seq_len,
        batch=args.batch,
        lr=args.lr,
        lr_boost=args.lr_boost,
        optimizer=args.optimizer,
        clip=args.clip,
        clip_mode=args.clip_mode,
        rec_gain=args.init_gain,
        seed=args.seed,
        dtype=args.dtype,
        eval_every=args.eval_every,
        reset_at=args.reset_at,
    )


def sampling_from_args(args: argparse.Namespace) -> SampleSettings:
    return SampleSettings(args.temperature, args.top_k, args.sample_len, args.prime or "")
