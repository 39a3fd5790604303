"""The browser view against hostile clients: other web pages, absurd terminal sizes, garbage
messages, and a server reachable from the network.

Most tests run the real `SessionServer` in this process, on a free port, with a stand-in app
(FAKE_APP) that speaks textual-serve's pipe protocol and reports, as terminal output, the size
it was started with (the environment the server gave it) and every message the server passed
on to it. So what the tests check is what an app process really receives. The clients are real
websocket clients (aiohttp), sending the headers a browser would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import ROOT
from test_serve import free_port, kill_group, rnn_tui_command, wait_until

import rnn_tui.ui.serve as serve_pkg
from rnn_tui.errors import UserError
from rnn_tui.ui.serve import guards
from rnn_tui.ui.serve import server as serve_server
from rnn_tui.ui.serve.server import SessionServer

# Stands in for the app: starts like a Textual app under textual-serve, then reports what it
# gets. Its output is one JSON object per data packet: {"started": [COLUMNS, ROWS]} first,
# then {"meta": ...} for each meta packet (resize, focus...) and {"stdin": ...} for keys.
FAKE_APP = r"""
import json, os, sys
out, inp = sys.stdout.buffer, sys.stdin.buffer

def send(obj):
    payload = json.dumps(obj).encode()
    out.write(b"D" + len(payload).to_bytes(4, "big") + payload)
    out.flush()

out.write(b"__GANGLION__\n")
send({"started": [int(os.environ["COLUMNS"]), int(os.environ["ROWS"])]})
while len(head := inp.read(5)) == 5:
    body = inp.read(int.from_bytes(head[1:], "big"))
    if head[:1] == b"M":
        meta = json.loads(body)
        if meta["type"] == "quit":
            break
        send({"meta": meta})
    else:
        send({"stdin": body.decode()})
"""

WAIT = 10.0  # seconds for any one answer of the server


@contextlib.asynccontextmanager
async def fake_server(
    tmp_path: Path, max_sessions: int = 8, **options: Any
) -> AsyncIterator[tuple[SessionServer, str]]:
    """A SessionServer whose sessions run FAKE_APP, listening on 127.0.0.1; yields it and its
    URL. Every session is ended when the block ends. The cap is above what a test opens at
    once: a session just closed holds its slot until its app has quit."""
    script = tmp_path / "fake_app.py"
    script.write_text(FAKE_APP)
    command = f"exec {shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    port = free_port()
    server = SessionServer(command, "127.0.0.1", port, max_sessions, **options)
    runner = web.AppRunner(await server.web_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield server, f"http://127.0.0.1:{port}/"
    finally:
        await server.stop_all()
        await runner.cleanup()


async def report(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next thing the stand-in app reports."""
    msg = await ws.receive(timeout=WAIT)
    assert msg.type == aiohttp.WSMsgType.BINARY, msg
    assert msg.data.startswith(b"{"), msg.data  # not the "server full" notice, say
    return dict(json.loads(msg.data))


async def pong(ws: aiohttp.ClientWebSocketResponse, token: str) -> None:
    """Ping the server through the session's protocol and wait for its pong."""
    await ws.send_str(json.dumps(["ping", token]))
    while True:
        msg = await ws.receive(timeout=WAIT)
        if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data) == ["pong", token]:
            return
        assert msg.type == aiohttp.WSMsgType.BINARY, msg


def ws_url(url: str, query: str = "") -> str:
    return url.replace("http://", "ws://") + "ws" + query


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rnn-tui.serve"]


