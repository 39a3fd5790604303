"""`--serve --shared`: one trainer for a class, every browser session attached to it read-only."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import aiohttp
import pytest
from conftest import patience
from test_serve import descendants, serving

pytestmark = pytest.mark.functional


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def screen_text(ws: aiohttp.ClientWebSocketResponse, needles: tuple[str, ...]) -> str:
    """What a session's terminal shows, escape sequences left out, once it holds `needles`."""
    text = ""
    deadline = asyncio.get_running_loop().time() + patience(60)
    while not all(n in text for n in needles):
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"the session never showed {needles}: {text[-2000:]!r}"
        msg = await ws.receive(timeout=left)
        assert msg.type == aiohttp.WSMsgType.BINARY, (msg, text[-2000:])
        text += re.sub(r"\x1b\[[0-9;?<>=$]*[A-Za-z]", "", msg.data.decode(errors="replace"))
    return text


def test_shared_sessions_watch_one_trainer_read_only(tmp_path: Path) -> None:
    """If this fails, `--serve --shared` starts a trainer per browser tab (three tabs would
    fill two cores), or a tab shows something other than the one run, read-only."""

    async def scenario(server: subprocess.Popen[bytes], url: str) -> None:
        ws_url = url.replace("http://", "ws://") + "ws?width=120&height=40"
        async with aiohttp.ClientSession() as client:
            tabs = [await client.ws_connect(ws_url) for _ in range(2)]
            for ws in tabs:
                await screen_text(ws, ("attached to 127.0.0.1", "read-only", "TRAINING"))
            family = [cmdline(p) for p in descendants(server.pid)]
            trainers = [c for c in family if "--headless" in c]
            viewers = [c for c in family if " attach 127.0.0.1:" in c]
            assert len(trainers) == 1, family
            assert len(viewers) == 2, family
            for ws in tabs:
                await ws.close()

    with serving(tmp_path, "--shared", "--max-sessions", "2", "--hidden", "16") as (server, url):
        asyncio.run(scenario(server, url))
