"""`rnn-tui attach [HOST:]PORT`, and the `--listen` flags of a run that others attach to.

`rnn-tui PATH --listen [HOST:]PORT` (app or --headless) publishes its run on a TCP socket
(rnn_tui.run.listen); `rnn-tui attach` opens the app on it, read-only unless --control. The
token comes from --token-file or RNN_TUI_TOKEN; without one, or with a wrong one, attach says so
in one line and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rnn_tui.errors import OneLineParser, UserError
from rnn_tui.run.address import ListenPlan, new_token, parse_address, read_token
from rnn_tui.textsafe import sanitize

if TYPE_CHECKING:
    from rnn_tui.engine.text import Vocab
    from rnn_tui.run.remote import RemoteSource
    from rnn_tui.run.spec import RunSpec

TOKEN_ENV = "RNN_TUI_TOKEN"


def add_listen_flags(p: argparse.ArgumentParser) -> None:
    """--listen and --token-file, for the main command line."""
    g = p.add_argument_group("attaching (rnn-tui attach)")
    g.add_argument(
        "--listen",
        metavar="[HOST:]PORT",
        help="also publish the run on this TCP address (host 127.0.0.1 unless given), for"
        " `rnn-tui attach`; viewers must give a token: --token-file's, or one made up at start"
        " (--headless prints it; the app puts it in a private file its status line names)",
    )
    g.add_argument(
        "--token-file",
        metavar="FILE",
        help="--listen: the token viewers must give, read from FILE (else one is made up)",
    )


def listen_plan(args: argparse.Namespace) -> ListenPlan | None:
    """What --listen and --token-file ask for (None without --listen); a UserError if wrong."""
    if args.shared and not args.serve:
        raise UserError("--shared goes with --serve: one trainer for every browser session")
    if args.listen is None:
        if args.token_file:
            raise UserError("--token-file goes with --listen (or with rnn-tui attach)")
        return None
    if args.serve:
        raise UserError("--listen publishes one run; with --serve every session has its own")
    host, port = parse_address(args.listen)
    if args.token_file:
        return ListenPlan(host, port, read_token(args.token_file), token_shown=False)
    return ListenPlan(host, port, new_token(), token_shown=True)


def token_file_for_app(plan: ListenPlan) -> tuple[ListenPlan, str | None]:
    """The app covers the terminal, so a token it made up goes to a private file (mode 0600)
    whose name the status line shows: a projected screen never shows the token itself.
    Returns the plan and that file (None: the token came from --token-file)."""
    if not plan.token_shown:
        return plan, None
    fd, path = tempfile.mkstemp(prefix="rnn-tui-token-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(plan.token + "\n")
    return replace(plan, token_shown=False), path


def run_app_listening(
    spec: RunSpec, settings: Any, vocab: Vocab, plan: ListenPlan, record: str | None = None
) -> int:
    """The app, its run also published as `plan` says (and recorded into `record`, if given)."""
    from rnn_tui.run.listen import Listener, PublishingSource, welcome_for
    from rnn_tui.ui.launch import run_app

    plan, path = token_file_for_app(plan)
    listener = Listener(plan, welcome_for(spec, vocab.chars))
    try:
        host, port = listener.start()
        token = "token from --token-file" if path is None else f"--token-file {path}"
        line = f"listening on {host}:{port} · {token}"
        banner = f"{settings.banner} · {line}" if settings.banner else line
        return run_app(
            spec,
            settings.with_(banner=banner),
            vocab,
            record=record,
            wrap=lambda source: PublishingSource(source, listener),
        )
    finally:
        listener.close("the app quit")
        if path is not None:  # the file made up for this run
            with contextlib.suppress(OSError):
                os.unlink(path)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="rnn-tui attach",
        description="Show a run published with --listen, live; read-only unless --control.",
    )
    p.add_argument("address", metavar="[HOST:]PORT", help="where the run listens")
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"the run's token, read from FILE (else from ${TOKEN_ENV})",
    )
    p.add_argument(
        "--control",
        action="store_true",
        help="also pause, step, change the learning rate or clipping, reset and save",
    )
    p.add_argument(
        "--high-contrast", action="store_true", help="black on white, for projectors (h)"
    )
    return p


def run_attach(argv: Sequence[str]) -> int:
    """`rnn-tui attach ...`: connect, then the app until q; exit code as the app's."""
    args = build_parser().parse_args(argv)
    host, port = parse_address(args.address)
    if args.token_file:
        token = read_token(args.token_file)
    elif os.environ.get(TOKEN_ENV, "").strip():
        token = os.environ[TOKEN_ENV].strip()
    else:
        raise UserError(f"attach needs the run's token: --token-file FILE or ${TOKEN_ENV}")
    from rnn_tui.run.remote import RemoteSource

    source = RemoteSource.connect(host, port, token, control=args.control)
    return _run_app(source, args)


def _run_app(source: RemoteSource, args: Any) -> int:
    from rnn_tui.engine.text import Vocab
    from rnn_tui.run.spec import RunSpec
    from rnn_tui.ui.app import RnnApp
    from rnn_tui.ui.settings import UISettings

    w = source.welcome
    spec = RunSpec(w.corpus, source.configs, lag=w.lag)
    # Read-only, the footer dims the keys that would steer the run; the banner says why.
    mode = "" if source.control else " (read-only: attach with --control to steer it)"
    settings = UISettings(
        high_contrast=args.high_contrast, banner=f"attached to {source.where}{mode}"
    )
    app = RnnApp(source, spec=spec, vocab=Vocab(w.chars), settings=settings, new_source=None)
    try:
        app.run()
    finally:
        source.stop()
    if source.ended():
        print(f"rnn-tui: {sanitize(source.ended() or '')}", file=sys.stderr)
    return app.return_code or 0
