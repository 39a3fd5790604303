"""The browser view: `rnn-tui PATH --serve` as a user opens it, in a real headless Chromium.

Chromium is driven over the DevTools protocol (a websocket, with aiohttp, which textual-serve
brings). xterm.js draws on a canvas, so the page's DOM holds no text: the test reads the
terminal output the page received (a hook on WebSocket installed before the page loads) and
checks the screenshot's pixels. Every process started here is killed in a `finally`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import ROOT, TINY

from rnn_tui.cli import _typed, build_parser
from rnn_tui.ui.serve import SERVE_FLAGS, session_argv

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PANE_WORDS = ("loss", "gradient through time", "samples", "TRAINING", "· temperature")

# Installed before any script of the page runs: keeps the text of every terminal frame the page
# receives, escape sequences removed, in window.__termText.
WS_HOOK = r"""
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__termText = "";
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (typeof e.data === "string") return;
        const text = decoder.decode(new Uint8Array(e.data), { stream: true });
        window.__termText += text.replace(/\x1b\[[0-9;?<>=$]*[A-Za-z]/g, "");
      });
    }
  };
})();
"""

# Counts colours in a PNG (the screenshot) drawn into a canvas: returns JSON.
PIXEL_STATS = r"""
(async () => {
  const img = new Image();
  img.src = "data:image/png;base64,%s";
  await img.decode();
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const colours = new Set();
  const half = img.height / 2;
  let blueTop = 0, orange = 0, light = 0, bright = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
    colours.add((r << 16) | (g << 8) | b);
    const top = (i / 4) / img.width < half;
    if (top && b > 150 && b > r + 60) blueTop++;  // the loss curve and gradient bars
    if (r > 200 && g > 90 && g < 200 && b < 110) orange++;  // held-out, grad_last, headers
    if (r > 180 && g > 180 && b > 180) light++;  // text
    if (r + g + b > 120) bright++;
  }
  return JSON.stringify({ width: img.width, height: img.height, colours: colours.size,
                          blueTop, orange, light, bright });
})()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rnn_tui_command() -> list[str]:
    script = Path(sys.executable).with_name("rnn-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rnn_tui"]


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first."""
    kids = children(pid)
    return kids + [d for k in kids for d in descendants(k)]


def session_processes(server: int) -> list[int]:
    """The processes of the server's session (the app first, then its trainer and helpers),
    once the app has started its trainer and nothing new has appeared for a second."""
    deadline = time.monotonic() + 20
    last: list[int] = []
    since = time.monotonic()
    while time.monotonic() < deadline:
        kids = [p for p in descendants(server) if running(p)]
        if kids != last:
            last, since = kids, time.monotonic()
        elif len(kids) >= 2 and time.monotonic() - since > 1.0:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"no app and trainer under the server: {last}")


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):  # a zombie has ended: only its parent must reap it
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def wait_until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """Kill a process started with start_new_session=True and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


