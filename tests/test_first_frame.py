"""Quicker to start (issue 16): the command line starts the trainer process before it loads the
UI, the first frame waits for neither the trainer nor NumPy, and a source the app starts itself
(a replay, a remote run) is started after the first frame."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from conftest import TINY, booted
from test_snapshots import FixedSource

from rnn_tui.engine.config import Config
from rnn_tui.run.spec import RunSpec, check_spec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.settings import UISettings

pytestmark = pytest.mark.functional


class WatchingSource(FixedSource):
    """Notes, when asked to start, whether the app had drawn its screen by then."""

    def __init__(self) -> None:
        self.app: RnnApp | None = None
        self.drawn_at_start: bool | None = None

    def start(self, background: bool = False) -> None:
        assert self.app is not None
        status = self.app.status_bar
        # The bar keeps the lines it drew last: it has some once the compositor drew it.
        self.drawn_at_start = bool(status._drawn) and status.region.width > 0


def test_the_app_starts_its_source_after_the_first_frame() -> None:
    """If this fails, the screen stays blank while the app starts its source (a replay reads
    its recording, a remote run connects): the class waits longer for the first picture, and
    it comes with no model behind it anyway."""
    source = WatchingSource()

    async def main() -> None:
        app = make_app(RunSpec(str(TINY), (Config(),)), UISettings(), source=source)
        source.app = app
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.pause()
            assert app.snapshot is None  # no model yet: nothing came from a trainer
            assert "STARTING" in app.status_bar.plain_text
        assert source.drawn_at_start is True

    asyncio.run(main())


# Run `rnn-tui TINY` with the trainer's start replaced: note whether the UI was loaded by then.
TRAINER_FIRST = """
import sys
from rnn_tui.cli import main
from rnn_tui.run.source import TrainerProcess

def start(self, background=False):
    print("ui loaded" if "textual" in sys.modules else "ui not loaded", flush=True)
    raise SystemExit(0)

TrainerProcess.start = start
main([sys.argv[1]])
"""


def test_the_trainer_starts_before_the_ui_loads() -> None:
    """If this fails, the trainer process waits for Textual to load and the first frame to be
    drawn (half a second or more on a busy machine) before it starts training, and the first
    words of a sample come that much later."""
    out = subprocess.run(
        [sys.executable, "-c", TRAINER_FIRST, str(TINY)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ui not loaded"


def test_first_frame_shows_before_the_model_exists(monkeypatch) -> None:
    """If this fails, the first picture waits for the model: the panes' boxes, the status and
    the keys should be on screen before the lanes (their cells and weights) are made."""
    seen: dict[str, object] = {}
    build = RnnApp.build

    def watching_build(self: RnnApp) -> None:
        status = self.status_bar
        seen["drawn"] = bool(status._drawn) and status.region.width > 0
        seen["lanes"] = len(self.lanes)
        seen["boxes"] = [b.border_title for b in self.query(".grads, .lane")]
        build(self)

    monkeypatch.setattr(RnnApp, "build", watching_build)

    async def main() -> None:
        spec = RunSpec(str(TINY), (Config(),))
        app = RnnApp(FixedSource(), spec=spec, vocab=check_spec(spec), settings=UISettings())
        async with app.run_test(size=(80, 24)) as pilot:
            await booted(pilot)
            assert len(app.lanes) == 1 and app.lanes[0].grad_pane.is_mounted

    asyncio.run(main())
    assert seen == {
        "drawn": True,
        "lanes": 0,
        "boxes": ["gradient through time", "samples"],
    }


# What the first frame must not wait for: the model code and the libraries of the panes.
HEAVY = ("numpy", "plotext", "rnn_tui.engine.model", "rnn_tui.ui.lane", "rnn_tui.run.worker")

FIRST_FRAME = """
import asyncio, sys
from rnn_tui.cli import build_parser, make_spec, _typed
from rnn_tui.run.spec import check_spec
from rnn_tui.ui.app import RnnApp, make_app

async def boot(self):  # the first frame is out: note what was loaded for it, then quit
    print(",".join(m for m in HEAVY if m in sys.modules) or "none")
    self.exit(0)

RnnApp.boot = boot
argv = [sys.argv[1]]
parser = build_parser()
spec = make_spec(parser.parse_args(argv), _typed(argv, parser))
app = make_app(spec, vocab=check_spec(spec))

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

