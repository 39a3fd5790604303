"""The Textual app: it renders what the trainer process reports and sends it the user's keys.

Nothing here does model math: training runs in a worker process (`rnn_tui.worker`), and the
sampler that types text runs on weight copies through `rnn_tui.sampling`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from rnn_tui.data import Vocab
from rnn_tui.model import Cell, Params, make_cell
from rnn_tui.sampling import SampledChar, sample_chars
from rnn_tui.trainer import Trainer
from rnn_tui.widgets import GradPane, HelpScreen, LossChart, SamplePane, StatusBar
from rnn_tui.worker import Snapshot, TrainerProcess

POLL_HZ = 20.0  # snapshot polls per second: status text may change this often
CHART_HZ = 4.0  # chart redraws per second at most: plotext is the costly part
TYPE_HZ = 30.0  # sampler ticks per second
CHARS_PER_S = 60.0  # typing speed of the sample pane
LR_FACTOR = 1.5  # `+` and `-` multiply or divide the learning rate by this
TEMP_STEP = 0.1  # `t` and `T` change the temperature by this
CLIP_CYCLE = ("norm", "off")  # what `c` cycles through
KEY_TRACE_ENV = "RNN_TUI_KEY_TRACE"  # a file: every action appends "<monotonic time> <action>"


class Backend(Protocol):
    """What the app needs from a trainer: the process handle, or a fake in tests."""

    def start(self) -> None: ...
    def send(self, kind: str, **args: Any) -> None: ...
    def poll(self) -> Snapshot | None: ...
    def stop(self, timeout: float = 2.0) -> None: ...


class RnnApp(App[int]):
    """rnn-tui: loss, per-timestep gradients and samples of a recurrent network, live."""

    CSS_PATH = "app.tcss"
    TITLE = "rnn-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause"),
        Binding("n", "one_step", "Step"),
        Binding("r", "reset", "Reset"),
        Binding("plus,equals_sign", "lr_up", "LR", key_display="+/-"),
        Binding("minus", "lr_down", "LR-", show=False),
        Binding("t", "temp_down", "Temp", key_display="t/T"),
        Binding("T,shift+t", "temp_up", "Temp+", show=False),
        Binding("c", "cycle_clip", "Clip"),
        Binding("s", "save", "Save"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q,ctrl+c", "quit_app", "Quit", key_display="q", priority=True),
    ]

    def __init__(
        self,
        backend: Backend,
        *,
        corpus_name: str,
        vocab: tuple[str, ...],
        cell: Cell,
        temperature: float,
        top_k: int = 0,
        sample_len: int = 240,
        seed: int = 0,
        save_path: str | None = None,
        corpus_stem: str = "model",
        animate: bool = True,
        reset_at: str = "",
    ) -> None:
        super().__init__()
        self.backend = backend  # the trainer process (or a test double)
        self.corpus_name = corpus_name  # shown in the status line
        self.vocab = vocab  # characters in id order, for the sampler
        self._vocab = Vocab(vocab)
        self.cell = cell  # a model object of the right shape: the sampler's arithmetic
        self.temperature = temperature  # sampling temperature, changed by t / T
        self.top_k = top_k
        self.sample_len = sample_len  # characters per sample before a new one starts
        self.seed = seed
        self.save_path = save_path  # where `s` saves; None: a name from corpus and step
        self.corpus_stem = corpus_stem
        self.animate = animate  # False in snapshot tests: no timers, nothing moves
        self.reset_at = reset_at  # the sampler resets its state after these, as training does
        self.snapshot: Snapshot | None = None  # the newest snapshot drawn
        self.paused = False  # what the user asked for
        self.notice = ""  # last message for the status line
        self._last_chart = 0.0  # monotonic time of the last chart redraw
        self._charts_stale = False
        self._weights: tuple[Params, int] | None = None  # newest weight copy and its step
        self._sampler: Iterator[SampledChar] | None = None
        self._typed = 0  # characters typed in the current sample
        self._type_credit = 0.0
        self._sample_no = 0
        self._key_trace = os.environ.get(KEY_TRACE_ENV)  # for the latency benchmark
        # The panes, kept by reference: timers may fire while another screen is on top.
        self.loss_chart = LossChart(id="loss")
        self.grad_pane = GradPane(id="grads")
        self.sample_pane = SamplePane(id="samples")
        self.status_bar = StatusBar(id="status")

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="main"):
            with Horizontal(id="top"):
                yield self.loss_chart
                yield self.grad_pane
            yield self.sample_pane
        yield self.status_bar
        yield Footer(compact=True)

    def on_resize(self) -> None:
        # The palette hint needs room the key list has only from 100 columns on.
        self.query_one(Footer).show_command_palette = self.size.width >= 100

    def on_mount(self) -> None:
        self.loss_chart.border_title = "loss"
        self.grad_pane.border_title = "gradient through time"
        self.sample_pane.border_title = "samples"
        self._update_status()
        if self.animate:
            self.backend.start()
            self.set_interval(1 / POLL_HZ, self.poll_trainer)
            self.set_interval(1 / TYPE_HZ, self.type_sample)

    # -- trainer -> screen -------------------------------------------------------------------

    def poll_trainer(self) -> None:
        snap = self.backend.poll()
        if snap is not None:
            self.show_snapshot(snap)
        elif self._charts_stale:
            self._draw_charts()

    def show_snapshot(self, snap: Snapshot) -> None:
        """Draw a snapshot: status now, charts at most CHART_HZ times a second."""
        self.snapshot = snap
        if snap.message:
            self.notice = snap.message
        if snap.weights is not None:
            self._weights = (snap.weights, snap.weights_step)
        if snap.state in ("diverged", "error"):
            self.paused = True
        self._update_status()
        self._charts_stale = True
        self._draw_charts()

    def _draw_charts(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_chart < 1 / CHART_HZ:
            return
        snap = self.snapshot
        if snap is None:
            return
        self._last_chart, self._charts_stale = now, False
        self.loss_chart.set_data(snap.loss_steps, snap.loss_values, snap.val_steps, snap.val_values)
        r = snap.record
        if r is not None:
            clip = None if snap.clip_mode == "off" else snap.clip
            extra = "" if snap.clip_mode != "value" else "clip per entry"
            self.grad_pane.set_data(
                r.grad_t, r.grad_last_t, snap.grad_history, clip, r.clipped, r.grad_norm, extra
            )

    def _update_status(self) -> None:
        snap = self.snapshot
        r = snap.record if snap else None
        state = snap.state if snap else "starting"
        if state == "training" and self.paused:
            state = "paused"
        self.status_bar.set_status(
            corpus=self.corpus_name,
            vocab=len(self.vocab),
            cell=self.cell.name,
            params=self.cell.n_params(),
            step=r.step if r else 0,
            chars_per_s=r.chars_per_s if r and state == "training" else 0.0,
            state=state,
            lr=snap.lr if snap else float("nan"),
            temperature=self.temperature,
            message=self.notice,
        )

    # -- samples -----------------------------------------------------------------------------

    def type_sample(self) -> None:
        """Type the next few characters of the current sample; start a new one when done."""
        if self._weights is None:
            return
        if self._sampler is None or self._typed >= self.sample_len:
            if self.paused and self._sampler is not None:
                return  # paused: finish the current sample, then rest (no idle CPU)
            self._new_sample()
        self._type_credit += CHARS_PER_S / TYPE_HZ
        n = int(self._type_credit)
        if n == 0 or self._sampler is None:
            return
        self._type_credit -= n
        n = min(n, self.sample_len - self._typed)
        text = "".join(next(self._sampler).char for _ in range(n))
        self._typed += n
        self.sample_pane.append_chars(text)

    def _new_sample(self) -> None:
        assert self._weights is not None
        params, step = self._weights
        self._sample_no += 1
        self._sampler = sample_chars(
            self.cell,
            params,
            self._vocab,
            temperature=self.temperature,
            top_k=self.top_k,
            seed=self.seed + self._sample_no,
            reset_at=self.reset_at,
        )
        self._typed = 0
        self.sample_pane.start_sample(f"step {step:,} · temperature {self.temperature:.1f}")

    # -- actions -----------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self._trace("toggle_pause")
        if self.snapshot is not None and self.snapshot.state in ("diverged", "error"):
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
        self.backend.send("reset")
        self._weights, self._sampler = None, None
        self.sample_pane.clear()
        if self.snapshot is not None and self.snapshot.state in ("diverged", "error"):
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

    def action_save(self) -> None:
        self._trace("save")
        step = self.snapshot.record.step if self.snapshot and self.snapshot.record else 0
        path = self.save_path or f"{self.corpus_stem}-{self.cell.name}-step{step}.npz"
        self.backend.send("save", path=path)
        self.notice = f"saving {path} ..."
        self._update_status()

    def action_help(self) -> None:
        self._trace("help")
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit_app(self) -> None:
        self._trace("quit_app")
        if isinstance(self.screen, HelpScreen):  # q on the help screen closes it
            self.pop_screen()
            return
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
            ("Save a checkpoint", "s", self.action_save),
            ("Help: what the panes show", "?", self.action_help),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)

    def on_unmount(self) -> None:
        self.backend.stop()


def make_app(
    trainer: Trainer, save_path: str | None = None, backend: Backend | None = None
) -> RnnApp:
    """The app exactly as the CLI builds it. The trainer moves to a worker process."""
    c = trainer.config
    corpus = trainer.corpus
    return RnnApp(
        backend or TrainerProcess(trainer),
        corpus_name=corpus.name,
        vocab=corpus.vocab.chars,
        cell=make_cell(c.cell, corpus.vocab.size, c.hidden, c.dtype),
        temperature=c.temperature,
        top_k=c.top_k,
        sample_len=c.sample_len,
        seed=c.seed,
        save_path=save_path,
        corpus_stem=Path(corpus.path).stem or "model",
        reset_at=c.reset_at,
    )


def run_app(trainer: Trainer, args: argparse.Namespace) -> int:
    """Run the app until the user quits; the worker is stopped whatever happens."""
    app = make_app(
        trainer, save_path=args.save, metrics_path=args.metrics, log_every=args.log_every
    )
    try:
        code = app.run()
    finally:
        app.backend.stop()
    return 0 if code is None else int(code)
