"""What a browser may send the server, checked: its page's origin, its terminal's size, its
messages. Anything else is refused, and the caller closes that one connection."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

MIN_WIDTH, MAX_WIDTH = 20, 500  # terminal columns a session may have (asked for more: clamped)
MIN_HEIGHT, MAX_HEIGHT = 10, 200  # terminal rows a session may have
DEFAULT_PORTS = {"http": 80, "https": 443}  # the schemes a page (and so an Origin) can have
LOGGED_CHARS = 120  # of a client's header or message quoted in the log


class BadMessage(ValueError):
    """A client message that is not one the page sends: the connection is closed."""


def clamp_size(width: int, height: int) -> tuple[int, int]:
    """A terminal size within MIN_/MAX_WIDTH and MIN_/MAX_HEIGHT."""
    return min(max(width, MIN_WIDTH), MAX_WIDTH), min(max(height, MIN_HEIGHT), MAX_HEIGHT)


def read_message(text: str) -> tuple[str, Any]:
    """A message of the page's terminal as (type, data), size clamped for "resize"; BadMessage
    for anything else. The page sends `["stdin", str]`, `["resize", {"width": int, "height":
    int}]`, `["ping", str]`, `["focus"]` and `["blur"]`."""
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage("not JSON") from None
    if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
        raise BadMessage("not a [type, data] list")
    kind, args = envelope[0], envelope[1:]
    if kind in ("stdin", "ping") and len(args) == 1 and isinstance(args[0], str):
        return kind, args[0]
    if kind in ("focus", "blur") and not args:
        return kind, None
    if kind == "resize" and len(args) == 1 and isinstance(args[0], dict):
        width, height = args[0].get("width"), args[0].get("height")
        if _is_int(width) and _is_int(height):
            return kind, clamp_size(width, height)
    if kind not in ("stdin", "ping", "focus", "blur", "resize"):
        raise BadMessage(f"unknown type {quote(kind)}")
    raise BadMessage(f"malformed {kind!r} message")


def query_int(request: web.Request, name: str, default: int) -> int:
    """The integer in the query parameter `name`, or `default` if it is missing or not one."""
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is no size


def parse_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a web origin such as `https://example.com` (lowercase, the
    default port filled in); None if it is not one: `null`, another scheme, a path."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # a port out of range, a broken IPv6 address
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else port


def origin_matches_host(origin: str, host: str | None) -> bool:
    """Whether an Origin header names the host and port of the Host header, that is, whether
    the page that opens the websocket was served by the server it connects to. A Host without
    a port has the default port of the Origin's scheme (a TLS proxy may keep the Host)."""
    parsed = parse_origin(origin)
    if parsed is None or not host:
        return False
    scheme, origin_host, origin_port = parsed
    try:
        parts = urlsplit(f"//{host}")
        port = DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        return False
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return False
    return (parts.hostname, port) == (origin_host, origin_port)


def quote(text: str) -> str:
    """A client's text for the log: quoted, escaped, cut short."""
    return repr(text[:LOGGED_CHARS] + ("..." if len(text) > LOGGED_CHARS else ""))
