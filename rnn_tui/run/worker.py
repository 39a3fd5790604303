"""The trainer's side of the app: a loop in its own process, driven by a request queue.

The app sends `Request`s (rnn_tui.run.protocol); the loop answers with `Snapshot`s at a bounded
rate. Each snapshot carries its own bounded history (loss curve, recent gradient profiles), so
the app may drop any of them and draw only the newest: latest wins. Weights for sampling travel
as copies. No UI import here: this module runs in a process that never loads Textual.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from rnn_tui.engine.blas import flush_subnormals, keep_freed_memory
from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.config import for_cell
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.baselines import floors_only, metrics_fields, work_out
from rnn_tui.run.blowup import BlowupWatch, blowup_line
from rnn_tui.run.build import build_trainers
from rnn_tui.run.history import Run
from rnn_tui.run.outputs import MetricsLog, cell_paths
from rnn_tui.run.protocol import (
    Baselines,
    Evaluate,
    Failure,
    Heartbeat,
    Pause,
    Quit,
    Reply,
    Request,
    Reset,
    Resume,
    RunState,
    Save,
    SetHyper,
    Step,
    SwitchCell,
)
from rnn_tui.run.record import Recorder
from rnn_tui.run.spec import RunSpec

SNAPSHOT_HZ = 10.0  # snapshots per second sent to the UI while training
HEARTBEAT = 1.0  # seconds between two heartbeats while idle: the UI knows the worker lives
BLOWUP_ADVICE = "c clips, r resets"  # after a blow-up: the keys of rnn_tui/ui/actions.py


class TrainerLoop:
    """Runs one trainer, or two side by side (compare mode), obeys commands, publishes
    snapshots. One per worker process. In compare mode the two take turns, one step each, so
    they read the same batches and share the process's core equally."""

    def __init__(
        self,
        trainers: list[Trainer],
        commands: Any,
        snapshots: Any,
        log_path: str,
        metrics_path: str | None = None,
        log_every: int = 10,
        parent: int | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.runs = [Run(t) for t in trainers]
        self.recorder = recorder  # --record: writes the run as it goes
        self.watches = [BlowupWatch(r.trainer) for r in self.runs]  # each run's first blow-up
        self.parent = os.getppid() if parent is None else parent  # the app's process id
        self.commands = commands  # queue of Request from the app
        self.snapshots = snapshots  # queue of tuples of Snapshot to the UI
        self.log_path = log_path  # where tracebacks of trainer errors go
        # JSON lines of metrics; a write error is told once and stops them, not training.
        self.metrics = MetricsLog(metrics_path, log_every) if metrics_path else None
        self.paused = False
        self.blown = False  # paused by a blow-up, not by the user: a reset goes on training
        self.running = True
        self.seq = 0
        self.message = ""
        self.replies: list[Reply] = []  # answers waiting for the next snapshot
        self.last_publish = 0.0  # monotonic time of the last snapshot sent
        # The corpus's reference losses: the floors at once, the counting baseline once
        # `start_baselines` has worked it out (one for all runs: they share the corpus).
        self.baselines: Baselines = floors_only(trainers[0])
        self.baseline_seconds: float | None = None  # how long the counting took, once done

    def start_baselines(self) -> threading.Thread:
        """Work out the counting baseline in a thread of this process, so that neither the
        first snapshot nor the first step waits for it (NumPy's sorts run without the GIL).
        Each snapshot after it is done carries it; so do the metrics lines."""

        def count() -> None:
            try:
                self.baselines, self.baseline_seconds = work_out(self.runs[0].trainer)
            except Exception:  # never fatal: the chart just lacks the line
                self._log_exception()

        thread = threading.Thread(target=count, name="ngram-baseline", daemon=True)
        thread.start()
        return thread

    @property
    def idle(self) -> bool:
        return self.paused or all(r.stopped for r in self.runs)

    @property
    def state(self) -> RunState:
        if all(r.trainer.last is None for r in self.runs) and not self.paused:
            return RunState.STARTING
        return RunState.PAUSED if self.paused else RunState.TRAINING

    # -- commands ----------------------------------------------------------------------------

    def handle(self, request: Request) -> None:
        """Carry out one request; answer it if it asked for a reply; publish at once."""
        cmd = request.command
        if isinstance(cmd, Quit):
            self.running = False
            return  # the app no longer reads: publishing could only block
        handler: Callable[[Any], Reply | None] = self._handlers[type(cmd)]
        reply = handler(cmd)
        if reply is not None and request.id:
            self.replies.append(Reply(request.id, reply.ok, reply.text, reply.values))
        self.publish(force=True)

    @property
    def _handlers(self) -> dict[type, Callable[[Any], Reply | None]]:
        return {
            Pause: self._pause,
            Resume: self._resume,
            Step: self._step,
            Reset: self._reset,
            SetHyper: self._set_hyper,
            SwitchCell: self._switch_cell,
            Save: self._save,
            Evaluate: self._evaluate,
        }

    def _pause(self, cmd: Pause) -> None:
        self.paused, self.blown = True, False

    def _resume(self, cmd: Resume) -> None:
        self.paused, self.blown = False, False

    def _step(self, cmd: Step) -> None:
        self.paused, self.blown = True, False
        self._train_step()

    def _reset(self, cmd: Reset) -> Reply:
        stopped = self._stop_recording()
        for run, watch in zip(self.runs, self.watches, strict=True):
            run.trainer.reset()
            run.error = ""
            run.clear()
            run.send_weights = True
            watch.reset()
        if self.blown:  # the loop paused itself at a blow-up; r after c is the way on
            self.paused, self.blown = False, False
        self.message = "weights reset" + stopped
        return Reply(0, True, self.message)

    def _set_hyper(self, cmd: SetHyper) -> Reply:
        for run in self.runs:
            run.trainer.set_config(cmd.applied_to(run.trainer.config))
        return Reply(0, True, cmd.describe([run.trainer.config for run in self.runs]))

    def _switch_cell(self, cmd: SwitchCell) -> Reply:
        """A new model of another cell on the same corpus, from the seed: the settings carry
        over, except those still at the old cell's default, which take the new one's
        (`for_cell`). Paused by the user, it waits, and says so; paused by a blow-up, it
        trains, as after a reset."""
        old = self.runs[0].trainer
        stopped = self._stop_recording()
        c = for_cell(old.config, cmd.cell)
        self.runs = [Run(Trainer(old.corpus, c))]
        self.watches = [BlowupWatch(self.runs[0].trainer)]
        if self.blown:  # as after r: a new model after the loop paused itself trains on
            self.paused, self.blown = False, False
        what = f"new {cmd.cell}, H={c.hidden}, lr {c.lr:g}"  # from the seed
        held = f"{what}, paused: space trains it" if self.paused else f"training a {what}"
        self.message = held + stopped
        return Reply(0, True, self.message)

    def _stop_recording(self) -> str:
        """A recording holds one run from its start: a reset or a new cell ends it."""
        if self.recorder is None or self.recorder.stopped:
            return ""
        return "; " + self.recorder.stop()

    def _evaluate(self, cmd: Evaluate) -> Reply:
        """The loss of each run's current weights on the query's text, nats/char."""
        try:
            values = tuple(run.trainer.loss_on(cmd.text) for run in self.runs)
        except UserError as exc:
            return Reply(0, False, str(exc))
        return Reply(0, True, " ".join(f"{v:.3f}" for v in values), values)

    def _save(self, cmd: Save) -> Reply:
        ok, text = self._save_all(cmd.path)
        if self.metrics is not None and self.metrics.ensure():  # its folder was deleted
            step = self.runs[0].trainer.steps
            text += f"; the metrics file was deleted: it holds steps after {step:,}"
        return Reply(0, ok, text)

    def _save_all(self, path: str) -> tuple[bool, str]:
        saved = []
        paths = cell_paths(path, [run.trainer.config.cell for run in self.runs])
        for run, p in zip(self.runs, paths, strict=True):
            try:
                saved.append(save_checkpoint(p, run.trainer))
            except UserError as exc:
                return False, str(exc)
        return True, "saved " + ", ".join(saved)

    def _train_step(self) -> None:
        for run, watch in zip(self.runs, self.watches, strict=True):
            if run.stopped:
                continue
            try:
                record = run.trainer.step()
            except Exception as exc:  # a bug must not kill the app: report it, keep serving
                run.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                self._log_exception()
                self.message = f"trainer error: {run.error} (details in {self.log_path})"
                continue
            if record.diverged:
                self.message = (
                    f"{run.trainer.config.cell} diverged at step {record.step:,}:"
                    " r resets, - lowers the rate"
                )
                continue
            if watch.check(record):
                record = self._blew_up(run, record)
            if self.metrics is not None and self.metrics.due(record.step):
                line = record.to_json(run.trainer.config.cell)
                self.metrics.write({**line, **metrics_fields(self.baselines)})
                self.message = self.metrics.take_error() or self.message
            run.record(record)
            if self.recorder is not None:  # --record: it thins the lines itself
                self.recorder.add(self.runs.index(run), record)
                self.message = self.recorder.take_error() or self.message

    def _blew_up(self, run: Run, record: StepRecord) -> StepRecord:
        """Pause at a run's first blow-up and say what happened and what to press. The pause
        keeps the exploded profile on screen; without it the next steps, taken from the thrown
        weights, would soon show saturated units and a vanishing profile instead. Returns the
        step's record with ‖W_hh‖₂ exact, as the line says it (`weights_norm`): the step's
        estimate lags the jump (6.7 beside the line's 28 at --preset exploding --lr 0.3), and
        the pause would hold both on screen."""
        cell = f"{run.trainer.config.cell}: " if len(self.runs) > 1 else ""
        if not self.paused:  # stepping with n, the user already holds the run: r keeps it so
            self.paused, self.blown = True, True
        self.message = f"{cell}{blowup_line(record, run.trainer)}; {BLOWUP_ADVICE}"
        return run.trainer.last or record

    def _log_exception(self) -> None:
        with contextlib.suppress(OSError), open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"--- {time.ctime()}\n{traceback.format_exc()}\n")

    # -- publishing --------------------------------------------------------------------------

    def publish(self, force: bool = False) -> None:
        """Send one snapshot per run (dropped if the UI is far behind: the next replaces it)."""
        self.seq += 1
        self.last_publish = time.monotonic()
        replies = tuple(self.replies)
        snaps = tuple(
            r.snapshot(
                self.state, self.message, self.seq, replies if i == 0 else (), self.baselines
            )
            for i, r in enumerate(self.runs)
        )
        self.message = ""
        try:
            self.snapshots.put(snaps, block=force or bool(replies), timeout=1.0)
            self.replies.clear()
        except queue.Full:
            for run, snap in zip(self.runs, snaps, strict=True):
                if snap.weights is not None:
                    run.send_weights = True  # try again with the next snapshot

    def run(self) -> None:
        period = 1.0 / SNAPSHOT_HZ
        self.publish(force=True)
        self.last_publish = 0.0  # the first step's snapshot goes at once: words start sooner
        counting: threading.Thread | None = None
        while self.running:
            idle = self.idle
            try:  # block while idle (no CPU), otherwise just look
                cmd = self.commands.get(timeout=0.5) if idle else self.commands.get_nowait()
            except queue.Empty:
                cmd = None
            except EOFError:  # the app closed its end of the pipe (`spawned.py`): it has gone
                return
            if cmd is not None:
                self.handle(cmd)
                continue
            if not idle:
                self._train_step()
                if self.idle:  # an error or a divergence stopped training: say so at once
                    self.publish(force=True)
            if time.monotonic() >= self.last_publish + (HEARTBEAT if idle else period):
                if os.getppid() != self.parent:  # the app died without saying so: do not linger
                    return
                if idle and not self.replies:  # nothing changed: only say it is alive
                    self.last_publish = time.monotonic()
                    with contextlib.suppress(queue.Full):
                        self.snapshots.put_nowait((Heartbeat(),))
                else:
                    self.publish()
            if counting is None:  # after the first step and its snapshot, which never wait
                counting = self.start_baselines()