@pytest.mark.functional
def test_a_foreign_origin_is_refused_and_the_pages_own_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, any web page the user visits can open a session on the user's server
    (browsers let pages open websockets anywhere, and send their own Origin) and type into it,
    or the page served by the server cannot open its own session any more."""

    async def scenario() -> None:
        async with fake_server(tmp_path) as (server, url), aiohttp.ClientSession() as client:
            port = url.rsplit(":", 1)[1].rstrip("/")
            foreign = [
                "http://evil.example",
                f"http://evil.example:{port}",
                f"http://127.0.0.1:{int(port) + 1}",  # another port is another origin
                f"http://localhost:{port}",  # another name than the one the page was asked by
                f"http://127.0.0.1.evil.example:{port}",
                "null",  # sandboxed frames, file:// pages
                f"https://127.0.0.1:{port}",  # this port serves plain HTTP, never such a page
            ]
            for origin in foreign:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await client.ws_connect(ws_url(url), origin=origin)
                assert refused.value.status == 403, origin
            assert not server.sessions  # no app was started for them
            logged = warnings(caplog)
            assert len(logged) == len(foreign), logged
            assert all("refused" in line and "\n" not in line for line in logged), logged
            # The page's own origin, as Chromium sends it for the page at `url`.
            async with client.ws_connect(ws_url(url), origin=url.rstrip("/")) as ws:
                assert await report(ws) == {"started": [80, 24]}
            # No Origin at all: not a browser, so not a page driving it (see the module).
            async with client.ws_connect(ws_url(url)) as ws:
                assert await report(ws) == {"started": [80, 24]}

    caplog.set_level(logging.INFO, "rnn-tui.serve")
    asyncio.run(scenario())


@pytest.mark.functional
def test_a_rebound_name_is_refused_on_loopback(tmp_path: Path) -> None:
    """If this fails, a hostile site whose name is made to resolve to 127.0.0.1 (DNS
    rebinding) serves its page "from" this server: Origin and Host then agree, and the page
    drives a session."""

    async def scenario() -> None:
        async with fake_server(tmp_path) as (server, url), aiohttp.ClientSession() as client:
            port = url.rsplit(":", 1)[1].rstrip("/")
            rebound = f"evil.example:{port}"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(
                    ws_url(url), origin=f"http://{rebound}", headers={"Host": rebound}
                )
            assert refused.value.status == 403
            assert not server.sessions
            local = f"localhost:{port}"  # a loopback name of the page's own is fine
            async with client.ws_connect(
                ws_url(url), origin=f"http://{local}", headers={"Host": local}
            ) as ws:
                assert await report(ws) == {"started": [80, 24]}

    asyncio.run(scenario())


@pytest.mark.functional
def test_an_allow_listed_origin_is_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, a server behind a proxy (the page's origin is the proxy's, the Host
    header the server's) cannot be used from the proxy's origin, or the allow-list lets in
    more than the origins on it."""

    async def scenario() -> None:
        allowed = ["https://rnn.example.com", "http://lab.example:8080/"]
        async with (
            fake_server(tmp_path, allowed_origins=allowed) as (server, url),
            aiohttp.ClientSession() as client,
        ):
            for origin in (
                "https://rnn.example.com",
                "https://RNN.example.com:443",
                "http://lab.example:8080",
            ):
                async with client.ws_connect(ws_url(url), origin=origin) as ws:
                    assert await report(ws) == {"started": [80, 24]}, origin
            for origin in (
                "http://rnn.example.com",
                "https://rnn.example.com:8443",
                "http://lab.example",
            ):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await client.ws_connect(ws_url(url), origin=origin)
                assert refused.value.status == 403, origin

    asyncio.run(scenario())
    with pytest.raises(UserError, match="--allow-origin"):
        SessionServer("true", "127.0.0.1", 8000, 1, allowed_origins=["rnn.example.com"])


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://Example.COM", "example.com", True),  # default ports on both sides
        ("https://example.com", "example.com:443", True),
        ("http://example.com:80", "example.com", True),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("http://example.com:8000", "example.com", False),
        ("http://example.com", "example.com:8000", False),
        ("http://example.com.evil.org", "example.com", False),
        ("http://127.0.0.1:8000/x", "127.0.0.1:8000", False),  # no Origin has a path
        ("ftp://127.0.0.1:8000", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", None, False),
        ("http://127.0.0.1:99999", "127.0.0.1:99999", False),
    ],
)
def test_same_host_is_host_and_port(origin: str, host: str | None, same: bool) -> None:
    """If this fails, the Origin check is fooled by a name that merely starts like ours, or
    refuses the page's own origin written another legal way (case, default port, IPv6)."""
    assert guards.origin_matches_host(origin, host) is same


