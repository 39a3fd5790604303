"""The Textual app: it renders what a run's source reports and sends it the user's keys.

Nothing here does model math: training runs in a worker process (rnn_tui.run), the sampler
types from weight copies (rnn_tui.engine.sampling), and what each key does is in `keys.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
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
from rnn_tui.ui.actions import bindings, palette
from rnn_tui.ui.keys import PROJECTOR_THEME, KeyActions, command_of
from rnn_tui.ui.maximize import maximize_clicked
from rnn_tui.ui.probe_events import ProbeEvents
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.sources import prepared, trainer_sources
from rnn_tui.ui.widgets.model_strip import ModelStrip
from rnn_tui.ui.widgets.spelled import spelled
from rnn_tui.ui.widgets.status_bar import StatusBar, recall_text

if TYPE_CHECKING:  # loaded by `RnnApp.boot`, after the first frame
    from rnn_tui.engine.model import Cell
    from rnn_tui.run.protocol import Snapshot
    from rnn_tui.ui.inside import Insider
    from rnn_tui.ui.lane import Lane
    from rnn_tui.ui.probing import Prober
    from rnn_tui.ui.widgets import LossChart, SamplePane
    from rnn_tui.ui.widgets.loss_readout import LossReadout
    from rnn_tui.ui.widgets.probe_pane import ProbeInput, ProbeView

# One timer polls the run and types the samples, so the screen is drawn at most this often while
# training: each frame costs the UI process a few milliseconds, whatever changed.
TICK_HZ = 10.0  # 6 characters a tick (60 a second; 12 early in a run) type smoothly
CHART_HZ = 2.2  # redraws of each chart per second at most (2 with 10 ticks a second): bytes count
CHARS_PER_S = 60.0  # typing speed of the sample pane
START_CHARS_PER_S = 120.0  # ... while a run is young (`Lane.young`): the first words come sooner
LARGE_VOCAB = 1000  # from this many characters on, the status says what the output layer costs
DIGITS_MIN = (110, 36)  # from this window size on, the loss also shows in large digits
DIGITS_EVERY = 2.0  # seconds between two updates of the smoothed loss under the large digits
PALETTE_HINT_MIN = 118  # from this width on, the footer shows the ^p palette hint too
MIN_SIZE = (60, 16)  # below this the panes cannot be drawn legibly: ask for more room
KEY_TRACE_ENV = "RNN_TUI_KEY_TRACE"  # a file: every action appends "<monotonic time> <action>"
LIVENESS_EVERY = 0.25  # seconds between two looks at whether the source still runs
SILENCE = 3.0  # seconds without a snapshot after which the status says the source is silent
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)  # save (--autosave), then quit


class RnnApp(KeyActions, ProbeEvents, App[int]):
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

    # -- what the run says, mirrored -----------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        """The newest snapshot of the first run."""
        return self.lanes[0].snapshot if self.lanes else None

    @property
    def cell(self) -> Cell:
        return self.lanes[0].cell

    @property
    def sample_pane(self) -> SamplePane:
        return self.lanes[0].sample_pane

    @property
    def compare(self) -> bool:
        return len(self.spec.configs) > 1

    @property
    def state(self) -> str:
        """The state the status shows: the runs' own, or what became of their source."""
        from rnn_tui.run.protocol import RunState

        if self.source_lost:
            return "stopped"
        if self.silent:
            return "silent"
        snaps = [lane.snapshot for lane in self.lanes if lane.snapshot is not None]
        if not snaps:
            return RunState.STARTING.value
        if any(s.state is RunState.TRAINING for s in snaps):
            return RunState.TRAINING.value  # one diverged run does not stop the other
        return snaps[0].state.value

    @property
    def paused(self) -> bool:
        """Whether no run trains now (paused, stopped, or its source gone)."""
        from rnn_tui.run.protocol import RunState

        return self.state not in (RunState.TRAINING.value, RunState.STARTING.value, "silent")

    # -- layout ------------------------------------------------------------------------------

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
        """Each box's title, on the first frame's empty boxes and on the panes alike."""
        names = [f": {c.cell}" if self.compare else "" for c in self.spec.configs]
        self.query_one("#loss-box").border_title = "loss"
        for box, name in zip(self.query(".grads").exclude(".inside"), names, strict=False):
            box.border_title = f"gradient through time{name}"
        for box, name in zip(self.query(".lane"), names, strict=False):
            box.border_title = f"samples{name}"
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
        V, H = self.vocab.size, self.cell.H
        if V >= LARGE_VOCAB:  # say what a large vocabulary costs, once, at the start
            readout = V * H + V  # W_hy and b_y: one row per character
            self.notice = (
                f"{V:,} distinct characters: the output layer holds {readout:,} of"
                f" {self.cell.n_params():,} weights and most of each step's time"
            )
        self.inside.mount()
        for view in self.probe_views:
            view.vocab_size = V
        self.booted = True
        self.screen.refresh_bindings()  # the keys were held back until now (`check_action`)
        self.update_status()
        if self.animate:
            self.set_interval(1 / TICK_HZ, self.tick)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Until the panes are built (`boot`), only quitting: every other key acts on them, so
        it does nothing and the footer leaves it out (fewer widgets in the first frame). Then
        a key whose command the source refuses (a replay's r, a read-only viewer's space) is
        dimmed in the footer and does nothing (None, in Textual's terms)."""
        if not self.booted:
            return action == "quit_app"
        return self.obeyed(action) or None

    def obeyed(self, action: str) -> bool:
        """Whether the key `action` does something here: the source carries out its command
        (`RunSource.takes`), and side by side the cells are fixed (`l` would say so only)."""
        if action == "next_cell" and self.compare:
            return False
        kind = command_of(action)
        return kind is None or self.source.takes(kind)

    # -- source -> screen --------------------------------------------------------------------

    def tick(self) -> None:
        """What the timer does: show what the run sent, type the samples on."""
        self.poll_source()
        self.type_samples()

    def poll_source(self) -> None:
        snaps = self.source.poll()
        if snaps is not None:
            self.show_snapshots(snaps)
        elif self._stale:
            self._draw_charts()
        now = time.monotonic()
        if now >= self._next_check and not self.source_lost:
            self._next_check = now + LIVENESS_EVERY
            self._check_source(now)

    def _check_source(self, now: float) -> None:
        """Notice a source that ended or stopped answering, and say what to do."""
        ended = self.source.ended()
        if ended is not None:
            self.source_lost, self.silent = ended, False
            w = self.lanes[0].weights
            self.notice = (
                ended  # nothing to restart (an attached run): say only what happened
                if self.new_source is None
                else f"{ended}: r starts a new one from the weights of step {w[1]:,}"
                if w is not None
                else f"{ended}: r starts a new one"
            )
            self.update_status()
            return
        heard = self.source.last_heard
        quiet = 0.0 if heard is None else now - heard  # a source still starting is not silent
        if quiet >= SILENCE:
            self.silent = True
            self.notice = f"no snapshot from the trainer for {quiet:.0f} s (stopped or stuck?)"
            self.update_status()
        elif self.silent:
            self.silent = False
            self.notice = ""
            self.update_status()

    def show_snapshots(self, snaps: tuple[Snapshot, ...]) -> None:
        """Draw the runs' snapshots: status now, charts at most CHART_HZ times a second."""
        for lane, snap in zip(self.lanes, snaps, strict=False):
            lane.take(snap)
        if self.prober.is_open and self._weights_ids() != self._probe_weights:
            self.probe_compute()  # new weights: the class watches the surprise fade
        self.inside.take()  # new weights: a new spectrum, if it shows
        self.model_strip.show([lane.cell.name for lane in self.lanes])
        snap = snaps[0]
        if snap.message:
            self.notice = snap.message
        for reply in snap.replies:  # the answer to `s`: where it saved, or why it could not
            if reply.id in self.awaited or not reply.ok:  # a refusal is always told
                self.awaited.discard(reply.id)
                self.notice = reply.text
        self.update_status()
        self._stale = {"loss", "grads"}
        self._draw_charts()

    def _draw_charts(self, force: bool = False) -> None:
        """Redraw at most one chart kind per call (the loss chart or the gradient panes): one
        that is behind the snapshots and was last redrawn at least 1 / CHART_HZ seconds ago,
        the one waiting longer first. With ticks at TICK_HZ each kind moves twice a second, on
        ticks of its own: the UI thread never spends the time of both in one frame (keys stay
        quick). `force` draws both now."""
        snaps = [lane.snapshot for lane in self.lanes if lane.snapshot is not None]
        if not snaps:
            return
        now = time.monotonic()
        if force:
            kinds = ["loss", "grads"]
        else:
            loading = self._plotext_loader is not None and self._plotext_loader.is_alive()
            due = [
                k
                for k in self._stale
                if now - self._drawn_at[k] >= 1 / CHART_HZ and not (k == "loss" and loading)
            ]
            kinds = sorted(due, key=self._drawn_at.__getitem__)[:1]
        for kind in kinds:
            (self._draw_loss if kind == "loss" else self._draw_grads)(snaps)
            self._stale.discard(kind)
            self._drawn_at[kind] = now

    def _draw_loss(self, snaps: list[Snapshot]) -> None:
        from rnn_tui.run.protocol import RunState

        if (b := snaps[0].baselines) is not None:  # the runs share the corpus: one set
            self.loss_chart.set_baselines(b.ngram_n, b.ngram_loss, b.forgets, b.recalls)
        r = snaps[0].record
        w, h = self.size  # the digits show from DIGITS_MIN on (a breakpoint class)
        now = time.monotonic()  # a new figure relays the screen out: the smoothed one waits
        if (
            r is not None
            and w >= DIGITS_MIN[0]
            and h >= DIGITS_MIN[1]
            and (
                r.val_loss != self._digits[0]
                or now >= self._digits[1]
                or snaps[0].state != RunState.TRAINING  # paused: settle on the last figure
            )
        ):
            run = snaps[0].cell if self.compare else ""  # two runs: say whose figures these are
            self.loss_digits.show(r.val_loss, r.smooth_loss, run)  # relayouts only when changed
            self._digits = (r.val_loss, now + DIGITS_EVERY)
        if self.compare:
            self.loss_chart.set_runs(
                [(s.cell, s.loss_steps, s.loss_values, s.val_steps, s.val_values) for s in snaps]
            )
        else:
            s = snaps[0]
            self.loss_chart.set_data(s.loss_steps, s.loss_values, s.val_steps, s.val_values)

    def _draw_grads(self, snaps: list[Snapshot]) -> None:
        # Side by side, both panes share one log scale, or the contrast would be invisible;
        # each pane's heat strip uses its bars' scale.
        from rnn_tui.ui.widgets.grad_pane import decade_range

        scale = None
        if self.compare:
            scale = decade_range(*(a for lane in self.lanes for a in lane.grad_profiles()))
        for lane in self.lanes:
            lane.draw_grads(scale)

    def _lr_text(self, snaps: list[Snapshot]) -> str:
        """The learning rate as configured until the runs report theirs; in a comparison whose
        runs differ (a preset's own step per cell), one per run: "rnn 0.03 · lstm 0.1". While
        the start-up boost lasts, the rate the last step took (falling to the set rate)."""
        from rnn_tui.run.protocol import lr_text

        if not snaps:
            return lr_text([(c.cell, c.lr) for c in self.spec.configs])
        now = [s.lr if s.record is None else s.record.lr for s in snaps]
        return lr_text([(s.cell, s.lr) for s in snaps], now)

    def update_status(self) -> None:
        from rnn_tui.run.protocol import RunState

        snaps = [lane.snapshot for lane in self.lanes if lane.snapshot is not None]
        snap = snaps[0] if snaps else None
        r = snap.record if snap else None
        state = self.state
        rates = [s.record.chars_per_s for s in snaps if s.record and s.record.chars_per_s > 0]
        # Runs take turns in one process, so each advances at 1 / (sum of step times).
        rate = 1.0 / sum(1.0 / x for x in rates) if rates else 0.0
        self.status_bar.set_status(
            corpus=self.corpus_name,
            vocab=self.vocab.size,
            cell=" vs ".join(lane.cell.name for lane in self.lanes),
            params=sum(lane.n_params for lane in self.lanes),
            runs=[(lane.cell.name, lane.n_params) for lane in self.lanes] if self.compare else (),
            step=r.step if r else 0,
            chars_per_s=rate if state == RunState.TRAINING.value else 0.0,
            state=state,
            lr=self._lr_text(snaps),
            temperature=self.sampling.temperature,
            message=self.notice,
            source=getattr(self.source, "label", ""),  # e.g. a replay's speed and position
            recall=recall_text(
                [
                    (s.cell if self.compare else "", s.record.key_recall, s.record.recall_chance)
                    for s in snaps
                    if s.record is not None
                ]
            ),
        )

    def type_samples(self) -> None:
        """Type the next few characters of each lane's sample: twice as fast in a run's first
        steps, when a sample's weights go stale within a second."""
        young = any(lane.young() for lane in self.lanes)
        self._type_credit += (START_CHARS_PER_S if young else CHARS_PER_S) / TICK_HZ
        n = int(self._type_credit)
        if n == 0:
            return
        self._type_credit -= n
        for lane in self.lanes:
            lane.type(n, self.vocab, self.sampling, self.paused)
        if self.neuron_view:
            self.draw_neurons()

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
