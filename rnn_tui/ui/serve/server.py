"""The web server of the browser view: textual-serve's, with a cap on sessions and a page that
works offline.

Every browser connection gets its own app process, in its own process group. At most
`max_sessions` run at once: a page asked for over the cap is a plain "server full" page (HTTP
503), and a connection that gets past it anyway (two pages loaded at the same moment) is told
the same inside the terminal. A session's slot is freed when its processes have ended, however
it ended: the browser left, the user quit, the app crashed or was killed. Nothing is fetched
from another host: the page is our own template, which links only the xterm.js bundle served
from textual-serve's package.

What a client can do is bounded: a websocket from a page of another site is refused (see
`SessionServer.origin_allowed`), the pages cannot be framed by another site, the terminal size
is clamped, and a message that is not one the page sends closes that connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, hdrs, web

from rnn_tui.errors import UserError
from rnn_tui.ui.serve import is_loopback
from rnn_tui.ui.serve.guards import (
    BadMessage,
    clamp_size,
    origin_matches_host,
    parse_origin,
    query_int,
    quote,
    read_message,
)
from rnn_tui.ui.serve.session import SERVER_PID_ENV
from rnn_tui.ui.serve.textual_serve_glue import STATICS, GroupedAppService, Server, check_version

TEMPLATES = Path(__file__).resolve().parent / "templates"
QUIT_GRACE = 3.0  # seconds an app gets to quit when asked, before SIGTERM
TERM_GRACE = 3.0  # seconds after SIGTERM before SIGKILL
PIPE_GRACE = 3.0  # seconds after the app ended for its trainer to let go of the pipes
SHUTDOWN_GRACE = 3.0  # seconds aiohttp waits for open requests when the server stops
TRY_AGAIN_LATER = 1013  # websocket close code: the server is overloaded, retry later
BAD_MESSAGE = 1003  # websocket close code: a message the server does not understand
NO_FRAMING = {  # on every page: no other site may show it in a frame (clickjacking)
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}

log = logging.getLogger("rnn-tui.serve")


def _not_a_double_reap(record: logging.LogRecord) -> bool:
    """asyncio's child watcher warns "Unknown child process pid N" when a session's process
    was reaped before it looked (now and then, when a session ends at once): the session is
    over either way, and its one log line has been written."""
    return not record.getMessage().startswith("Unknown child process pid")


logging.getLogger("asyncio").addFilter(_not_a_double_reap)


def full_message(sessions: int) -> str:
    """What the connection over the cap reads, in the page or in the terminal."""
    return (
        f"This rnn-tui server is full: {sessions} of {sessions} sessions are running, and each "
        "trains its own network on the server's processors. Try again later."
    )


@dataclass(eq=False)
class Session:
    """One browser connection: its websocket and the app process behind it."""

    service: GroupedAppService
    websocket: web.WebSocketResponse
    ending: asyncio.Task[None] | None = None  # the one task that stops the process


class SessionServer(Server):
    """textual-serve's server with a cap on sessions, a template that works offline, and
    sessions that are stopped for good (quit, then SIGTERM, then SIGKILL) when they end.

    `allowed_origins` are the origins (`https://host[:port]`) of pages on another host than
    the server's own that may open sessions: a proxy's, when the Host it forwards is not the
    one the browser used."""

    def __init__(
        self,
        command: str,
        host: str,
        port: int,
        max_sessions: int,
        title: str = "rnn-tui",
        allowed_origins: Iterable[str] = (),
    ) -> None:
        check_version()
        super().__init__(
            command,
            host=host,
            port=port,
            title=title,
            statics_path=STATICS,
            templates_path=TEMPLATES,
        )
        self.max_sessions = max_sessions
        self.what = "each browser connection trains its own model"  # said at start
        self.sessions: set[Session] = set()  # a slot each, held until the process is gone
        self.allowed_origins: set[tuple[str, str, int]] = set()
        for origin in allowed_origins:
            parsed = parse_origin(origin)
            if parsed is None:
                raise UserError(
                    f"--allow-origin {origin!r} is not an origin like https://example.com:8443"
                )
            self.allowed_origins.add(parsed)

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    async def web_app(self) -> web.Application:
        """The routes of textual-serve, with our templates (autoescaped) and no CDN."""
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """The terminal page, or the "server full" page (HTTP 503) when every slot is taken.

        Every URL in it is relative to the page, so it works under whatever name or address
        the browser used to reach the server."""
        context: dict[str, Any] = {"title": self.title, "max_sessions": self.max_sessions}
        if self.full:
            context["message"] = full_message(self.max_sessions)
            response = aiohttp_jinja2.render_template("full.html", request, context, status=503)
            response.headers["Retry-After"] = "60"
        else:
            context["font_size"] = query_int(request, "fontsize", 16)
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers.update(NO_FRAMING)
        return response

    def origin_allowed(self, request: web.Request) -> bool:
        """Whether the page that opens this websocket may drive a session: a page of the
        server itself (its Origin names the Host it asked for) or of an allowed origin.

        Browsers send an Origin with every websocket, and let any page open one to any
        address, the user's own machine included: without this check every site the user
        visits could type into their sessions. A request without an Origin is allowed: it
        comes from a program (curl, a test), not from a page, and a program that can reach
        the port can do anything a browser could anyway."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None:
            return True
        parsed = parse_origin(origin)
        if parsed is not None and parsed in self.allowed_origins:
            return True
        if parsed is not None and is_loopback(self.host) and not is_loopback(parsed[1]):
            # Served on loopback, a page can only come from a loopback name; another name that
            # matches its own Host is a hostile name resolved to 127.0.0.1 (DNS rebinding).
            return False
        if parsed is not None and parsed[0] == "https" and parsed[2] == self.port:
            return False  # this port speaks plain HTTP: no page of it has an https origin
        return origin_matches_host(origin, request.headers.get(hdrs.HOST))

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """One session: start the app process, relay until either side ends, then stop it.
        A websocket from a page of another site is refused before the upgrade (HTTP 403)."""
        if not self.origin_allowed(request):
            log.warning(
                "refused a websocket from origin %s (host %s): not this server's page; "
                "--allow-origin allows another",
                quote(request.headers.get(hdrs.ORIGIN, "")),
                quote(request.headers.get(hdrs.HOST, "")),
            )
            return web.Response(status=403, text="403: this page's origin may not open sessions\n")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if self.full:  # a page loaded just before the last slot went
            text = full_message(self.max_sessions)
            await websocket.send_bytes(f"\x1b[2J\x1b[H\r\n  {text}\r\n".encode())
            await websocket.close(code=TRY_AGAIN_LATER, message=b"server full")
            return websocket
        width, height = clamp_size(
            query_int(request, "width", 80), query_int(request, "height", 24)
        )
        service = GroupedAppService(
            self.command,
            environment={SERVER_PID_ENV: str(os.getpid())},  # the app watches this server
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        session = Session(service, websocket)
        self.sessions.add(session)  # before any await: two connections cannot share a slot
        watcher: asyncio.Task[None] | None = None
        try:
            await service.start(width, height)
            watcher = asyncio.create_task(self._close_when_ended(session))
            await self.relay_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:
            log.exception(error)
        finally:
            try:
                await asyncio.shield(self.end_session(session))
            finally:
                self.sessions.discard(session)
                if watcher is not None:
                    watcher.cancel()
                with contextlib.suppress(Exception):
                    await websocket.close()
        return websocket

    async def relay_messages(
        self, websocket: web.WebSocketResponse, service: GroupedAppService
    ) -> None:
        """Relay the page's messages to the app until the websocket closes. A message the page
        would not send closes the connection (and so ends its session), with one log line."""
        async for message in websocket:
            try:
                if message.type == WSMsgType.ERROR:  # too big, broken frame: aiohttp closes it
                    raise BadMessage(f"websocket error: {message.data}")
                if message.type != WSMsgType.TEXT:
                    raise BadMessage(f"a {message.type.name.lower()} frame")
                kind, data = read_message(message.data)
            except BadMessage as error:
                log.warning("closed a session: the client sent %s", error)
                await websocket.close(code=BAD_MESSAGE, message=b"bad message")
                return
            if kind == "stdin":
                await service.send_bytes(data.encode("utf-8", "replace"))  # lone surrogates
            elif kind == "resize":
                await service.set_terminal_size(*data)
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def _close_when_ended(self, session: Session) -> None:
        """A session whose app ended on its own (quit, crash, kill) closes its websocket, which
        ends the handler and frees the slot, even while the browser stays on the page."""
        process = session.service.process
        if process is None:
            return
        await process.wait()
        await session.websocket.close()

    def end_session(self, session: Session) -> asyncio.Task[None]:
        """Stop a session's process; the same task however many callers ask."""
        if session.ending is None:
            session.ending = asyncio.create_task(self._stop_process(session.service))
        return session.ending

    async def _stop_process(self, service: GroupedAppService) -> None:
        process = service.process
        with contextlib.suppress(Exception):  # ask the app to quit (it stops its trainer)
            await asyncio.wait_for(service.stop(), QUIT_GRACE)
        if process is None:
            return
        if not await _exited(process, 0.0):
            with contextlib.suppress(ProcessLookupError):
                process.terminate()  # the app saves (--autosave) and stops its trainer
        if not await _exited(process, TERM_GRACE):
            _kill_group(process.pid)
            await _exited(process, TERM_GRACE)
        # Its trainer shares the app's pipes: wait() returns once they are closed, which is
        # within a moment of the app's end. Whatever of the group still holds them is killed.
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), PIPE_GRACE)
        except asyncio.TimeoutError:
            _kill_group(process.pid)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), TERM_GRACE)

    async def stop_all(self) -> None:
        """End every session (the server is stopping)."""
        tasks = [self.end_session(s) for s in list(self.sessions)]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """Listen until SIGINT or SIGTERM, then end every session and stop."""
        runner = web.AppRunner(
            await self.web_app(),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise UserError(f"cannot serve on {self.host}:{self.port}: {reason}") from None
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, stop.set)
            print(
                f"rnn-tui: serving {self.title} on http://{_url_host(self.host)}:{self.port}/"
                f" ({self.what}; at most {self.max_sessions}"
                " at once). Ctrl+C stops.",
                flush=True,
            )
            await stop.wait()
            await self.stop_all()
        finally:
            await runner.cleanup()


async def _exited(process: asyncio.subprocess.Process, timeout: float) -> bool:
    """Whether the process has ended, waiting up to `timeout` seconds for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while process.returncode is None and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return process.returncode is not None


def _kill_group(pgid: int) -> None:
    """SIGKILL a session's process group: the app, its trainer, anything they started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
