"""The browser view: `rnn-tui PATH --serve` serves the app through textual-serve.

Every browser connection gets its own app process (and so its own trainer process), started
as `python -m rnn_tui <the user's flags, less the serve flags>`, which ends when the server is
gone (`rnn_tui.ui.serve.session`). At most `--max-sessions` run at once; the one over the cap
gets a "server full" page instead. The web server itself is in `rnn_tui.ui.serve.server`,
imported only when serving, so that a session's app starts without loading aiohttp.

Serving on an address other than loopback is allowed, with a warning: there is no login, so
whoever reaches the port gets a session and every key of the app.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rnn_tui.errors import UserError
from rnn_tui.textsafe import sanitize

# The options of the browser view, which the sessions are not given: whether each takes a value.
# tests/test_serve.py checks this against the command line's parser and its help.
SERVE_FLAGS = {
    "--serve": False,
    "--host": True,
    "--port": True,
    "--allow-origin": True,
    "--max-sessions": True,
    "--shared": False,
}
LOOPBACK_NAMES = ("localhost",)  # names that are loopback whatever the resolver says


def session_argv(argv: Sequence[str]) -> list[str]:
    """`argv` without the serve flags and their values: what each session's app is given.

    Options are matched as the parser matches them: exactly (it allows no abbreviations), or
    as `--flag=value`.
    """
    out: list[str] = []
    skip = False
    rest = False  # after `--` everything is positional
    for arg in argv:
        if skip:
            skip = False
            continue
        if rest or not arg.startswith("--") or arg == "--":
            rest = rest or arg == "--"
            out.append(arg)
            continue
        name, has_value = arg.split("=", 1)[0], "=" in arg
        if name in SERVE_FLAGS:
            skip = SERVE_FLAGS[name] and not has_value  # its value is the next word
            continue
        out.append(arg)
    return out


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only: 127.0.0.0/8, ::1 or localhost."""
    import ipaddress  # not needed by the command line unless it serves

    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def exposure_warning(host: str) -> str | None:
    """What to tell the user who serves on `host`, if it is not a loopback address."""
    if is_loopback(host):
        return None
    return (
        f"rnn-tui: warning: --host {host or repr(host)} is not a loopback address: anyone who "
        "can reach this port gets a session without a password, and every key of the app with "
        "it, including those that write files on this machine (s, p, e). Serve on 127.0.0.1 and "
        "reach it through an SSH tunnel, or put it behind a proxy that asks for a login."
    )


def serve(
    argv: Sequence[str],
    args: argparse.Namespace,
    parser: argparse.ArgumentParser | None = None,  # unused: the serve flags are SERVE_FLAGS
) -> int:
    """Run the server until SIGINT, SIGTERM or SIGHUP. The caller has already checked the
    training flags by building the trainers; the serve flags are checked here."""
    if args.headless:
        raise UserError("--serve runs the app in a browser; it cannot be combined with --headless")
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be between 1 and 65535 (got {args.port})")
    if args.max_sessions < 1:
        raise UserError(f"--max-sessions must be >= 1 (got {args.max_sessions})")
    import asyncio
    import shlex

    from rnn_tui.ui.serve.server import SessionServer

    shared = None
    if args.shared:  # one trainer; each session attaches to it (rnn_tui.ui.serve.shared)
        from rnn_tui.ui.serve.shared import SharedTrainer

        shared = SharedTrainer.start(session_argv(argv))
        print(shared.control_line(), file=sys.stderr, flush=True)
    session = (
        shared.viewer_argv() if shared else [sys.executable, "-m", "rnn_tui", *session_argv(argv)]
    )
    # exec: the shell becomes the app, so the session's pid is the app's own.
    command = "exec " + shlex.join(session)
    title = f"rnn-tui · {sanitize(args.path or args.preset)}"  # shown in the banner and the tab
    server = SessionServer(
        command,
        args.host,
        args.port,
        args.max_sessions,
        title=title,
        allowed_origins=getattr(args, "allow_origin", None) or [],
    )
    if shared is not None:
        server.what = "every browser connection watches the one run, read-only"
    if warning := exposure_warning(args.host):
        print(warning, file=sys.stderr, flush=True)
    try:  # the server's own checks (the port in use) come in here too
        asyncio.run(server.run())
    finally:
        if shared is not None:
            shared.stop()
    return 0