@pytest.mark.functional
def test_terminal_size_is_clamped(tmp_path: Path) -> None:
    """If this fails, a client can make a session's app draw a 10000x10000 terminal (1.3 GB in
    one process), in the URL of its websocket or in a resize message, or a tiny one."""
    lo_w, hi_w, lo_h, hi_h = 20, 500, 10, 200  # MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT, MAX_HEIGHT

    async def scenario() -> None:
        async with fake_server(tmp_path) as (server, url), aiohttp.ClientSession() as client:
            cases = [
                ("?width=10000&height=10000", [hi_w, hi_h]),
                ("?width=1&height=-5", [lo_w, lo_h]),
                ("?width=120&height=40", [120, 40]),
                ("?width=x&height=", [80, 24]),  # not numbers: textual-serve's defaults
            ]
            for query, size in cases:
                async with client.ws_connect(ws_url(url, query)) as ws:
                    assert await report(ws) == {"started": size}, query
            async with client.ws_connect(ws_url(url)) as ws:
                assert await report(ws) == {"started": [80, 24]}
                for asked, got in [
                    ((10000, 10000), (hi_w, hi_h)),
                    ((0, -1), (lo_w, lo_h)),
                    ((132, 43), (132, 43)),
                ]:
                    resize = {"width": asked[0], "height": asked[1]}
                    await ws.send_str(json.dumps(["resize", resize]))
                    meta = {"type": "resize", "width": got[0], "height": got[1]}
                    assert await report(ws) == {"meta": meta}, asked

    asyncio.run(scenario())
    bounds = (guards.MIN_WIDTH, guards.MAX_WIDTH)
    assert bounds + (guards.MIN_HEIGHT, guards.MAX_HEIGHT) == (lo_w, hi_w, lo_h, hi_h)


GARBAGE: list[str | bytes] = [
    b"not json",  # a binary frame: the page sends text only
    "not json",
    "[1,2]",
    "42",
    '{"type": "stdin"}',
    "[]",
    '["resize", {"width": "x", "height": 24}]',
    '["resize", {"width": true, "height": 24}]',
    '["resize", {"width": 80.5, "height": 24}]',
    '["resize", {"width": 80}]',
    '["resize", [80, 24]]',
    '["stdin", 5]',
    '["stdin"]',
    '["ping", {"x": 1}]',
    '["launch", "rm -rf /"]',
    "[" * 100_000,  # deeper than json's recursion limit
]


@pytest.mark.functional
def test_garbage_closes_only_its_own_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If this fails, a malformed message from a client ends its session with a traceback in
    the server's log, is silently taken, or disturbs another session."""

    async def scenario() -> None:
        async with fake_server(tmp_path) as (server, url), aiohttp.ClientSession() as client:
            good = await client.ws_connect(ws_url(url))
            assert await report(good) == {"started": [80, 24]}
            for garbage in GARBAGE:
                caplog.clear()
                bad = await client.ws_connect(ws_url(url))
                assert await report(bad) == {"started": [80, 24]}
                if isinstance(garbage, bytes):
                    await bad.send_bytes(garbage)
                else:
                    await bad.send_str(garbage)
                msg = await bad.receive(timeout=WAIT)
                assert msg.type == aiohttp.WSMsgType.CLOSE, (garbage[:40], msg)
                assert msg.data == serve_server.BAD_MESSAGE, garbage[:40]
                await bad.close()
                logged = warnings(caplog)
                assert len(logged) == 1 and "\n" not in logged[0], logged
                assert not any(r.exc_info for r in caplog.records), garbage[:40]
                # The other session still answers, and its app still gets its keys.
                await pong(good, "still there")
                await good.send_str(json.dumps(["stdin", "q"]))
                assert await report(good) == {"stdin": "q"}
                await asyncio.to_thread(
                    wait_until, lambda: len(server.sessions) == 1, WAIT, "bad session ended"
                )
            await good.close()

    caplog.set_level(logging.INFO)
    asyncio.run(scenario())


