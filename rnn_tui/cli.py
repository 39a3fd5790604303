"""Command line: `rnn-tui PATH` opens the app; `--headless` trains in the terminal without it.

Every user mistake ends here as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rnn_tui import startup
from rnn_tui.attach_cli import listen_plan, run_app_listening
from rnn_tui.engine.config import (
    CELL_NAMES,
    Config,
    SettingError,
    defaults_for,
)
from rnn_tui.engine.longlag import DEFAULT_LAG, line_length
from rnn_tui.engine.presets import PRESETS
from rnn_tui.engine.sample_settings import SampleSettings, prime_problem
from rnn_tui.errors import UserError
from rnn_tui.flags import MAX_LAG, MIN_LAG, build_parser, config_from_args, sampling_from_args
from rnn_tui.run.outputs import cell_paths, check_output
from rnn_tui.run.spec import RunSpec, check_spec
from rnn_tui.textsafe import sanitize
from rnn_tui.ui.serve.session import watch_server

if TYPE_CHECKING:
    from rnn_tui.run.address import ListenPlan

# Only what every command needs is imported above: the app draws its first frame before NumPy
# and the model code are loaded, so what needs them is imported where it is used.


def check_prime(prime: str, chars: tuple[str, ...]) -> None:
    """Refuse a --prime the model cannot read: characters the corpus never has."""
    if (problem := prime_problem(prime, chars)) is not None:
        raise UserError(f"--prime: {problem}")


def _typed(argv: Sequence[str], parser: argparse.ArgumentParser) -> set[str]:
    """Destinations of the options the user actually typed (a checkpoint keeps the others).

    argparse gives an option its default only when the namespace lacks the attribute, and sets
    it when the option is given (both documented). So `argv` is parsed once more into a
    namespace that already holds every destination and notes each one set. Positional
    arguments are set even when absent: those an empty command line sets are left out.
    """
    names = set(vars(parser.parse_args(argv)))

    class Noting(argparse.Namespace):
        def __init__(self) -> None:
            super().__init__()
            self.__dict__.update(dict.fromkeys(names), set_by_parse=set())

        def __setattr__(self, name: str, value: Any) -> None:
            self.set_by_parse.add(name)
            super().__setattr__(name, value)

    def set_by(words: Sequence[str]) -> set[str]:
        return parser.parse_args(words, namespace=Noting()).set_by_parse & names

    return set_by(argv) - set_by([])


# Config field for each flag destination that differs in name.
_FIELD = {"init_gain": "rec_gain"}


PROGRESS_FROM = 32 * 2**20  # corpora of this many bytes or more show progress while read


def _progress(path: str) -> Callable[[int, int], None] | None:
    """A progress line on stderr while a large corpus is read (a 200 MB file takes seconds)."""
    try:
        if os.path.getsize(path) < PROGRESS_FROM:
            return None
    except OSError:
        return None  # load_corpus says what is wrong with it
    shown = sanitize(path)

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(
            f"\rrnn-tui: reading {shown}: {100 * done // max(total, 1)}%",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return show


def _compare_cells(text: str) -> tuple[str, str]:
    cells = tuple(c.strip() for c in text.split(","))
    if len(cells) != 2 or len(set(cells)) != 2 or not set(cells) <= set(CELL_NAMES):
        raise UserError(
            f"--compare takes two different cells from {', '.join(CELL_NAMES)}, e.g. rnn,lstm"
            f" (got {text!r})"
        )
    return cells[0], cells[1]


def make_spec(args: argparse.Namespace, typed: set[str]) -> RunSpec:
    """The run the flags ask for: one model, or two with --compare; fresh, or from --load."""
    if args.log_every < 1:
        raise UserError(f"--log-every must be >= 1 (got {args.log_every})")
    if args.steps < 0:
        raise UserError(f"--steps must be >= 0 (got {args.steps})")
    preset = PRESETS[args.preset] if args.preset else None
    if args.path is None and (preset is None or preset.corpus is None):
        raise UserError("give a text file to learn, e.g. rnn-tui corpora/tiny.txt")
    lag = DEFAULT_LAG
    if args.lag is not None:
        if preset is None or preset.corpus != "longlag":
            raise UserError("--lag sets the long-lag corpus of --preset vanishing or lstm-rescue")
        if not MIN_LAG <= args.lag <= MAX_LAG:
            raise UserError(f"--lag must be {MIN_LAG}..{MAX_LAG} (got {args.lag})")
        lag = args.lag
    config = config_from_args(args)
    fields = {_FIELD.get(d, d) for d in typed} & set(config.to_json())  # what the user typed
    if "lr" in fields and "lr_boost" not in fields:  # --lr alone: that rate from the first step
        config, fields = config.with_(lr_boost=1.0), fields | {"lr_boost"}
    if preset is not None:  # the preset's choices, but what the user typed wins
        changes = dict(preset.changes)
        if preset.corpus == "longlag":
            changes["seq_len"] = line_length(lag)  # one window holds one whole line
        config = Config().with_(**changes).with_(**{f: getattr(config, f) for f in fields})
    compare = _compare_cells(args.compare) if args.compare else None
    if compare is None and preset is not None and "cell" not in fields:
        compare = preset.compare
    if compare is not None and args.load:
        raise UserError("--load resumes one model; it cannot be combined with --compare")
    if args.load:  # the checkpoint's settings, but what the user typed wins
        from rnn_tui.engine.checkpoint import load_checkpoint

        saved = load_checkpoint(args.load).config
        config = saved.with_(**{f: getattr(config, f) for f in fields})
    own = preset.per_cell if preset is not None else {}  # per-cell settings, unless typed
    keep = preset is not None or bool(args.load)  # a preset or a checkpoint keeps its settings

    def for_cell(cell: str) -> Config:
        """`cell`'s settings: the preset's or the checkpoint's, else the cell's own defaults
        (`CELL_DEFAULTS`); what the user typed wins either way."""
        if keep:
            return config.with_(
                cell=cell, **{k: v for k, v in own.get(cell, {}).items() if k not in fields}
            )
        return defaults_for(cell).with_(**{f: getattr(config, f) for f in fields - {"cell"}})

    if compare is None:
        configs = (config if keep else for_cell(config.cell),)
    else:
        configs = tuple(for_cell(c) for c in compare)
    return RunSpec(args.path, configs, load=args.load, lag=lag)


def _flag_names(error: SettingError) -> UserError:
    """A setting's error as the command line says it: `seq_len` is `--seq-len`."""
    flag = {"rec_gain": "init-gain"}.get(error.name, error.name).replace("_", "-")
    if flag in {"val-fraction", "eval-chars", "smoothing", "boost-steps"}:  # no flag: saved
        return error
    return UserError(f"--{flag} {error.detail}")


