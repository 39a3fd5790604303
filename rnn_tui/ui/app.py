"""The Textual app: it renders what the trainer process reports and sends it the user's keys.

Nothing here does model math: training runs in a worker process (`rnn_tui.run.worker`), and the
sampler that types text runs on weight copies through `rnn_tui.engine.sampling`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Digits, Footer, Static

from rnn_tui.engine.checkpoint import Checkpoint, write_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Vocab
from rnn_tui.engine.model import CELLS, Cell, Params, make_cell
from rnn_tui.engine.sampling import SampledChar, most_varying_unit, sample_chars, top_chars
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.outputs import cell_paths
from rnn_tui.run.spec import RunSpec, spec_of
from rnn_tui.run.worker import Reply, Snapshot, TrainerProcess
from rnn_tui.ui.export import ensure_dir, write_loss_csv, write_samples
from rnn_tui.ui.widgets import (
    GradPane,
    HelpScreen,
    LossChart,
    NeuronView,
    NextChars,
    SamplePane,
    StatusBar,
)
from rnn_tui.ui.widgets.grad_pane import decade_range

POLL_HZ = 20.0  # snapshot polls per second: status text may change this often
CHART_HZ = 4.0  # chart redraws per second at most: plotext is the costly part
TYPE_HZ = 30.0  # sampler ticks per second
CHARS_PER_S = 60.0  # typing speed of the sample pane
LR_FACTOR = 1.5  # `+` and `-` multiply or divide the learning rate by this
TEMP_STEP = 0.1  # `t` and `T` change the temperature by this
CLIP_CYCLE = ("norm", "off")  # what `c` cycles through
LARGE_VOCAB = 1000  # from this many characters on, the status says what the output layer costs
# For projectors: white ground, black text, saturated colours (washed-out greys vanish).
PROJECTOR_THEME = Theme(
    name="rnn-tui-projector",
    primary="#0039a6",
    secondary="#6a1b9a",
    accent="#b00020",
    warning="#9a5b00",
    error="#c00000",
    success="#006b2e",
    foreground="#000000",
    background="#ffffff",
    surface="#ffffff",
    panel="#e8e8e8",
    dark=False,
)
DIGITS_MIN = (110, 36)  # from this window size on, the loss also shows in large digits
MAX_KEPT_SAMPLES = 2000  # samples kept for --export-dir (about 0.5 MB of text at most)
MIN_SIZE = (60, 16)  # below this the panes cannot be drawn legibly: ask for more room
KEY_TRACE_ENV = "RNN_TUI_KEY_TRACE"  # a file: every action appends "<monotonic time> <action>"
LIVENESS_EVERY = 0.25  # seconds between two looks at whether the trainer process still runs
SILENCE = 3.0  # seconds without a snapshot after which the status says the trainer is silent
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)  # save (--autosave), then quit


class Backend(Protocol):
    """What the app needs from a trainer: the process handle, or a fake in tests."""

    last_heard: float | None  # monotonic time of the last snapshot received, if any

    def start(self, background: bool = False) -> None: ...
    def send(self, kind: str, **args: Any) -> int: ...
    def poll(self) -> tuple[Snapshot, ...] | None: ...
    def stop(self, timeout: float = 2.0) -> None: ...
    def request(self, kind: str, timeout: float = 1.0, **args: Any) -> Reply | None: ...
    def ended(self) -> str | None: ...


class Lane:
    """One trained model's share of the screen: its gradient pane, its sample pane, and the
    sampler typing from its latest weights. Compare mode has two lanes side by side."""

    def __init__(self, cell: Cell, index: int, sample_len: int, seed: int, reset_at: str) -> None:
        self.cell = cell  # a model object of the right shape: the sampler's arithmetic
        self.grad_pane = GradPane(id=f"grads{index}", classes="grads")
        self.sample_pane = SamplePane(id=f"samples{index}", classes="samples")
        self.neurons = NeuronView(id=f"neurons{index}", classes="neurons")
        self.next_chars = NextChars(id=f"next{index}", classes="next-chars")
        self.box = Vertical(id=f"lane{index}", classes="lane")  # border around the three
        # (character, hidden state (H,)) of the sample being typed, for the neuron view; the
        # (V,) distributions are not kept: with thousands of characters they would be megabytes.
        self.recent: deque[tuple[str, np.ndarray]] = deque(maxlen=sample_len)
        self.last: SampledChar | None = None  # the character typed last, distribution and all
        self.header = ""  # the header of the sample being typed
        self.sample_len = sample_len  # characters per sample before a new one starts
        self.seed = seed
        self.reset_at = reset_at  # the sampler resets its state after these, as training does
        self.snapshot: Snapshot | None = None  # the newest snapshot of this lane's run
        self.weights: tuple[Params, int] | None = None  # newest weight copy and its step
        self.sampler: Iterator[SampledChar] | None = None
        self.typed = 0  # characters typed in the current sample
        self.sample_no = 0
        self.shown: deque[tuple[str, str]] = deque(maxlen=MAX_KEPT_SAMPLES)  # finished samples
        self.typing: list[str] = []  # pieces of the sample being typed, joined when it ends

    def forget_sample(self) -> None:
        self.weights, self.sampler = None, None
        self.recent.clear()
        self.sample_pane.clear()

    def type(self, n: int, vocab: Vocab, temperature: float, top_k: int, paused: bool) -> None:
        """Type up to `n` characters; start a new sample (from the newest weights) when done."""
        if self.weights is None:
            return
        if self.sampler is None or self.typed >= self.sample_len:
            if paused and self.sampler is not None:
                return  # paused: finish the current sample, then rest (no idle CPU)
            params, step = self.weights
            self.sample_no += 1
            self.sampler = sample_chars(
                self.cell,
                params,
                vocab,
                temperature=temperature,
                top_k=top_k,
                seed=self.seed + self.sample_no,
                reset_at=self.reset_at,
            )
            self.typed = 0
            self.recent.clear()  # each sample starts from a fresh state: never join two in the view
            header = f"step {step:,} · temperature {temperature:.1f}"
            self.sample_pane.start_sample(header)
            if self.typing:  # the previous sample is done: keep it as one string
                self.shown.append((self.header, "".join(self.typing)))
            self.header, self.typing = header, []
        n = min(n, self.sample_len - self.typed)
        if n > 0:
            drawn = [next(self.sampler) for _ in range(n)]
            text = "".join(c.char for c in drawn)
            self.sample_pane.append_chars(text)
            self.typing.append(text)
            self.recent.extend((c.char, c.hidden) for c in drawn)
            self.typed += n
            self.last = last = drawn[-1]
            self.next_chars.show(top_chars(last.probs, vocab.chars), chosen=last.char)

    def samples_so_far(self) -> list[tuple[str, str]]:
        """Every kept sample as (header, text), the one being typed last."""
        current = [(self.header, "".join(self.typing))] if self.typing else []
        return [*self.shown, *current]

    def hidden_values(self) -> np.ndarray:
        """(N, H): the state that chose each character typed so far in this sample."""
        if not self.recent:
            return np.zeros((0, self.cell.H))
        return np.array([hidden for _, hidden in self.recent])


class RnnApp(App[int]):
    """rnn-tui: loss, per-timestep gradients and samples of a recurrent network, live."""

    CSS_PATH = "app.tcss"
    TITLE = "rnn-tui"
    ENABLE_COMMAND_PALETTE = True
    # Size classes that Textual keeps on every screen, including one under the help screen:
    # -narrow or -short is too small for the panes; -wide and -tall show the large digits.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_SIZE[0], "-normal"), (DIGITS_MIN[0], "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_SIZE[1], "-medium"), (DIGITS_MIN[1], "-tall")]

    BINDINGS = [
        Binding("q", "quit_app", "Quit"),  # first in the footer; the help screen's q closes it
        Binding("ctrl+c", "quit_app", "Quit", show=False, priority=True),  # not Screen's copy
        Binding("space", "toggle_pause", "Pause"),
        Binding("n", "one_step", "Step"),
        Binding("r", "reset", "Reset"),
        Binding("plus,equals_sign", "lr_up", "LR", key_display="+/-"),
        Binding("minus", "lr_down", "LR-", show=False),
        Binding("t", "temp_down", "Temp", key_display="t/T"),
        Binding("T,shift+t", "temp_up", "Temp+", show=False),
        Binding("c", "cycle_clip", "Clip"),
        Binding("l", "next_cell", "Cell"),
        Binding("s", "save", "Save"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("p", "screenshot", "Screenshot", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("v", "toggle_neurons", "Neurons", show=False),
        Binding("h", "toggle_contrast", "High contrast", show=False),
        Binding("right_square_bracket", "unit(1)", "Next unit", show=False),
        Binding("left_square_bracket", "unit(-1)", "Previous unit", show=False),
        Binding("m", "most_varying_unit", "Most varying unit", show=False),
    ]

    def __init__(
        self,
        backend: Backend,
        *,
        corpus_name: str,
        vocab: tuple[str, ...],
        cells: list[Cell],
        temperature: float,
        top_k: int = 0,
        sample_len: int = 240,
        seed: int = 0,
        save_path: str | None = None,
        corpus_stem: str = "model",
        animate: bool = True,
        reset_at: str = "",
        autosave_path: str | None = None,
        export_dir: str | None = None,
        high_contrast: bool = False,
        spec: RunSpec | None = None,
        new_backend: Callable[[RunSpec], Backend] | None = None,
    ) -> None:
        super().__init__()
        self.register_theme(PROJECTOR_THEME)
        self._default_theme = self.theme
        if high_contrast:
            self.theme = PROJECTOR_THEME.name
        self.backend = backend  # the trainer process (or a test double)
        self.spec = spec  # what the trainer process was built from: corpus path and configs
        self.new_backend = new_backend  # starts another trainer process, from a spec
        self.trainer_lost = ""  # how the trainer process ended, once it has
        self.silent = False  # no snapshot for SILENCE seconds (a stopped or stuck trainer)
        self._next_check = 0.0  # monotonic time of the next look at the trainer process
        self.corpus_name = corpus_name  # shown in the status line
        self.vocab = vocab  # characters in id order, for the sampler
        self._vocab = Vocab(vocab)
        self.temperature = temperature  # sampling temperature, changed by t / T
        self.top_k = top_k
        self.save_path = save_path  # where `s` saves; None: a name from corpus and step
        self.corpus_stem = corpus_stem
        self.autosave_path = autosave_path  # saved on quit, SIGTERM and SIGHUP
        self.saved_message: str | None = None  # what the autosave said
        self.export_dir = export_dir  # loss, metrics, samples and a checkpoint go here
        self.neuron_unit = 0  # the hidden unit the neuron view colours by
        self.neuron_view = False  # whether the first lane shows the neuron view
        self.animate = animate  # False in snapshot tests: no timers, nothing moves
        self.lanes = [Lane(c, i, sample_len, seed, reset_at) for i, c in enumerate(cells)]
        self.snapshot: Snapshot | None = None  # the newest snapshot of the first run
        self.paused = False  # what the user asked for
        self.notice = ""  # last message for the status line
        self._last_chart = 0.0  # monotonic time of the last chart redraw
        self._stale: set[str] = set()  # chart kinds ("loss", "grads") behind the snapshot
        self._drawn_last = "grads"  # the chart kind drawn last: the other one goes next
        self._type_credit = 0.0
        self._key_trace = os.environ.get(KEY_TRACE_ENV)  # for the latency benchmark
        # The panes, kept by reference: timers may fire while another screen is on top.
        self.loss_chart = LossChart(id="loss")
        self.loss_digits = Digits("", id="loss-digits")  # the loss, large, in big windows
        self.status_bar = StatusBar(id="status")
        self.footer = Footer(compact=True)
        self.too_small = Static(id="too-small")

    @property
    def cell(self) -> Cell:
        return self.lanes[0].cell

    @property
    def sample_pane(self) -> SamplePane:
        return self.lanes[0].sample_pane

    @property
    def compare(self) -> bool:
        return len(self.lanes) > 1

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="main", classes="compare" if self.compare else ""):
            with Horizontal(id="top"):
                with Vertical(id="loss-box"):
                    yield self.loss_digits
                    yield self.loss_chart
                for lane in self.lanes:
                    yield lane.grad_pane
            with Horizontal(id="bottom"):
                for lane in self.lanes:
                    with lane.box:
                        yield lane.sample_pane
                        yield lane.neurons
                        yield lane.next_chars
        yield self.status_bar
        yield self.footer
        yield self.too_small

    def on_resize(self, event: events.Resize) -> None:
        w, h = event.size
        # The palette hint needs room the key list has only from 100 columns on.
        self.footer.show_command_palette = w >= 100
        if w < MIN_SIZE[0] or h < MIN_SIZE[1]:  # shown by the breakpoint classes
            self.too_small.update(
                f"rnn-tui needs a window of at least {MIN_SIZE[0]}x{MIN_SIZE[1]};"
                f" this one is {w}x{h}. Make it bigger: training goes on meanwhile."
            )

    def on_mount(self) -> None:
        V, H = len(self.vocab), self.cell.H
        if V >= LARGE_VOCAB:  # say what a large vocabulary costs, once, at the start
            readout = V * H + V  # W_hy and b_y: one row per character
            self.notice = (
                f"{V:,} distinct characters: the output layer holds {readout:,} of"
                f" {self.cell.n_params():,} weights and most of each step's time"
            )
        self.query_one("#loss-box").border_title = "loss"
        for lane in self.lanes:
            name = f": {lane.cell.name}" if self.compare else ""
            lane.grad_pane.border_title = f"gradient through time{name}"
            lane.box.border_title = f"samples{name}"
        self._update_status()
        if self.animate:
            with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
                loop = asyncio.get_running_loop()  # signals must not kill us mid-draw
                for sig in QUIT_SIGNALS:
                    loop.add_signal_handler(sig, self._on_signal, sig)
            self.backend.start(background=True)  # draw the first frame without waiting
            self.set_interval(1 / POLL_HZ, self.poll_trainer)
            self.set_interval(1 / TYPE_HZ, self.type_samples)

    # -- trainer -> screen -------------------------------------------------------------------

    def poll_trainer(self) -> None:
        snaps = self.backend.poll()
        if snaps is not None:
            self.show_snapshots(snaps)
        elif self._stale:
            self._draw_charts()
        now = time.monotonic()
        if now >= self._next_check and not self.trainer_lost:
            self._next_check = now + LIVENESS_EVERY
            self._check_trainer(now)

    def _check_trainer(self, now: float) -> None:
        """Notice a trainer process that died or stopped answering, and say what to do."""
        ended = self.backend.ended()
        if ended is not None:
            self.trainer_lost, self.silent, self.paused = ended, False, True
            step = self._held_step()
            self.notice = (
                f"{ended}: r starts a new one from the weights of step {step:,}"
                if step is not None
                else f"{ended}: r starts a new one"
            )
            self._update_status()
            return
        heard = self.backend.last_heard
        quiet = 0.0 if heard is None else now - heard  # a worker still starting is not silent
        if quiet >= SILENCE:
            self.silent = True
            self.notice = f"no snapshot from the trainer for {quiet:.0f} s (stopped or stuck?)"
            self._update_status()
        elif self.silent:
            self.silent = False
            self.notice = ""
            self._update_status()

    def show_snapshots(self, snaps: Sequence[Snapshot]) -> None:
        """Draw the runs' snapshots: status now, charts at most CHART_HZ times a second."""
        for lane, snap in zip(self.lanes, snaps, strict=False):
            lane.snapshot = snap
            if snap.weights is not None:
                lane.weights = (snap.weights, snap.weights_step)
        snap = snaps[0]
        self.snapshot = snap
        if snap.message:
            self.notice = snap.message
        for reply in snap.replies:  # answers to `s` and the like
            self.notice = reply.text
        if all(s.state in ("diverged", "error") for s in snaps):
            self.paused = True
        self._update_status()
        self._stale = {"loss", "grads"}
        self._draw_charts()

    def _draw_charts(self, force: bool = False) -> None:
        """Redraw one chart kind per call, taking turns: the loss chart, then the gradient
        panes. Each kind is redrawn at most CHART_HZ times a second, and the UI thread never
        spends the time of both in one go (keys stay quick)."""
        now = time.monotonic()
        if not force and now - self._last_chart < 0.5 / CHART_HZ:
            return
        snaps = [lane.snapshot for lane in self.lanes if lane.snapshot is not None]
        if not snaps:
            return
        self._last_chart = now
        if force:
            kinds = ["loss", "grads"]
        else:  # the kind not drawn last, unless only the other one is behind
            turn = "loss" if self._drawn_last == "grads" else "grads"
            kinds = [k for k in (turn, self._drawn_last) if k in self._stale][:1]
        for kind in kinds:
            (self._draw_loss if kind == "loss" else self._draw_grads)(snaps)
            self._stale.discard(kind)
            self._drawn_last = kind

    def _draw_loss(self, snaps: list[Snapshot]) -> None:
        r = snaps[0].record
        value = f"{r.smooth_loss:.3f}" if r is not None else ""
        w, h = self.size  # the digits show from DIGITS_MIN on (a breakpoint class)
        if w >= DIGITS_MIN[0] and h >= DIGITS_MIN[1] and value != self.loss_digits.value:
            self.loss_digits.update(value)  # relayouts: only when shown and changed
        if self.compare:
            self.loss_chart.set_runs(
                [(s.cell, s.loss_steps, s.loss_values, s.val_steps, s.val_values) for s in snaps]
            )
        else:
            s = snaps[0]
            self.loss_chart.set_data(s.loss_steps, s.loss_values, s.val_steps, s.val_values)

    def _draw_grads(self, snaps: list[Snapshot]) -> None:
        records = [s.record for s in snaps if s.record is not None]
        # Side by side, both panes share one log scale, or the contrast would be invisible.
        scale = (
            decade_range(*(a for r in records for a in (r.grad_t, r.grad_last_t)))
            if self.compare and records
            else None
        )
        for lane in self.lanes:
            s = lane.snapshot
            r = s.record if s is not None else None
            if s is None or r is None:
                continue
            clip = None if s.clip_mode == "off" else s.clip
            extra = [] if s.clip_mode != "value" else ["clip per entry"]
            if r.spectral_norm is not None:
                extra.append(f"‖W_hh‖₂ {r.spectral_norm:.2f}")
            lane.grad_pane.set_data(
                r.grad_t,
                r.grad_last_t,
                s.grad_history,
                clip,
                r.clipped,
                r.grad_norm,
                "  ".join(extra),
                scale=scale,
            )

    def _update_status(self) -> None:
        snaps = [lane.snapshot for lane in self.lanes if lane.snapshot is not None]
        snap = snaps[0] if snaps else None
        r = snap.record if snap else None
        state = snap.state if snap else "starting"
        if self.compare and snaps and any(s.state == "training" for s in snaps):
            state = "training"  # one diverged run does not stop the other
        if state == "training" and self.paused:
            state = "paused"
        if self.trainer_lost:
            state = "stopped"
        elif self.silent:
            state = "silent"
        rates = [s.record.chars_per_s for s in snaps if s.record and s.record.chars_per_s > 0]
        # Runs take turns in one process, so each advances at 1 / (sum of step times).
        rate = 1.0 / sum(1.0 / x for x in rates) if rates else 0.0
        self.status_bar.set_status(
            corpus=self.corpus_name,
            vocab=len(self.vocab),
            cell=" vs ".join(lane.cell.name for lane in self.lanes),
            params=sum(lane.cell.n_params() for lane in self.lanes),
            step=r.step if r else 0,
            chars_per_s=rate if state == "training" else 0.0,
            state=state,
            lr=snap.lr if snap else float("nan"),
            temperature=self.temperature,
            message=self.notice,
        )

    # -- samples -----------------------------------------------------------------------------

    def type_samples(self) -> None:
        """Type the next few characters of each lane's sample."""
        self._type_credit += CHARS_PER_S / TYPE_HZ
        n = int(self._type_credit)
        if n == 0:
            return
        self._type_credit -= n
        for lane in self.lanes:
            lane.type(n, self._vocab, self.temperature, self.top_k, self.paused)
        if self.neuron_view:
            self._draw_neurons()

    # -- neuron view -------------------------------------------------------------------------

    def _draw_neurons(self) -> None:
        lane = self.lanes[0]
        hidden = lane.hidden_values()
        self.neuron_unit %= lane.cell.H
        lane.neurons.set_data(
            [ch for ch, _ in lane.recent],
            hidden[:, self.neuron_unit],
            self.neuron_unit,
            lane.cell.H,
        )

    def action_toggle_neurons(self) -> None:
        self._trace("toggle_neurons")
        self.neuron_view = not self.neuron_view
        self.screen.set_class(self.neuron_view, "-neurons")
        if self.neuron_view:
            self._draw_neurons()

    def action_unit(self, delta: int) -> None:
        self._trace("unit")
        self.neuron_unit = (self.neuron_unit + delta) % self.cell.H
        if not self.neuron_view:
            self.action_toggle_neurons()
        self._draw_neurons()

    def action_most_varying_unit(self) -> None:
        self._trace("most_varying_unit")
        self.neuron_unit = most_varying_unit(self.lanes[0].hidden_values())
        if not self.neuron_view:
            self.action_toggle_neurons()
        self._draw_neurons()

    # -- actions -----------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self._trace("toggle_pause")
        if self.trainer_lost:
            self.notice = "the trainer process is gone: r starts a new one"
        elif self.snapshot is not None and self.snapshot.state in ("diverged", "error"):
            self.notice = "training stopped: press r to reset"
        else:
            self.paused = not self.paused
            self.backend.send("pause" if self.paused else "resume")
            self.notice = "paused: n steps once, space resumes" if self.paused else ""
        self._update_status()

    def action_one_step(self) -> None:
        self._trace("one_step")
        self.paused = True
        self.backend.send("step")

    def action_reset(self) -> None:
        self._trace("reset")
        if self.trainer_lost:
            self._restart_trainer()
            return
        self.backend.send("reset")
        for lane in self.lanes:
            lane.forget_sample()
        if (
            self.paused
            and self.snapshot is not None
            and self.snapshot.state in ("diverged", "error")
        ):
            self.paused = False
            self.backend.send("resume")

    def _set_lr(self, factor: float) -> None:
        if self.snapshot is None:
            return
        lr = min(10.0, max(1e-6, self.snapshot.lr * factor))
        self.backend.send("set", lr=lr)
        self.notice = f"learning rate {lr:.3g}"
        self._update_status()

    def action_lr_up(self) -> None:
        self._trace("lr_up")
        self._set_lr(LR_FACTOR)

    def action_lr_down(self) -> None:
        self._trace("lr_down")
        self._set_lr(1 / LR_FACTOR)

    def _set_temperature(self, delta: float) -> None:
        self.temperature = round(min(3.0, max(0.1, self.temperature + delta)), 2)
        self.notice = f"temperature {self.temperature:.1f} (from the next sample)"
        self._update_status()

    def action_temp_down(self) -> None:
        self._trace("temp_down")
        self._set_temperature(-TEMP_STEP)

    def action_temp_up(self) -> None:
        self._trace("temp_up")
        self._set_temperature(TEMP_STEP)

    def action_cycle_clip(self) -> None:
        self._trace("cycle_clip")
        mode = self.snapshot.clip_mode if self.snapshot else "norm"
        nxt = (
            CLIP_CYCLE[(CLIP_CYCLE.index(mode) + 1) % len(CLIP_CYCLE)]
            if mode in CLIP_CYCLE
            else "norm"
        )
        self.backend.send("set", clip_mode=nxt)
        self.notice = f"clipping {nxt}"
        self._update_status()

    def action_next_cell(self) -> None:
        self._trace("next_cell")
        if self.compare:
            self.notice = "compare mode trains fixed cells; start without --compare to switch"
            self._update_status()
            return
        lane = self.lanes[0]
        names = list(CELLS)
        cell = names[(names.index(lane.cell.name) + 1) % len(names)]
        self.backend.send("cell", cell=cell)
        lane.cell = make_cell(cell, lane.cell.V, lane.cell.H, lane.cell.dtype)
        lane.forget_sample()
        self.notice = f"switched to {cell}: training restarts from the seed"
        self._update_status()

    def action_save(self) -> None:
        self._trace("save")
        step = self.snapshot.record.step if self.snapshot and self.snapshot.record else 0
        cell = "" if self.compare else f"-{self.cell.name}"  # compare: one file per cell
        path = self.save_path or f"{self.corpus_stem}{cell}-step{step}.npz"
        if self.trainer_lost:  # nobody to ask: write the weights the app holds
            self.notice = self._save_held(path)
        else:
            self.backend.send("save", path=path)  # the reply becomes the notice
            self.notice = f"saving {path} ..."
        self._update_status()

    def action_toggle_contrast(self) -> None:
        self._trace("toggle_contrast")
        projector = self.theme != PROJECTOR_THEME.name
        self.theme = PROJECTOR_THEME.name if projector else self._default_theme
        self.notice = "high contrast for projectors" if projector else "normal colours"
        self._update_status()

    def action_screenshot(self) -> None:
        self._trace("screenshot")
        folder = self.export_dir or "."
        try:
            path = self.save_screenshot(
                filename=f"rnn-tui-{time.strftime('%Y%m%d-%H%M%S')}.svg",
                path=ensure_dir(folder),
            )
            self.notice = f"screenshot saved to {path}"
        except OSError as exc:
            self.notice = f"cannot save a screenshot in {folder}: {exc.strerror or exc}"
        self._update_status()

    def action_export(self) -> None:
        self._trace("export")
        if not self.export_dir:
            self.notice = "start with --export-dir DIR to export loss, metrics, samples and model"
        else:
            self.notice = self.export(timeout=0.5)
        self._update_status()

    def export(self, timeout: float = 1.0) -> str:
        """Write the loss history, the samples shown so far and a checkpoint to the export
        folder (the worker has been appending the metrics there all along); say what."""
        folder = self.export_dir
        assert folder is not None
        try:
            ensure_dir(folder)
            runs = [
                (s.cell, s.loss_steps, s.loss_values, s.val_steps, s.val_values)
                for s in (lane.snapshot for lane in self.lanes)
                if s is not None
            ]
            points = write_loss_csv(os.path.join(folder, "loss.csv"), runs)
            samples = [
                (lane.cell.name, header, text)
                for lane in self.lanes
                for header, text in lane.samples_so_far()
            ]
            n = write_samples(os.path.join(folder, "samples.txt"), samples)
        except OSError as exc:
            return f"cannot export to {folder}: {exc.strerror or exc}"
        ok, said = self.save_model(os.path.join(folder, "checkpoint.npz"), timeout)
        model = "a checkpoint" if ok else "no checkpoint"
        return f"exported to {folder}: {points} loss points, {n} samples, {model}, metrics ({said})"

    # -- the model, when the trainer cannot be asked -------------------------------------------

    def save_model(self, path: str, timeout: float = 1.0) -> tuple[bool, str]:
        """Have the trainer save its model to `path`; if it is gone or does not answer within
        `timeout` seconds, write the weights the app holds instead. Returns (saved, what)."""
        reply = None if self.trainer_lost else self.backend.request("save", timeout, path=path)
        if reply is not None:
            return reply.ok, reply.text
        held = self._save_held(path)
        return held.startswith("saved"), held

    def _held_step(self) -> int | None:
        """The step of the newest weights the app holds (of the first run), if any."""
        w = self.lanes[0].weights
        return None if w is None else w[1]

    def _held_checkpoints(self) -> list[Checkpoint | None]:
        """What the app holds of each run, as checkpoints without optimizer state."""
        out: list[Checkpoint | None] = []
        for lane, config in zip(self.lanes, self._configs(), strict=True):
            if lane.weights is None:
                out.append(None)
                continue
            params, step = lane.weights
            chars = step * config.batch * config.seq_len  # every step reads B x T characters
            out.append(Checkpoint(config, self.vocab, params, {}, step, chars))
        return out

    def _configs(self) -> tuple[Config, ...]:
        """Each run's settings as they are now: the cell, learning rate and clipping may have
        changed since the start."""
        assert self.spec is not None
        out = []
        for lane, config in zip(self.lanes, self.spec.configs, strict=True):
            s = lane.snapshot
            config = config.with_(cell=lane.cell.name)
            if s is not None:
                config = config.with_(lr=s.lr, clip_mode=s.clip_mode, clip=s.clip)
            out.append(config)
        return tuple(out)

    def _save_held(self, path: str) -> str:
        """Write the weights the app holds (no optimizer state) to `path`; say what."""
        if self.spec is None:
            return "cannot save: the trainer is gone and this app holds no settings"
        held = self._held_checkpoints()
        if all(c is None for c in held):
            return "cannot save: the trainer is gone before it sent any weights"
        saved = []
        paths = cell_paths(path, [lane.cell.name for lane in self.lanes])
        for ckpt, target in zip(held, paths, strict=True):
            if ckpt is None:
                continue
            try:
                saved.append(write_checkpoint(target, ckpt))
            except UserError as exc:
                return str(exc)
        steps = ", ".join(f"{c.step:,}" for c in held if c is not None)
        return f"saved {', '.join(saved)} (weights of step {steps}, held by the app)"

    def _restart_trainer(self) -> None:
        """Start a new trainer process from the weights the app holds."""
        if self.spec is None or self.new_backend is None:
            self.notice = "cannot start a new trainer from here; quit and start again"
            self._update_status()
            return
        spec = RunSpec(self.spec.corpus, self._configs(), tuple(self._held_checkpoints()))
        self.backend.stop(timeout=0.5)
        self.backend = self.new_backend(spec)
        self.spec = spec
        self.trainer_lost, self.silent, self.paused = "", False, False
        self.backend.start(background=True)
        step = self._held_step()
        self.notice = (
            f"a new trainer goes on from step {step:,}"
            if step is not None
            else "a new trainer starts from the seed"
        )
        self._update_status()

    def action_help(self) -> None:
        self._trace("help")
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit_app(self) -> None:
        self._trace("quit_app")
        self.exit(0)

    def _trace(self, action: str) -> None:
        """Record when an action's handler ran (the benchmark compares it with the keypress)."""
        if self._key_trace:
            with open(self._key_trace, "a", encoding="utf-8") as f:
                f.write(f"{time.monotonic():.6f} {action}\n")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Pause / resume training", "space", self.action_toggle_pause),
            ("One training step", "n, while paused", self.action_one_step),
            ("Reset the weights", "r: start learning again from scratch", self.action_reset),
            ("Raise the learning rate", f"+: times {LR_FACTOR}", self.action_lr_up),
            ("Lower the learning rate", f"-: divided by {LR_FACTOR}", self.action_lr_down),
            ("Lower the temperature", "t: safer samples", self.action_temp_down),
            ("Raise the temperature", "T: wilder samples", self.action_temp_up),
            ("Cycle gradient clipping", "c: norm / off", self.action_cycle_clip),
            ("Switch the cell", "l: rnn, lstm, gru; training restarts", self.action_next_cell),
            ("Save a checkpoint", "s", self.action_save),
            ("Save a screenshot (SVG)", "p", self.action_screenshot),
            ("High contrast for projectors", "h", self.action_toggle_contrast),
            (
                "Neuron view on / off",
                "v: colour the sample by one hidden unit",
                self.action_toggle_neurons,
            ),
            ("Neuron view: next unit", "]", lambda: self.action_unit(1)),
            ("Neuron view: previous unit", "[", lambda: self.action_unit(-1)),
            ("Neuron view: most varying unit", "m", self.action_most_varying_unit),
            ("Export loss, metrics, samples and model", "e: to --export-dir", self.action_export),
            ("Help: what the panes show", "?", self.action_help),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)

    def _on_signal(self, sig: signal.Signals) -> None:
        """SIGTERM, SIGHUP (an SSH link dropping) or SIGINT: save if asked to, then quit with
        the conventional code 128 + the signal's number."""
        self.notice = f"{sig.name}: quitting"
        self.exit(return_code=128 + int(sig))

    def on_unmount(self) -> None:
        if self.export_dir or self.autosave_path:
            # Stop training first (commands run in order): the checkpoint saved next is then the
            # final model, and the metrics file has no step after it.
            self.backend.send("pause")
        if self.export_dir and self.snapshot is not None and self.snapshot.record is not None:
            self.saved_message = self.export(timeout=1.0)
        if self.autosave_path and self.snapshot is not None and self.snapshot.record is not None:
            self.saved_message = self.save_model(self.autosave_path, timeout=1.0)[1]
        self.backend.stop(timeout=1.0)
        with contextlib.suppress(RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            for sig in QUIT_SIGNALS:
                loop.remove_signal_handler(sig)


def make_app(
    trainers: Trainer | list[Trainer],
    save_path: str | None = None,
    backend: Backend | None = None,
    metrics_path: str | None = None,
    log_every: int = 10,
    autosave_path: str | None = None,
    log_path: str | None = None,
    export_dir: str | None = None,
    high_contrast: bool = False,
) -> RnnApp:
    """The app exactly as the CLI builds it. The trainers move to a worker process; two
    trainers (compare mode) must share one corpus."""
    runs = trainers if isinstance(trainers, list) else [trainers]
    c = runs[0].config
    if export_dir and not metrics_path:  # the export folder gets the metrics as they come
        metrics_path = os.path.join(ensure_dir(export_dir), "metrics.jsonl")
    corpus = runs[0].corpus

    def new_backend(what: list[Trainer] | RunSpec) -> TrainerProcess:
        return TrainerProcess(
            what, log_path=log_path, metrics_path=metrics_path, log_every=log_every
        )

    return RnnApp(
        backend or new_backend(list(runs)),  # a list of its own: run_app clears the caller's
        corpus_name=corpus.name,
        vocab=corpus.vocab.chars,
        cells=[make_cell(t.config.cell, corpus.vocab.size, t.config.hidden, c.dtype) for t in runs],
        temperature=c.temperature,
        top_k=c.top_k,
        sample_len=c.sample_len,
        seed=c.seed,
        save_path=save_path,
        corpus_stem=Path(corpus.path).stem or "model",
        reset_at=c.reset_at,
        autosave_path=autosave_path,
        export_dir=export_dir,
        high_contrast=high_contrast,
        spec=spec_of(runs),
        new_backend=new_backend,
    )


def run_app(trainers: list[Trainer], args: argparse.Namespace) -> int:
    """Run the app until the user quits; the worker is stopped whatever happens."""
    app = make_app(
        trainers,
        save_path=args.save,
        metrics_path=args.metrics,
        log_every=args.log_every,
        autosave_path=args.autosave,
        export_dir=args.export_dir,
        high_contrast=args.high_contrast,
    )
    trainers.clear()  # they go to the worker: this process keeps no copy of corpus or model
    try:
        app.run()
    finally:
        app.backend.stop()
    if app.saved_message:
        print(f"rnn-tui: {app.saved_message}", file=sys.stderr)
    return app.return_code or 0  # 1 after a crash, 128 + n after signal n
