"""What each key does (the table of keys is `actions.py`): commands to the run, the app's own
settings, the neuron view, files, a replay's keys, and what happens at the end. Mixed into
`RnnApp`; the probe pane's keys are in `probe_events.py`."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.theme import Theme

from rnn_tui.engine.config import CELL_NAMES
from rnn_tui.engine.sample_settings import MAX_TEMPERATURE
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.actions import LR_FACTOR, NEURON, SEEK_SHARE, SURPRISE, TEMP_STEP

if TYPE_CHECKING:  # NumPy and the model code load after the first frame (`RnnApp.boot`)
    from rnn_tui.engine.model import Cell
    from rnn_tui.engine.sample_settings import SampleSettings
    from rnn_tui.engine.text import Vocab
    from rnn_tui.run.protocol import Command, Snapshot
    from rnn_tui.run.replay import ReplaySource
    from rnn_tui.run.source import RunSource
    from rnn_tui.ui.inside import Insider
    from rnn_tui.ui.lane import Lane
    from rnn_tui.ui.probing import Prober
    from rnn_tui.ui.settings import UISettings
    from rnn_tui.ui.widgets.probe_pane import ProbeView

CLIP_CYCLE = ("norm", "off")  # what `c` cycles through
SIGNAL_GRACE = 5.0  # seconds from a quit signal to the end of the process, whatever happens
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


@cache
def _commands() -> dict[str, type[Command]]:
    from rnn_tui.run.protocol import Pause, Reset, Save, SetHyper, Step, SwitchCell

    return {
        "toggle_pause": Pause,  # and Resume: a source takes both or neither
        "one_step": Step,
        "reset": Reset,
        "lr_up": SetHyper,
        "lr_down": SetHyper,
        "cycle_clip": SetHyper,
        "next_cell": SwitchCell,
        "save": Save,
    }


def command_of(action: str) -> type[Command] | None:
    """The command type the key `action` sends its source; None for one that acts on the
    screen alone. (The protocol loads with NumPy: asked only once the panes are built.)"""
    return _commands().get(action)


class KeyActions:
    """The `action_*` handlers of the app's keys, and the saving they lead to. Mixed into
    `RnnApp` (a Textual App), which has all of the following."""

    source: RunSource  # where snapshots come from and commands go
    spec: RunSpec  # what the run was built from
    new_source: Callable[[RunSpec], RunSource] | None  # starts another trainer process
    vocab: Vocab  # the run's characters
    settings: UISettings  # the app's own settings
    sampling: SampleSettings  # how samples are drawn now
    lanes: list[Lane]  # one per run
    notice: str  # the status line's message
    source_lost: str  # how the source ended, once it has
    awaited: set[int]  # ids of requests whose replies the status shows
    silent: bool  # the source has not answered for a while
    saved_message: str | None  # what the final save said
    neuron_unit: int  # the hidden unit the neuron view shows
    neuron_view: bool  # whether the neuron view is on
    _default_theme: str  # the theme to go back to from high contrast
    snapshot: Snapshot | None  # the first run's newest snapshot
    cell: Cell  # the first run's cell
    compare: bool  # two runs side by side
    replaying: bool  # the source is a recording played back
    paused: bool  # no run trains now
    update_status: Callable[[], None]  # redraw the status line
    prober: Prober  # the probe pane's text, cursor, shading and worker
    probe_views: list[ProbeView]  # one probe view per lane
    set_probe_shading: Callable[[str | None], None]  # open the probe with a shading
    _probe_units: Callable[[list[int]], None]  # each lane's unit in the probe's views
    _probe_neuron_units: Callable[[], list[int]]  # the probe's units, in the neuron shading
    inside: Insider  # the spectrum and gates views in the gradient panes' place
    poll_source: Callable[[], None]  # take the source's newest snapshots now

    def say(self, notice: str) -> None:
        self.notice = notice
        self.update_status()

    # -- training ------------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        from rnn_tui.run.protocol import Pause, Resume

        if self.source_lost:
            self.say("the trainer process is gone: r starts a new one")
        elif self.snapshot is not None and self.snapshot.state.stopped:
            self.say("training stopped: press r to reset")
        elif self.paused:
            self.source.send(Resume())
            self.say("")
        else:
            self.source.send(Pause())
            self.say("paused: n steps once, space resumes")

    def action_one_step(self) -> None:
        from rnn_tui.run.protocol import Step

        self.source.send(Step())

    def action_reset(self) -> None:
        from rnn_tui.run.protocol import Reset

        if self.source_lost:
            self.restart_source()
            return
        self.source.send(Reset())
        for lane in self.lanes:
            lane.forget_sample()

    def _set_lr(self, factor: float) -> None:
        from rnn_tui.run.protocol import LR_MAX, LR_MIN, SetHyper, lr_text

        snaps = [lane.snapshot for lane in self.lanes if lane.snapshot is not None]
        if not snaps:
            return
        self.source.send(SetHyper(lr_factor=factor))  # each run's own rate, times the factor
        rates = [(s.cell, min(LR_MAX, max(LR_MIN, s.lr * factor))) for s in snaps]
        self.say(f"learning rate {lr_text(rates)}")

    def action_lr_up(self) -> None:
        self._set_lr(LR_FACTOR)

    def action_lr_down(self) -> None:
        self._set_lr(1 / LR_FACTOR)

    def action_cycle_clip(self) -> None:
        from rnn_tui.run.protocol import SetHyper

        mode = self.snapshot.clip_mode if self.snapshot else "norm"
        nxt = (
            CLIP_CYCLE[(CLIP_CYCLE.index(mode) + 1) % len(CLIP_CYCLE)]
            if mode in CLIP_CYCLE
            else "norm"
        )
        self.source.send(SetHyper(clip_mode=nxt))
        self.say(f"clipping {nxt}")

    def action_next_cell(self) -> None:
        from rnn_tui.run.protocol import SwitchCell

        names = list(CELL_NAMES)  # side by side, l is refused before this (`RnnApp.obeyed`)
        cell = names[(names.index(self.cell.name) + 1) % len(names)]
        self.source.send(SwitchCell(cell))  # the lane follows when the run says it switched
        self.say(f"switching to {cell}: a new model from the seed")

    # -- sampling and viewing ----------------------------------------------------------------------

    def _set_temperature(self, delta: float) -> None:
        t = round(min(MAX_TEMPERATURE, max(0.1, self.sampling.temperature + delta)), 2)
        self.sampling = self.sampling.with_(temperature=t)
        self.say(f"temperature {t:.1f} (from the next sample)")

    def action_temp_down(self) -> None:
        self._set_temperature(-TEMP_STEP)

    def action_temp_up(self) -> None:
        self._set_temperature(TEMP_STEP)

    def action_prime(self) -> None:
        from rnn_tui.ui.widgets.prime_input import PrimeScreen, prime_notice

        """Ask for the text every sample continues; a new sample starts with it at once."""

        def chosen(prime: str | None) -> None:
            if prime is not None:  # None: the viewer cancelled
                self.sampling = self.sampling.with_(prime=prime)
                for lane in self.lanes:
                    lane.start_over()
                self.say(prime_notice(prime))

        if not isinstance(self.screen, PrimeScreen):
            self.push_screen(PrimeScreen(self.sampling.prime, self.vocab.chars), chosen)

    def draw_neurons(self) -> None:
        lane = self.lanes[0]
        self.neuron_unit %= lane.cell.H
        hidden = lane.hidden_values()
        chars = [ch for ch, _ in lane.recent]
        unit, n = self.neuron_unit, lane.cell.H
        lane.neurons.set_data(chars, hidden[:, unit], unit, n, lane.cell.name)

    def action_toggle_neurons(self) -> None:
        if self.prober.is_open:  # the probe hides the neuron view: v shades the probe instead
            self.set_probe_shading(SURPRISE if self.prober.shading == NEURON else NEURON)
            return
        self.neuron_view = not self.neuron_view
        self.screen.set_class(self.neuron_view, "-neurons")
        if self.neuron_view:
            self.draw_neurons()

    def _show_unit(self, unit: int) -> None:
        self.neuron_unit = unit % self.cell.H
        if not self.neuron_view:
            self.action_toggle_neurons()
        self.draw_neurons()

    def action_unit(self, delta: int) -> None:
        if self.prober.is_open:
            self._probe_units([u + delta for u in self._probe_neuron_units()])
            return
        self._show_unit(self.neuron_unit + delta)

    def action_most_varying_unit(self) -> None:
        from rnn_tui.engine.sampling import most_varying_unit

        if self.prober.is_open:
            units = self._probe_neuron_units()
            for i, view in enumerate(self.probe_views):  # each model its own unit
                r = view.data.result
                if r is not None and r.known.any():
                    units[i] = most_varying_unit(r.hs[r.known])  # (known chars, H)
            self._probe_units(units)
            return
        self._show_unit(most_varying_unit(self.lanes[0].hidden_values()))

    def action_inside_view(self) -> None:
        """Cycle the gradient panes' place: gradients, spectrum, gates (for gated cells)."""
        self.inside.cycle()
        self.say(self.inside.status())

    def action_toggle_contrast(self) -> None:
        projector = self.theme != PROJECTOR_THEME.name
        self.theme = PROJECTOR_THEME.name if projector else self._default_theme
        self.say("high contrast for projectors" if projector else "normal colours")

    def action_help(self) -> None:
        from rnn_tui.ui.widgets.help_screen import HelpScreen  # Markdown: not for the first frame

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.vocab.size, self.spec.configs[0]))

    def action_quit_app(self) -> None:
        """Quit; the exit code says whether the run ended well (1: it diverged, its trainer
        raised, or its process died and was not restarted), as headless mode's does."""
        stopped = any(lane.snapshot and lane.snapshot.state.stopped for lane in self.lanes)
        self.exit(return_code=1 if stopped or self.source_lost else 0)

    # -- files -------------------------------------------------------------------------------------

    def action_save(self) -> None:
        from rnn_tui.run.protocol import Save

        step = self.snapshot.record.step if self.snapshot and self.snapshot.record else 0
        cell = "" if self.compare else f"-{self.cell.name}"  # compare: one file per cell
        stem = Path(self.spec.corpus_name).stem or "model"
        path = self.settings.save_path or f"{stem}{cell}-step{step}.npz"
        if self.source_lost:  # nobody to ask: write the weights the app holds
            from rnn_tui.ui.keep import save_held

            self.say(save_held(path, self.lanes, self.spec, self.vocab.chars))
        else:
            self.awaited.add(self.source.send(Save(path)))  # its reply becomes the notice
            self.say(f"saving {path} ...")

    def action_screenshot(self) -> None:
        folder = self.settings.export_dir or "."
        try:
            name = f"rnn-tui-{time.strftime('%Y%m%d-%H%M%S')}.svg"
            from rnn_tui.ui.export import ensure_dir

            path = self.save_screenshot(filename=name, path=ensure_dir(folder))
            self.say(f"screenshot saved to {path}")
        except OSError as exc:
            self.say(f"cannot save a screenshot in {folder}: {exc.strerror or exc}")

    def action_export(self) -> None:
        folder = self.settings.export_dir
        if not folder:
            self.say("e exports with --export-dir DIR: start the app with it")
        else:
            from rnn_tui.ui.export import export_run

            self.say(export_run(folder, self.lanes, lambda p: self.save_model(p, 0.5)))

    def save_model(self, path: str, timeout: float = 1.0) -> tuple[bool, str]:
        """Have the run save its model to `path`; if its source is gone or does not answer
        within `timeout` seconds, write the weights the app holds. Returns (saved, what)."""
        from rnn_tui.run.protocol import Save

        reply = None if self.source_lost else self.source.request(Save(path), timeout)
        if reply is not None:
            return reply.ok, reply.text
        from rnn_tui.ui.keep import save_held

        held = save_held(path, self.lanes, self.spec, self.vocab.chars)
        return held.startswith("saved"), held

    # -- a replay (rnn-tui replay DIR) -------------------------------------------------------------

    def _replay(self) -> ReplaySource | None:
        """The replay the app shows, or None. (Elsewhere these keys are not taken at all:
        `RnnApp.check_action`.)"""
        return cast("ReplaySource", self.source) if self.replaying else None

    def action_replay_speed(self, factor: float) -> None:
        if (replay := self._replay()) is not None:
            self.say(replay.set_speed(factor))

    def _replay_moved(self, notice: str) -> None:
        """After a jump: the snapshot of the new position at once, and a new sample from its
        weights where they changed (even while the replay is paused)."""
        before = [lane.weights[1] if lane.weights else None for lane in self.lanes]
        self.poll_source()
        for lane, step in zip(self.lanes, before, strict=True):
            if lane.weights is not None and lane.weights[1] != step:
                lane.start_over()
        self.say(notice)

    def action_replay_seek(self, direction: int) -> None:
        if self.prober.is_open:  # the arrows move the probe's cursor there
            return
        if (replay := self._replay()) is not None:
            self._replay_moved(replay.seek(direction * SEEK_SHARE))

    def action_replay_go_to(self) -> None:
        from rnn_tui.ui.widgets.step_input import StepScreen

        if (replay := self._replay()) is None or isinstance(self.screen, StepScreen):
            return

        def chosen(step: int | None) -> None:
            if step is not None:  # None: the viewer cancelled
                self._replay_moved(replay.go_to(step))

        self.push_screen(StepScreen(replay.first, replay.last), chosen)

    # -- a new trainer, and the end ------------------------------------------------------------

    def restart_source(self) -> None:
        """Start a new trainer process from the weights the app holds."""
        if self.new_source is None:
            self.say("cannot start a new trainer here: quit and start again")
            return
        from rnn_tui.ui.keep import configs_now, held_checkpoints

        held = tuple(held_checkpoints(self.lanes, self.spec, self.vocab.chars))
        spec = RunSpec(
            self.spec.corpus,
            configs_now(self.lanes, self.spec),
            resume=held,
            trainer_class=self.spec.trainer_class,
            lag=self.spec.lag,
        )
        self.source.stop(timeout=0.5)
        self.source, self.spec = self.new_source(spec), spec
        self.source_lost, self.silent = "", False
        self.source.start(background=True)
        w = self.lanes[0].weights
        self.say(
            f"a new trainer goes on from step {w[1]:,}"
            if w
            else "a new trainer starts from the seed"
        )

    def on_signal(self, sig: signal.Signals) -> None:
        """SIGTERM, SIGHUP (an SSH link dropping) or SIGINT: save if asked to, then quit with
        the conventional code 128 + the signal's number."""
        self.notice = f"{sig.name}: quitting"
        self.exit(return_code=128 + int(sig))
        # With the terminal gone, Textual's shutdown can wait forever to write to it: end the
        # process anyway once the model has had time to be saved.
        watchdog = threading.Timer(SIGNAL_GRACE, os._exit, args=(128 + int(sig),))
        watchdog.daemon = True
        watchdog.start()

    def finish(self) -> None:
        """At the end: export and autosave what the run holds, then stop its source."""
        from rnn_tui.run.protocol import Pause

        s = self.settings
        ran = self.snapshot is not None and self.snapshot.record is not None
        if (s.export_dir or s.autosave_path) and ran and not self.source_lost:
            # Stop training first (commands run in order): the checkpoint saved next is then
            # the final model, and the metrics file has no step after it.
            self.source.send(Pause())
        if s.export_dir and ran:
            from rnn_tui.ui.export import export_run

            self.saved_message = export_run(s.export_dir, self.lanes, self.save_model)
        if s.autosave_path and ran:
            self.saved_message = self.save_model(s.autosave_path)[1]
        self.source.stop(timeout=0.5)  # paused and saved: it has nothing left to finish