def _probe(args: argparse.Namespace) -> int:
    """--probe: look inside the --load model and print what it sees; nothing is trained."""
    if args.load is None:
        raise UserError("--probe needs --load CHECKPOINT, the model to probe")
    for flag, given in (("--serve", args.serve), ("--compare", args.compare)):
        if given:
            raise UserError(f"--probe prints and exits; it cannot be combined with {flag}")
    from rnn_tui.run.probe_cli import run_probe_cli

    return run_probe_cli(args.load, args.probe, json_out=args.json)


def run(argv: Sequence[str]) -> int:
    if argv[:1] == ["replay"]:  # `rnn-tui replay DIR`: a recorded run, played back
        from rnn_tui.replay_cli import run_replay

        return run_replay(argv[1:])
    if argv[:1] == ["attach"]:  # rnn-tui attach [HOST:]PORT: its own flags
        from rnn_tui.attach_cli import run_attach

        return run_attach(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.probe is not None:
        return _probe(args)
    if args.json:
        raise UserError("--json goes with --probe")
    try:
        typed = _typed(argv, parser)
        spec = make_spec(args, typed)
        sampling = sampling_from_args(args)
    except SettingError as exc:
        raise _flag_names(exc) from None
    if args.export_dir:
        try:
            os.makedirs(args.export_dir, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use --export-dir {args.export_dir}: {exc.strerror}") from None
        if not os.access(args.export_dir, os.W_OK):
            raise UserError(f"cannot write to --export-dir {args.export_dir}")
    # Refuse now a file that could not be written at the end, not after a long run.
    cells = [c.cell for c in spec.configs]
    for flag, path in (("--save", args.save), ("--autosave", args.autosave)):
        for p in cell_paths(path, cells) if path else []:
            check_output(flag, p)
    if args.metrics:
        check_output("--metrics", args.metrics)
    if args.record is not None:
        if args.serve:  # every browser session would record into the same folder
            raise UserError("--record records one run; it cannot be combined with --serve")
        from rnn_tui.run.record import check_record_folder

        check_record_folder(args.record)
    progress = _progress(args.path) if args.path else None
    if args.seconds is not None and not args.headless:
        raise UserError("--seconds is a time budget for --headless runs; add --headless")
    listen = listen_plan(args)
    if args.headless and not args.serve:  # serve() refuses the two together
        steps = args.steps if args.seconds is None or "steps" in typed else None
        return _headless(spec, args, sampling, progress, steps, listen)
    vocab = check_spec(spec, progress)  # the trainer process reads the ids; this one need not
    check_prime(sampling.prime, vocab.chars)
    if args.serve:  # each session starts its own app and trainer
        from rnn_tui.ui.serve import serve

        startup.resume()  # the server runs for hours and shows no app of its own
        return serve(argv, args, parser)
    from rnn_tui.ui.launch import run_app
    from rnn_tui.ui.settings import UISettings

    settings = UISettings(
        sampling=sampling,
        high_contrast=args.high_contrast,
        ascii_only=args.ascii,
        save_path=args.save,
        autosave_path=args.autosave,
        export_dir=args.export_dir,
        metrics_path=args.metrics,
        log_every=args.log_every,
        banner=PRESETS[args.preset].lesson_at(args.lag or DEFAULT_LAG) if args.preset else "",
    )
    if listen is not None:
        return run_app_listening(spec, settings, vocab, listen, record=args.record)
    return run_app(spec, settings, vocab, record=args.record)


def _headless(
    spec: RunSpec,
    args: argparse.Namespace,
    sampling: SampleSettings,
    progress: Callable[[int, int], None] | None,
    steps: int | None,
    listen: ListenPlan | None = None,
) -> int:
    """Train here, in this process, without the UI: `steps` steps (None: no step limit) or
    --seconds, whichever ends first."""
    from rnn_tui.engine.blas import keep_freed_memory, subnormals_flushed_while
    from rnn_tui.run.build import build_trainers
    from rnn_tui.run.headless import HeadlessPlan, run_headless_cli
    from rnn_tui.run.listen import welcome_for

    startup.resume()  # no app to wait for: collect garbage as usual from here on
    keep_freed_memory()  # this process only trains: reuse freed memory instead of page-faulting
    plan = HeadlessPlan(
        steps, sampling, args.metrics, args.log_every, (args.save, args.autosave), args.seconds
    )
    if args.record is not None:
        plan = replace(plan, record=(args.record, spec))
    with subnormals_flushed_while():  # a vanishing gradient must not slow the step down
        trainers = build_trainers(spec, progress)
        chars = trainers[0].corpus.vocab.chars
        check_prime(sampling.prime, chars)
        if args.preset:
            print(PRESETS[args.preset].lesson_at(args.lag or DEFAULT_LAG), flush=True)
        if listen is not None:  # publish the run too: what it is, then its snapshots
            plan = replace(plan, listen=(listen, welcome_for(spec, chars)))
        return run_headless_cli(trainers, plan)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rnn-tui` script and of `python -m rnn_tui`."""
    startup.hold()  # no garbage collection until the app has built its panes (startup.py)
    try:
        return _main(argv)
    finally:
        startup.resume()  # at the latest: a path that showed no app, or an error


def _main(argv: Sequence[str] | None) -> int:
    watch_server()  # a browser session's app: end when its server is gone
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return run(argv)
    except UserError as exc:  # one line, shown as corpus text is: no raw control characters
        print(f"rnn-tui: {sanitize(str(exc)).replace(chr(10), ' ')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `rnn-tui ... --headless | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
