"""Where a run is published and the token a viewer gives: what `--listen` and `--token-file`
ask for, read before anything is built (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

from rnn_tui.errors import UserError

DEFAULT_HOST = "127.0.0.1"  # --listen PORT alone listens on this machine only


def parse_address(text: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """`[HOST:]PORT` (an IPv6 host in brackets) as (host, port); a UserError if malformed.
    Port 0 asks the system for any free port."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535 or (sep and not host):
        raise UserError(f"give an address as [HOST:]PORT, e.g. 127.0.0.1:5000 (got {text!r})")
    return host, int(port)


def new_token() -> str:
    import secrets  # here: the app's first frame does not wait for hashlib

    return secrets.token_urlsafe(24)


def read_token(path: str) -> str:
    """The token in file `path` (surrounding whitespace left out); a UserError if none."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read(1024).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"cannot read the token file {path}: {getattr(exc, 'strerror', exc)}"
        ) from None
    if not token or len(token) > 256 or not token.isprintable():
        raise UserError(f"the token file {path} must hold one line of 1 to 256 characters")
    return token


@dataclass(frozen=True)
class ListenPlan:
    """Where to publish a run and the token a viewer must give."""

    host: str
    port: int
    token: str
    token_shown: bool  # the token was generated here (so it is printed), not read from a file


def listening_line(plan: ListenPlan, address: tuple[str, int]) -> str:
    """What a listening run prints: where, and the token (if made up here) or where it is."""
    where = f"{address[0]}:{address[1]}"
    if plan.token_shown:
        return (
            f"listening on {where}: attach with  RNN_TUI_TOKEN={plan.token} rnn-tui attach {where}"
        )
    return f"listening on {where}: attach with  rnn-tui attach {where} --token-file FILE"