def worker_main(
    spec: RunSpec,
    commands: Any,
    snapshots: Any,
    log_path: str,
    metrics_path: str | None,
    log_every: int,
    parent: int,
    record: str | None = None,
) -> None:
    """Entry point of the worker process: build the spec's trainers here, then run them.
    `parent` is the app's process id, known before this process started: the app may die
    while the corpus is read, and then `os.getppid()` is already another process's."""
    # Ctrl-C, a hang-up and a terminate aimed at the whole process group belong to the app:
    # it saves (--autosave) and then stops us. If the app dies instead, run() notices.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    keep_freed_memory()  # this process trains: reuse freed memory instead of page-faulting
    flush_subnormals()  # and this thread: a vanishing gradient must not slow the step down
    try:
        trainers = build_trainers(spec)  # the corpus is read where it is used
    except UserError as exc:  # e.g. the file changed since the app checked it
        snapshots.put((Failure(str(exc)),))
        snapshots.close()
        snapshots.join_thread()
        return
    recorder = Recorder(record, spec, trainers) if record else None
    loop = TrainerLoop(
        trainers, commands, snapshots, log_path, metrics_path, log_every, parent, recorder
    )
    try:
        loop.run()
    finally:
        if loop.metrics is not None:
            loop.metrics.close()
        if recorder is not None:
            recorder.close()  # the last step and its weights
        snapshots.cancel_join_thread()  # exit now, even if unread snapshots fill the pipe