@contextlib.contextmanager
def serving(tmp_path: Path, *flags: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`rnn-tui corpora/tiny.txt --serve` on a free port; yields the process and its URL."""
    port = free_port()
    log = (tmp_path / f"serve-{port}.log").open("wb")
    cmd = [*rnn_tui_command(), "corpora/tiny.txt", "--serve", "--port", str(port), *flags]
    server = subprocess.Popen(
        cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until(lambda: server.poll() is not None or get_ok(url), 15, "server listening")
        assert server.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
        yield server, url
    finally:
        seen = descendants(server.pid)
        kill_group(server)
        for pid in seen:  # sessions run in process groups of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def get_ok(url: str) -> bool:
    try:
        return get(url)[0] in (200, 503)
    except OSError:
        return False


class Page:
    """One Chromium tab, driven over its DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_json({"id": my_id, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 30)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            if data.get("id") == my_id:
                assert "error" not in data, data
                return dict(data.get("result", {}))
            self.events.append(data)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def request_urls(self) -> list[str]:
        urls = []
        for e in self.events:
            if e.get("method") == "Network.requestWillBeSent":
                urls.append(e["params"]["request"]["url"])
            elif e.get("method") == "Network.webSocketCreated":
                urls.append(e["params"]["url"])
        return urls


@contextlib.asynccontextmanager
async def chromium(tmp_path: Path) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """Headless Chromium that can reach 127.0.0.1 only; yields a client and its DevTools URL."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it")
        pytest.skip("needs chromium (apt-get install chromium; .ci/run installs it)")
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no internet
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--window-size=1200,800",
        "about:blank",
    ]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        active = profile / "DevToolsActivePort"
        port = wait_until(
            lambda: active.exists() and (active.read_text().split() or [None])[0], 20, "chromium"
        )
        async with aiohttp.ClientSession() as client:
            yield client, f"http://127.0.0.1:{port}"
    finally:
        kill_group(proc)
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.asynccontextmanager
async def open_tab(client: aiohttp.ClientSession, devtools: str) -> AsyncIterator[Page]:
    async with client.put(f"{devtools}/json/new?about:blank") as r:
        target = await r.json()
    try:
        async with client.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = Page(ws)
            await page.call("Network.enable")
            await page.call("Page.enable")
            await page.call("Page.addScriptToEvaluateOnNewDocument", source=WS_HOOK)
            yield page
    finally:
        async with client.get(f"{devtools}/json/close/{target['id']}") as r:
            await r.read()


async def wait_for_text(page: Page, words: tuple[str, ...], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = await page.evaluate("window.__termText || ''")
        if all(w in text for w in words):
            return text
        await asyncio.sleep(0.25)
    missing = [w for w in words if w not in text]
    raise AssertionError(f"the terminal never showed {missing}; it got {text[-2000:]!r}")


def looks_drawn(stats: dict[str, int]) -> bool:
    """Not blank: many colours, text, the blue curves and bars, orange marks."""
    area = stats["width"] * stats["height"]
    return (
        stats["colours"] > 40
        and stats["bright"] > 0.02 * area
        and stats["light"] > 500
        and stats["blueTop"] > 500
        and stats["orange"] > 100
    )


# The last screenshot, kept where pytest's rotation of its tmp dirs does not reach it, so a
# failure can be looked at afterwards (its path is in the assertion message).
KEPT_SHOT = Path(tempfile.gettempdir()) / "rnn-tui-test-serve-page.png"


async def drawn_screenshot(page: Page, seconds: float) -> tuple[dict[str, int], Path]:
    """Screenshots every half second until one `looks_drawn` (the words arrive before the
    first chart and bars are painted) or `seconds` pass; the last one's stats, and where it
    is kept."""
    deadline = time.monotonic() + seconds
    while True:
        await asyncio.sleep(0.5)  # let xterm.js paint the last frames
        shot = (await page.call("Page.captureScreenshot", format="png"))["data"]
        KEPT_SHOT.write_bytes(base64.b64decode(shot))
        stats = json.loads(await page.evaluate(PIXEL_STATS % shot))
        if looks_drawn(stats) or time.monotonic() > deadline:
            return stats, KEPT_SHOT


def foreign_links(html: str, url: str) -> list[str]:
    """http(s) URLs in `html` that point anywhere but the server itself."""
    return [u for u in re.findall(r"https?://[^\s\"'<>)]+", html) if not u.startswith(url)]


@pytest.mark.functional
def test_browser_shows_the_panes_offline_and_the_cap_turns_the_next_away(
    tmp_path: Path,
) -> None:
    """If this fails, `rnn-tui PATH --serve` does not give a working app in a browser without
    internet, does not pass the user's flags on, or lets a connection over the cap start
    another trainer (or never gives a slot back when a browser leaves)."""

    async def scenario(url: str) -> None:
        async with (
            chromium(tmp_path) as (client, devtools),
            open_tab(client, devtools) as page,
        ):
            await page.call("Page.navigate", url=url)
            text = await wait_for_text(page, (*PANE_WORDS, "gru"), 40)
            assert "Traceback" not in text
            stats, kept = await drawn_screenshot(page, 20)
            assert looks_drawn(stats), (stats, kept)
            # Nothing was fetched from anywhere but the server (it is offline anyway).
            origin = url.split("//", 1)[1]
            urls = [u for u in page.request_urls() if not u.startswith(("data:", "blob:"))]
            assert any(u.startswith("ws://") for u in urls), urls
            assert all(u.split("//", 1)[1].startswith(origin) for u in urls), urls
            # The second connection while the first runs: the "full" page, no trainer.
            async with open_tab(client, devtools) as second:
                await second.call("Page.navigate", url=url)
                body = await wait_page_text(second, "server is full", 15)
                assert "1 of 1 sessions" in body

    with serving(tmp_path, "--max-sessions", "1", "--cell", "gru", "--hidden", "48") as (
        server,
        url,
    ):
        status, html = get(url)
        assert status == 200 and 'id="terminal"' in html
        assert foreign_links(html, url) == []
        assert "googleapis" not in html and "@import" not in html
        asyncio.run(scenario(url))
        wait_until(lambda: get(url)[0] == 200, 15, "the slot given back after the tab closed")
        wait_until(lambda: not descendants(server.pid), 10, "the session's processes ended")


async def wait_page_text(page: Page, needle: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    body = ""
    while time.monotonic() < deadline:
        body = await page.evaluate("document.body ? document.body.innerText : ''")
        if needle in body:
            return str(body)
        await asyncio.sleep(0.2)
    raise AssertionError(f"the page never said {needle!r}: {body!r}")


async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read a session's frames until it closes (an unread socket would stall the app)."""
    while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
        pass


@pytest.mark.functional
def test_cap_in_the_terminal_crash_frees_the_slot_and_stop_ends_all(tmp_path: Path) -> None:
    """If this fails, a connection that beats the "full" page gets a trainer anyway, a crashed
    session keeps its slot for ever, or stopping the server leaves trainers running."""

    async def scenario(server: subprocess.Popen[bytes], url: str) -> None:
        ws_url = url.replace("http://", "ws://") + "ws?width=100&height=30"

        async def session_started() -> list[int]:
            """The new session's app and trainer processes, once both run."""

            return await asyncio.to_thread(session_processes, server.pid)

        async with aiohttp.ClientSession() as client:
            first = await client.ws_connect(ws_url)
            reader = asyncio.create_task(drain(first))
            kids = await session_started()
            # Over the cap at the websocket: a notice in the terminal, then "try again later".
            second = await client.ws_connect(ws_url)
            msg = await second.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.BINARY and b"server is full" in msg.data
            msg = await second.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1013
            assert children(server.pid) == kids[:1]  # the one session, no new app
            # A session that crashes gives its slot back, and its socket is closed.
            os.kill(kids[0], signal.SIGKILL)
            await asyncio.wait_for(reader, 15)
            await asyncio.to_thread(wait_until, lambda: get(url)[0] == 200, 15, "slot freed")
            # Its trainer notices that its app is gone within a moment (it polls for that).
            await asyncio.to_thread(
                wait_until, lambda: not [p for p in kids if running(p)], 5, "crashed session ended"
            )
            # A new session, then the server is stopped: everything ends.
            third = await client.ws_connect(ws_url)
            reader = asyncio.create_task(drain(third))
            kids = await session_started()
            server.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(server.wait, 15) == 0
            assert not [p for p in kids if running(p)], "stopping the server left processes"
            await asyncio.wait_for(reader, 5)

    with serving(tmp_path, "--max-sessions", "1", "--hidden", "16") as (server, url):
        asyncio.run(scenario(server, url))


@pytest.mark.functional
def test_sessions_end_when_the_server_is_killed(tmp_path: Path) -> None:
    """If this fails, `kill -9` of the server leaves every session training for ever."""

    async def scenario(server: subprocess.Popen[bytes], url: str) -> None:
        ws_url = url.replace("http://", "ws://") + "ws?width=100&height=30"
        async with aiohttp.ClientSession() as client:
            ws = await client.ws_connect(ws_url)
            reader = asyncio.create_task(drain(ws))
            kids = await asyncio.to_thread(session_processes, server.pid)
            server.kill()
            server.wait(5)
            await asyncio.to_thread(
                wait_until, lambda: not [p for p in kids if running(p)], 15, "orphans gone"
            )
            reader.cancel()

    with serving(tmp_path, "--hidden", "16") as (server, url):
        asyncio.run(scenario(server, url))


@pytest.mark.functional
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt", "--serve"], "no such file"),
        (["corpora/tiny.txt", "--serve", "--hidden", "0"], "--hidden must be between"),
        (["corpora/tiny.txt", "--serve", "--max-sessions", "0"], "--max-sessions must be >= 1"),
        (["corpora/tiny.txt", "--serve", "--headless"], "cannot be combined with --headless"),
        (["corpora/tiny.txt", "--serve", "--port", "70000"], "--port must be between"),
    ],
)
def test_bad_input_fails_before_serving(args: list[str], message: str) -> None:
    """If this fails, a typo starts a server that then fails in every browser, or ends in a
    traceback instead of one line."""
    port = [] if "--port" in args else ["--port", str(free_port())]
    cmd = [*rnn_tui_command(), *args, *port]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stdout == ""  # never said it was serving