@pytest.mark.functional
def test_pages_cannot_be_framed(tmp_path: Path) -> None:
    """If this fails, another site can show the terminal page in an invisible frame and trick
    the user into typing or clicking into it (clickjacking)."""

    async def scenario() -> None:
        async with (
            fake_server(tmp_path, max_sessions=1) as (server, url),
            aiohttp.ClientSession() as client,
        ):
            async with client.get(url) as page:
                assert page.status == 200
                headers = page.headers
            async with client.ws_connect(ws_url(url)) as ws:  # takes the only slot
                assert await report(ws) == {"started": [80, 24]}
                async with client.get(url) as full:
                    assert full.status == 503
                    full_headers = full.headers
        for h in (headers, full_headers):
            assert h.get("X-Frame-Options") == "DENY", h
            assert h.get("Content-Security-Policy") == "frame-ancestors 'none'", h

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("0.0.0.0", True),
        ("::", True),
        ("", True),
        ("192.168.1.5", True),
        ("example.com", True),
        ("localhost.evil.example", True),
        ("::ffff:10.0.0.1", True),
        ("127.0.0.1", False),
        ("127.1.2.3", False),
        ("::1", False),
        ("localhost", False),
        ("LocalHost", False),
    ],
)
def test_a_non_loopback_host_is_warned_about(host: str, public: bool) -> None:
    """If this fails, serving to the network (where anyone who reaches the port gets every key,
    those that write files included) goes unnoticed, or a local server warns for nothing."""
    warning = serve_pkg.exposure_warning(host)
    if public:
        assert warning is not None and "anyone" in warning and "write files" in warning
    else:
        assert warning is None


@contextlib.contextmanager
def server_started(tmp_path: Path, *args: str):
    """`rnn-tui ARGS --serve --port P` running until it has said "serving"; yields (port,
    stdout file, stderr file), then ends it with SIGTERM and checks it exits 0."""
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        server = subprocess.Popen(
            [*rnn_tui_command(), *args, "--serve", "--port", str(port)],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_until(lambda: server.poll() is not None or "serving" in out.read_text(), 20, "serving")
        assert server.poll() is None, err.read_text()
        yield port, out, err
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
    finally:
        kill_group(server)


@pytest.mark.functional
def test_serving_on_all_addresses_warns_at_start(tmp_path: Path) -> None:
    """If this fails, `--serve --host 0.0.0.0` starts without a word about who can reach it."""
    with server_started(tmp_path, "corpora/tiny.txt", "--host", "0.0.0.0") as (_, _, err):
        warning = err.read_text()
        assert "0.0.0.0" in warning and "anyone" in warning, warning


@pytest.mark.functional
def test_a_corpus_name_with_escapes_is_shown_safely(tmp_path: Path) -> None:
    """If this fails, an escape sequence in the corpus's file name reaches the server's terminal
    in its start-up line (and the page's title) raw, recolouring or retitling the terminal."""
    corpus = tmp_path / "a\x1b[31mred\x1b]0;title\x07.txt"
    corpus.write_bytes((ROOT / "corpora" / "tiny.txt").read_bytes())
    with server_started(tmp_path, str(corpus)) as (port, out, err):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            html = page.read().decode()
        for text in (out.read_text(), err.read_text(), html):
            assert "\x1b" not in text and "\x07" not in text
        assert "red" in out.read_text()
