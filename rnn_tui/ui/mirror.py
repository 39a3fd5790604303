"""The app's side of a run: what its snapshots say, drawn. One timer polls the source, hands
each lane its newest snapshot, redraws the charts at a bounded rate, paints the status line and
types the samples. Mixed into `RnnApp`, which owns the widgets; nothing here does model math.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rnn_tui.ui.widgets.status_bar import recall_text

if TYPE_CHECKING:  # loaded by `RnnApp.boot`, after the first frame
    from rnn_tui.engine.model import Cell
    from rnn_tui.engine.sample_settings import SampleSettings
    from rnn_tui.engine.text import Vocab
    from rnn_tui.run.protocol import Snapshot
    from rnn_tui.run.source import RunSource
    from rnn_tui.run.spec import RunSpec
    from rnn_tui.ui.inside import Insider
    from rnn_tui.ui.lane import Lane
    from rnn_tui.ui.probing import Prober
    from rnn_tui.ui.widgets import LossChart, SamplePane
    from rnn_tui.ui.widgets.loss_readout import LossReadout
    from rnn_tui.ui.widgets.model_strip import ModelStrip
    from rnn_tui.ui.widgets.status_bar import StatusBar

# One timer polls the run and types the samples, so the screen is drawn at most this often while
# training: each frame costs the UI process a few milliseconds, whatever changed.
TICK_HZ = 10.0  # 6 characters a tick (60 a second; 12 early in a run) type smoothly
CHART_HZ = 2.2  # redraws of each chart per second at most (2 with 10 ticks a second): bytes count
CHARS_PER_S = 60.0  # typing speed of the sample pane
START_CHARS_PER_S = 120.0  # ... while a run is young (`Lane.young`): the first words come sooner
DIGITS_MIN = (110, 36)  # from this window size on, the loss also shows in large digits
DIGITS_EVERY = 2.0  # seconds between two updates of the smoothed loss under the large digits
LIVENESS_EVERY = 0.25  # seconds between two looks at whether the source still runs
SILENCE = 3.0  # seconds without a snapshot after which the status says the source is silent


class Mirror:
    """What the runs report, mirrored on the screen, for `RnnApp`."""

    # What the app provides (see RnnApp.__init__ and RnnApp.build).
    source: RunSource  # where snapshots come from
    spec: RunSpec  # what the runs were built from
    new_source: Callable[[RunSpec], RunSource] | None  # starts another trainer process
    vocab: Vocab  # the runs' characters
    sampling: SampleSettings  # how samples are drawn now
    corpus_name: str  # the corpus file's name, for the status line
    lanes: list[Lane]  # one per run
    notice: str  # the status line's message
    source_lost: str  # how the source ended, once it has
    silent: bool  # no snapshot for SILENCE seconds
    awaited: set[int]  # ids of requests whose replies the status shows
    neuron_view: bool  # whether the first lane shows the neuron view
    size: tuple[int, int]  # the window's columns and rows (Textual's `App.size`)
    status_bar: StatusBar
    model_strip: ModelStrip
    loss_chart: LossChart
    loss_digits: LossReadout
    prober: Prober  # the probe pane's text, cursor, shading and worker
    inside: Insider  # the spectrum and gates views
    _next_check: float  # monotonic time of the next look at the source
    _stale: set[str]  # chart kinds ("loss", "grads") behind the snapshot
    _drawn_at: dict[str, float]  # monotonic time of each kind's last redraw
    _plotext_loader: threading.Thread | None  # loads plotext while the first samples type
    _digits: tuple[float | None, float]  # held-out loss shown, next time
    _type_credit: float  # characters owed to the sample panes
    _probe_weights: tuple[int, ...]  # ids of the weights probed last
    _weights_ids: Callable[[], tuple[int, ...]]  # which weight copy each lane holds now
    probe_compute: Callable[[], None]  # recompute the probe with the newest weights
    draw_neurons: Callable[[], None]  # redraw the neuron view

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
                else f"{ended}: r restarts it from step {w[1]:,}"
                if w is not None
                else f"{ended}: r starts a new one"
            )
            self.update_status()
            return
        heard = self.source.last_heard
        quiet = 0.0 if heard is None else now - heard  # a source still starting is not silent
        if quiet >= SILENCE:
            self.silent = True
            self.notice = f"no snapshot from the trainer for {quiet:.0f} s: stopped or stuck?"
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