@pytest.mark.functional
def test_port_in_use_is_one_line() -> None:
    """If this fails, a busy port gives a traceback instead of saying so."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run(
            [*rnn_tui_command(), str(TINY), "--serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 2, out
    assert f"cannot serve on 127.0.0.1:{port}" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_sessions_get_every_flag_but_the_serve_flags() -> None:
    """If this fails, the app in the browser ignores the user's flags, or tries to serve."""
    parser = build_parser()
    argv = [
        "c.txt",
        "--serve",
        "--hidden",
        "32",
        "--port=9000",
        "--host",
        "0.0.0.0",
        "--cell",
        "gru",
        "--max-sessions",
        "2",
        "--compare=rnn,lstm",
    ]
    assert session_argv(argv) == [
        "c.txt",
        "--hidden",
        "32",
        "--cell",
        "gru",
        "--compare=rnn,lstm",
    ]
    assert parser.parse_args(argv).max_sessions == 2
    assert session_argv(["c.txt", "--allow-origin=https://a.example", "--", "--serve"]) == [
        "c.txt",
        "--",
        "--serve",
    ]


def test_serve_flags_are_the_parsers_browser_view_options() -> None:
    """If this fails, a serve option was added, renamed or given a value on the command line
    but not in SERVE_FLAGS: the sessions would get it (and a session told --serve serves
    again), or a session's flag would be eaten as its value."""
    parser = build_parser()
    help_text = parser.format_help()
    section = help_text.split("browser view:", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^  (--[a-z-]+)", section, flags=re.MULTILINE))
    assert listed == set(SERVE_FLAGS)
    for flag, takes_value in SERVE_FLAGS.items():
        words = [flag, "7"] if takes_value else [flag]
        assert len(_typed(words, parser)) == 1, flag  # the parser knows it, as one option
        assert parser.parse_known_args(words)[1] == [], flag  # and takes the value, if any
        if not takes_value:
            assert parser.parse_args([flag, "c.txt"]).path == "c.txt", flag  # not its value