asyncio.run(main())
"""


def test_first_frame_loads_neither_numpy_nor_the_model_code() -> None:
    """If this fails, a module the first frame needs imports NumPy, plotext or the model code
    at its top, and the app's first picture waits for them again (about twice as long as a
    bare Textual app's): import it where it is used, after the first frame."""
    code = f"HEAVY = {HEAVY!r}\n{FIRST_FRAME}"
    out = subprocess.run(
        [sys.executable, "-c", code, str(TINY)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "none"


def test_quitting_while_the_panes_are_built_ends_cleanly(monkeypatch) -> None:
    """If this fails, q pressed in the first half second (while the panes are being built)
    ends the app with a traceback and exit code 1 instead of quitting."""
    build = RnnApp.build

    def quit_during_build(self: RnnApp) -> None:
        build(self)
        self.exit(return_code=0)  # as q does, between the first frame and the panes

    monkeypatch.setattr(RnnApp, "build", quit_during_build)

    async def main() -> int | None:
        spec = RunSpec(str(TINY), (Config(),))
        app = RnnApp(FixedSource(), spec=spec, vocab=check_spec(spec), settings=UISettings())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
        return app.return_code

    assert asyncio.run(main()) == 0


class _Loading:
    """A plotext loader thread that is still importing."""

    def is_alive(self) -> bool:
        return True


def test_the_loss_chart_waits_while_plotext_loads() -> None:
    """If this fails, the first chart redraw imports plotext on the UI thread (a fifth of a
    second with nothing typed) while a thread is loading it anyway, or the gradient pane
    waits for it too."""
    from test_snapshots import fixed_app
    from test_snapshots import fixed_snapshot as snapshot

    async def main() -> None:
        app = fixed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await booted(pilot)
            app._plotext_loader = _Loading()  # type: ignore[assignment]
            app._drawn_at = {"loss": 0.0, "grads": 1.0}  # the loss chart's turn
            built = app.loss_chart.render_count
            app.show_snapshots((snapshot(app.vocab.size),))
            assert "loss" in app._stale and "grads" not in app._stale  # it waits, grads go
            assert app.loss_chart.render_count == built
            app._plotext_loader = None  # loaded
            app._draw_charts()
            assert "loss" not in app._stale and app.loss_chart.render_count == built + 1

    asyncio.run(main())


# Start a trainer as the command line does before the UI loads; say what it runs, what this
# process imported for it, whether snapshots came once asked, and whether it stopped.
STARTED = """
import os, sys, time
from rnn_tui.engine.config import Config
from rnn_tui.run.source import TrainerProcess
from rnn_tui.run.spec import RunSpec

def runs(pid):
    end = time.monotonic() + 10
    while time.monotonic() < end:  # empty for a moment while exec sets the program up
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            line = f.read()
        if line:
            break
        time.sleep(0.01)
    if line.split(b"\\0")[1:3] == [b"-m", b"rnn_tui.run.spawned"]:
        return "spawned"
    return f"something else: {line!r}"

def first_snapshot(source):
    time.sleep(1.5)  # time enough for the worker to start and load NumPy
    print("numpy loaded" if "numpy" in sys.modules else "numpy not loaded")
    print("multiprocessing loaded" if "multiprocessing" in sys.modules else "no multiprocessing")
    print("protocol loaded" if "rnn_tui.run.protocol" in sys.modules else "protocol not loaded")
    print("pickle loaded" if "pickle" in sys.modules else "pickle not loaded")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        snaps = source.poll()
        if snaps is not None:
            return f"a snapshot of the {snaps[0].cell}"
        time.sleep(0.05)
    return "no snapshot"

corpus, metrics = sys.argv[1:3]
source = TrainerProcess(RunSpec(corpus, (Config(),)), metrics_path=metrics)
source.start(background=True)
try:
    print(runs(source.process.pid))
    print(first_snapshot(source))
finally:
    source.stop()
print("stopped" if not source.process.is_alive() else "still running")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_trainer_started_before_the_ui_costs_it_no_imports_until_asked(tmp_path) -> None:
    """If this fails, starting the first trainer loads multiprocessing (8 to 11 ms of the first
    frame) or pickle in this process, or it unpickles snapshots (loading NumPy) or imports the
    protocol on its reader thread while Textual loads (each holds the interpreter's lock in
    turns with it); or the trainer it starts does not train, or does not stop."""
    metrics = tmp_path / "metrics.jsonl"
    out = subprocess.run(
        [sys.executable, "-c", STARTED, str(TINY), str(metrics)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    said = out.stdout.strip().splitlines()
    assert said == [
        "spawned",
        "numpy not loaded",
        "no multiprocessing",
        "protocol not loaded",  # no import on the reader thread either
        "pickle not loaded",  # the commands wait for the first poll, unpickled
        "a snapshot of the rnn",
        "stopped",
    ], out.stderr[-2000:]
