"""`--ascii` and `NO_COLOR` in the real program, read from its terminal output."""

from __future__ import annotations

import re
import time

import pytest
from conftest import TINY

from rnn_tui.bench.terminal import PtyApp, child_env, rnn_tui_argv

pytestmark = pytest.mark.functional

SGR = re.compile(rb"\x1b\[([0-9;:]*)m")
COLOUR = re.compile(r"^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$")  # 39 and 49 are the default colours


def _launch(extra: list[str], env: dict[str, str]) -> PtyApp:
    app = PtyApp(rnn_tui_argv(TINY, *extra), env, keep=True)
    assert app.wait_frame(60.0), app.recent_output()
    return app


@pytest.fixture(scope="module")
def outputs() -> dict[str, bytes]:
    """The whole output of the app on TINY with --ascii, and with NO_COLOR=1, run side by side:
    first frame, a few seconds of training with the charts and a sample drawn, and the help
    screen (?) on top."""
    apps = {
        "ascii": _launch(["--ascii"], child_env(None)),
        "no_color": _launch([], {**child_env(None), "NO_COLOR": "1"}),
    }
    try:
        time.sleep(6.0)  # a few snapshots: charts, heat strip, a sample typing
        for app in apps.values():
            app.write(b"?")
        time.sleep(1.0)
        for app in apps.values():
            app.write(b"?")  # closes the help again
        time.sleep(0.5)
        for app in apps.values():
            app.quit()  # how it quits is the benchmark's and other tests' business
    finally:
        for app in apps.values():
            app.close()
    return {name: bytes(app.output or b"") for name, app in apps.items()}


def test_ascii_screens_hold_ascii_only(outputs: dict[str, bytes]) -> None:
    """If this fails, `rnn-tui --ascii` still sends a braille, block or box-drawing character
    (or any other outside ASCII): on a console or font without it the class sees boxes or
    question marks instead of the charts."""
    out = outputs["ascii"]
    bad = sorted({c for c in out.decode("utf-8", errors="replace") if not c.isascii()})
    assert not bad, bad
    assert b"TRAINING" in out or b"STARTING" in out
    # The help's own signs are spelled out, not turned into "?" (widgets/spelled.py).
    assert b"ln 2 ~ 0.693" in out and b"up/down or PgUp/PgDn" in out


def test_no_color_screens_have_no_colour_codes(outputs: dict[str, bytes]) -> None:
    """If this fails, NO_COLOR=1 still colours the screen (Textual's greys included): the
    colours a user asked to be rid of are still there."""
    out = outputs["no_color"]
    codes = {p for m in SGR.finditer(out) for p in re.split(r"[;:]", m.group(1).decode())}
    assert "1" in codes  # bold is kept: the state badge, the figures
    assert not {c for c in codes if COLOUR.match(c)}, sorted(codes)
