"""The Textual app: the first frame, the panes built after it, and the plumbing around them.

Nothing here does model math: training runs in a worker process (rnn_tui.run), the sampler
types from weight copies (rnn_tui.engine.sampling). The app is made of mixins: `Mirror`
(mirror.py) draws what the run reports, `KeyActions` (keys.py) is what each key does, and
`ProbeEvents` (probe_events.py) is the probe pane's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.filter import LineFilter
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import Footer, Static

from rnn_tui import startup
from rnn_tui.engine.text import Vocab
from rnn_tui.run.source import RunSource
from rnn_tui.run.spec import RunSpec, check_spec
from rnn_tui.textsafe import sanitize
from rnn_tui.ui.actions import REPLAY_ACTIONS, bindings, palette
from rnn_tui.ui.keys import PROJECTOR_THEME, KeyActions, command_of
from rnn_tui.ui.maximize import maximize_clicked
from rnn_tui.ui.mirror import DIGITS_MIN, TICK_HZ, Mirror
from rnn_tui.ui.probe_events import ProbeEvents
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.sources import prepared, trainer_sources
from rnn_tui.ui.widgets.model_strip import ModelStrip
from rnn_tui.ui.widgets.spelled import spelled
from rnn_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:  # loaded by `RnnApp.boot`, after the first frame
    from rnn_tui.engine.model import Cell
    from rnn_tui.ui.inside import Insider
    from rnn_tui.ui.lane import Lane
    from rnn_tui.ui.probing import Prober
    from rnn_tui.ui.widgets import LossChart
    from rnn_tui.ui.widgets.loss_readout import LossReadout
    from rnn_tui.ui.widgets.probe_pane import ProbeInput, ProbeView

LARGE_VOCAB = 1000  # from this many characters on, the status says what the output layer costs
PALETTE_HINT_MIN = 118  # from this width on, the footer shows the ^p palette hint too
MIN_SIZE = (60, 16)  # below this the panes cannot be drawn legibly: ask for more room
KEY_TRACE_ENV = "RNN_TUI_KEY_TRACE"  # a file: every action appends "<monotonic time> <action>"
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)  # save (--autosave), then quit


class RnnApp(KeyActions, ProbeEvents, Mirror, App[int]):
    """rnn-tui: loss, per-timestep gradients and samples of a recurrent network, live."""

    CSS_PATH = "app.tcss"
    TITLE = "rnn-tui"
    ENABLE_COMMAND_PALETTE = True
    # Size classes that Textual keeps on every screen, including one under the help screen:
    # -narrow or -short is too small for the panes; -wide and -tall show the large digits.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_SIZE[0], "-normal"), (DIGITS_MIN[0], "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_SIZE[1], "-medium"), (DIGITS_MIN[1], "-tall")]
    BINDINGS = bindings()

    def __init__(
        self,
        source: RunSource,
        *,
        spec: RunSpec,
        vocab: Vocab,
        settings: UISettings | None = None,
        new_source: Callable[[RunSpec], RunSource] | None = None,
        animate: bool = True,
    ) -> None:
        super().__init__()
        settings = settings or UISettings()
        self.register_theme(PROJECTOR_THEME)
        self._default_theme = self.theme
        # --ascii and NO_COLOR: filters on every drawn line (glyphs.py)
        self._reach = super().get_line_filters()
        self.ascii_only = settings.ascii_only  # own text spelled out (widgets/spelled.py)
        if settings.ascii_only or self.no_color:
            from rnn_tui.ui.glyphs import line_filters

            self._reach = line_filters(self._reach, settings.ascii_only, self.no_color)
        if settings.high_contrast:
            self.theme = PROJECTOR_THEME.name
        self.source = source  # where snapshots come from and commands go
        self.spec = spec  # what the run was built from: corpus path and configs
        self.new_source = new_source  # starts another trainer process, from a spec
        self.vocab = vocab  # characters in id order, for the sampler
        self.settings = settings  # sampling, export paths and the like: the app's own
        self.sampling = settings.sampling  # temperature and top-k now (t / T change it)
        self.corpus_name = os.path.basename(spec.corpus_name) or spec.corpus_name
        self.animate = animate  # False in snapshot tests: no timers, nothing moves
        # The panes and what feeds them are made by `boot`, after the first frame: they need
        # NumPy and the model code, which take longer to load than Textual takes to draw.
        self.booted = False  # whether `boot` has built and mounted the panes
        self.lanes: list[Lane] = []  # one per run: its cell, gradient pane and samples
        self.saved_message: str | None = None  # what the autosave said, printed after exit
        self.neuron_unit = 0  # the hidden unit the neuron view colours by
        self.neuron_view = False  # whether the first lane shows the neuron view
        self.notice = ""  # last message for the status line
        self.source_lost = ""  # how the source ended, once it has
        self.awaited: set[int] = set()  # ids of requests whose replies the status shows
        self.silent = False  # no snapshot for SILENCE seconds (a stopped or stuck trainer)
        self._next_check = 0.0  # monotonic time of the next look at the source
        self._stale: set[str] = set()  # chart kinds ("loss", "grads") behind the snapshot
        self._drawn_at = {"loss": 0.0, "grads": 0.0}  # monotonic time of each kind's last redraw
        # plotext takes a fifth of a second to import: a thread loads it while the first
        # samples type, and the loss chart waits for it (`boot`, `_draw_charts`).
        self._plotext_loader: threading.Thread | None = None
        self._digits: tuple[float | None, float] = (None, 0.0)  # held-out loss shown, next time
        self._type_credit = 0.0
        self._key_trace = os.environ.get(KEY_TRACE_ENV)  # for the latency benchmark
        # The panes, kept by reference: timers may fire while another screen is on top.
        self.status_bar = StatusBar(id="status")
        self.model_strip = ModelStrip([k.cell for k in spec.configs], settings.banner, id="model")
        self.footer = Footer(compact=True)
        self.too_small = Static(id="too-small")
        self._probe_echo = ""  # the input line's value as the app set it (not typed)
        self._probe_weights: tuple[int, ...] = ()  # ids of the weights probed last
        # Made by `boot`:
        self.loss_chart: LossChart  # the loss curves
        self.loss_digits: LossReadout  # held-out loss, large, in big windows
        self.probe_views: list[ProbeView]  # the probe pane (i): one view per lane, in its box
        self.probe_input: ProbeInput  # ... and one input line under them
        self.prober: Prober  # the probe's text, cursor, shading and worker
        self.inside: Insider  # the spectrum and gates views in the gradient panes' place (w)

    def build(self) -> None:
        """Make the lanes and panes (NumPy and the model code are imported here)."""
        from rnn_tui.engine.model import make_cell
        from rnn_tui.ui.inside import Insider
        from rnn_tui.ui.lane import Lane
        from rnn_tui.ui.probing import Prober
        from rnn_tui.ui.widgets import LossChart
        from rnn_tui.ui.widgets.loss_readout import LossReadout
        from rnn_tui.ui.widgets.probe_pane import ProbeInput, ProbeView

        spec, vocab, settings = self.spec, self.vocab, self.settings
        c = spec.configs[0]
        self.lanes = [
            Lane(
                make_cell(k.cell, vocab.size, k.hidden, k.dtype),
                i,
                settings.sampling.sample_len,
                c.seed,
                c.reset_at,
            )
            for i, k in enumerate(spec.configs)
        ]
        self.loss_chart = LossChart(id="loss", vocab_size=vocab.size)
        self.loss_digits = LossReadout(id="loss-digits")
        self.probe_views = [
            ProbeView(id=f"probe{i}", classes="probe") for i in range(len(self.lanes))
        ]
        self.probe_input = ProbeInput(
            placeholder="type or paste text to probe · Enter: to the text and its keys · Esc: close",
            id="probe-input",
            compact=True,
        )
        self.prober = Prober(
            vocab.chars,
            lambda work: self.run_worker(work, thread=True, group="probe", exit_on_error=False),
            self.call_from_thread,
            self.draw_probe,
        )
        self.inside = Insider(
            self.lanes,
            lambda: self.spec,
            vocab.chars,
            lambda work: self.run_worker(work, thread=True, group="inside", exit_on_error=False),
            self.call_from_thread,
        )

    # -- layout ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        return _MainScreen(id="_default")

    def compose(self) -> ComposeResult:
        """The first frame: the model strip, the panes' empty boxes with their titles, the
        status (STARTING) and the keys. `boot` puts the panes in the boxes' place."""
        yield self.model_strip
        yield _Panes(self)
        yield self.status_bar
        yield self.footer
        yield self.too_small

    def on_resize(self, event: events.Resize) -> None:
        w, h = event.size
        # The palette hint needs room the key list has only from PALETTE_HINT_MIN columns on.
        self.footer.show_command_palette = w >= PALETTE_HINT_MIN
        if w < MIN_SIZE[0] or h < MIN_SIZE[1]:  # shown by the breakpoint classes
            self.too_small.update(
                f"rnn-tui needs a window of at least {MIN_SIZE[0]}x{MIN_SIZE[1]};"
                f" this one is {w}x{h}. Make it bigger: training goes on meanwhile."
            )

    def _title_panes(self) -> None:
        """Each box's title, on the first frame's empty boxes and on the panes alike. Side by
        side each names its run first ("lstm: samples"): a narrow window cuts a title's end."""
        names = [f"{c.cell}: " if self.compare else "" for c in self.spec.configs]
        self.query_one("#loss-box").border_title = "loss"
        for box, name in zip(self.query(".grads").exclude(".inside"), names, strict=False):
            box.border_title = f"{name}gradient through time"
        for box, name in zip(self.query(".lane"), names, strict=False):
            box.border_title = f"{name}samples"
        self.query(".lane").first().border_subtitle = "i: probe"

    async def on_mount(self) -> None:
        self._title_panes()
        if self.animate:
            with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
                loop = asyncio.get_running_loop()  # signals must not kill us mid-draw
                for sig in QUIT_SIGNALS:
                    loop.add_signal_handler(sig, self.on_signal, sig)
            self.call_after_refresh(self.boot)  # the first frame goes out first
        else:
            await self.boot()

    async def boot(self) -> None:
        """Start the source (the command line has started the trainer process already, see
        `launch.py`), load NumPy and the model code and build the panes in the first frame's
        boxes' place: the first frame waits for none of it. Then garbage collection, held off
        by the command line since it started, resumes (`startup.py`)."""
        try:
            await self._boot()
        finally:
            startup.resume(freeze=True)  # what start-up made stays: later collections skip it

    async def _boot(self) -> None:
        if self.animate:
            self.source.start(True)  # a trainer loads on the other core while this one builds
        self.build()
        if self.animate:
            self._plotext_loader = threading.Thread(
                target=importlib.import_module, args=("plotext",), name="load-plotext", daemon=True
            )
            self._plotext_loader.start()
        try:
            await self.query_one(_Panes).recompose()  # the panes in the empty boxes' place
        except MountError:
            if self.return_code is None:
                raise
        if self.return_code is not None:  # q (or a signal) while the panes were being built
            return
        self._title_panes()
        if self.vocab.size >= LARGE_VOCAB:  # say what a large vocabulary costs, once, at the start
            self.notice = large_vocab_notice(self.cell)
        self.inside.mount()
        for view in self.probe_views:
            view.vocab_size = self.vocab.size
        self.booted = True
        self.screen.refresh_bindings()  # the keys were held back until now (`check_action`)
        self.update_status()
        if self.animate:
            self.set_interval(1 / TICK_HZ, self.tick)

    @property
    def replaying(self) -> bool:
        """Whether the source is a recording played back. (A replay's source is made from its
        module, by `rnn-tui replay`; a live run never loads that module, 12 ms of imports, so
        it is not loaded here to ask.)"""
        replay = sys.modules.get("rnn_tui.run.replay")
        return replay is not None and isinstance(self.source, replay.ReplaySource)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Until the panes are built (`boot`), only quitting: every other key acts on them, so
        it does nothing and the footer leaves it out (fewer widgets in the first frame). Then
        a key that does nothing here does nothing, and the footer says so: a key that works
        in another way of running the same thing is dimmed (None, in Textual's terms): a
        read-only viewer's space (with --control it pauses), `l` side by side. One that
        cannot work is left out (False): a replay's training keys (a recording does not
        train), the replay's own keys anywhere else; so a replay's footer has room for them."""
        if not self.booted:
            return action == "quit_app"
        if self.obeyed(action):
            return True
        return False if self.replaying or action in REPLAY_ACTIONS else None

    def obeyed(self, action: str) -> bool:
        """Whether the key `action` does something here: the source carries out its command
        (`RunSource.takes`), a replay's keys move a replay, and side by side the cells are
        fixed (`l` would say so only)."""
        if action.split("(")[0] in REPLAY_ACTIONS:  # the palette's have their parameters
            return self.replaying
        if action == "next_cell" and self.compare:
            return False
        kind = command_of(action)
        return kind is None or self.source.takes(kind)

    # -- plumbing ----------------------------------------------------------------------------

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:  # type: ignore[no-untyped-def]
        """Every key's action, noted in the key trace for the latency benchmark first."""
        if self._key_trace and isinstance(action, str):
            with open(self._key_trace, "a", encoding="utf-8") as f:
                f.write(f"{time.monotonic():.6f} {action.split('(')[0]}\n")
        return await super().run_action(action, default_namespace, namespaces)

    def on_click(self, event: events.Click) -> None:
        maximize_clicked(self.screen, event.widget)  # Esc restores (Textual)

    def get_line_filters(self) -> list[LineFilter]:
        return [f for f in self._reach if f.enabled]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette():
            if self.obeyed(action):  # what the source refuses is not offered
                yield SystemCommand(
                    title, spelled(self, help_text), partial(self.run_action, action)
                )

    def on_unmount(self) -> None:
        self.finish()
        with contextlib.suppress(RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            for sig in QUIT_SIGNALS:
                loop.remove_signal_handler(sig)


def large_vocab_notice(cell: Cell) -> str:
    """What `cell`'s vocabulary costs it, within the status line's `NOTICE_ROOM`: the share of
    its weights in the output layer (W_hy and b_y, a row per character), and so of each step's
    work."""
    shapes = cell.param_shapes()
    share = (math.prod(shapes["Why"]) + math.prod(shapes["by"])) / cell.n_params()
    return f"V={cell.V:,}: {share:.0%} of the weights are the output layer's"


def make_app(
    spec: RunSpec,
    settings: UISettings | None = None,
    *,
    source: RunSource | None = None,
    vocab: Vocab | None = None,
    record: str | None = None,
    wrap: Callable[[RunSource], RunSource] | None = None,
) -> RnnApp:
    """The app exactly as the command line builds it; its trainer process builds the runs.
    `wrap` is applied to every trainer's source (--listen publishes what it yields)."""
    s = prepared(settings or UISettings())
    new_source = trainer_sources(s, record, wrap)
    return RnnApp(
        source or new_source(spec),
        spec=spec,
        vocab=vocab or check_spec(spec),
        settings=s,
        new_source=new_source,
    )


def run_to_end(app: RnnApp) -> int:
    """Run `app` until the user quits; its source is stopped whatever happens, and what the
    autosave said is printed after. Returns the exit code: 1 after a crash, 128 + n after
    signal n."""
    try:
        app.run()
    finally:
        app.source.stop()
    if app.saved_message:
        print(f"rnn-tui: {sanitize(app.saved_message)}", file=sys.stderr)
    return app.return_code or 0


class _MainScreen(Screen):
    """The panes' screen. Nothing on it takes the focus by itself: Textual would give it to the
    sample pane whenever the screen comes back (after the help, `P` or a replay's `j`), and
    its scrolling keys would then stand in the footer's place of the app's own (a replay's
    ← / →). The probe focuses its input line and views itself."""

    AUTO_FOCUS = ""


class _Panes(Vertical):
    """#main: loss and gradients on top, the samples (or the probe) below, then the probe's
    input line. Until `RnnApp.build` has made the lanes, the panes' empty boxes (the first
    frame); `RnnApp.boot` then composes it again with the panes."""

    def __init__(self, app: RnnApp) -> None:
        super().__init__(id="main", classes="compare" if app.compare else "")
        self._rnn = app

    def compose(self) -> ComposeResult:
        a = self._rnn
        boxes = range(len(a.spec.configs))  # one gradient pane and one sample box per run
        with Horizontal(id="top"):
            with Vertical(id="loss-box"):
                if a.lanes:
                    yield a.loss_digits
                    yield a.loss_chart
            if a.lanes:
                yield from (lane.grad_pane for lane in a.lanes)
                yield from a.inside.panes
            else:
                yield from (Static(classes="grads") for _ in boxes)
        with Horizontal(id="bottom"):
            if not a.lanes:
                yield from (Static(classes="lane") for _ in boxes)
            else:
                for lane, probe_view in zip(a.lanes, a.probe_views, strict=True):
                    with lane.box:
                        yield lane.sample_pane
                        yield lane.neurons
                        yield probe_view
                        yield lane.next_chars
        if a.lanes:
            yield a.probe_input
