"""The trainer's side of the app: a loop in its own process, driven by a command queue.

The UI sends small `Command`s; the loop answers with `Snapshot`s at a bounded rate. Each
snapshot carries its own bounded history (loss curve, recent gradient profiles), so the UI may
drop any of them and draw only the newest: latest wins. Weights for sampling travel as copies.
No UI import here: this module runs in a process that never loads Textual.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import signal
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rnn_tui.engine.blas import keep_freed_memory, pin_blas_threads
from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.model import Params
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.outputs import MetricsLog, cell_paths
from rnn_tui.run.spec import RunSpec, build_trainers

SNAPSHOT_HZ = 10.0  # snapshots per second sent to the UI while training
HEARTBEAT = 1.0  # seconds between two snapshots while idle: the UI knows the worker lives
WEIGHTS_EVERY = 2.0  # seconds between two weight copies for the sampler
GRAD_ROWS = 64  # recent gradient profiles kept for the heat strip
HISTORY_POINTS = 2048  # loss points kept; past this, pairs are merged (the whole run stays)


@dataclass(frozen=True)
class Command:
    """A request from the UI. `kind` is one of the names handled in `TrainerLoop.handle`."""

    kind: str  # pause, resume, step, reset, set, save, quit
    args: dict[str, Any] = field(default_factory=dict)
    id: int = 0  # a command that is answered (save) gets its answer under this number


@dataclass(frozen=True)
class Reply:
    """The answer to one command, matched to it by `id`."""

    id: int  # the command's id
    ok: bool  # whether it did what was asked
    text: str  # what to tell the user ("saved run.npz", "cannot save ...")


@dataclass(frozen=True)
class Failure:
    """Sent instead of snapshots when the worker cannot start its runs (then it ends)."""

    text: str  # one line: what went wrong


@dataclass(frozen=True)
class Snapshot:
    """Everything the UI draws, as of one moment. Arrays are copies owned by the snapshot."""

    state: str  # "starting", "training", "paused", "diverged" or "error"
    record: StepRecord | None  # the latest step; None before the first
    loss_steps: np.ndarray  # (N,) steps of the smoothed loss history
    loss_values: np.ndarray  # (N,) smoothed training loss, nats/char
    val_steps: np.ndarray  # (M,) steps of held-out evaluations
    val_values: np.ndarray  # (M,) held-out loss, nats/char
    grad_history: np.ndarray  # (K, T) recent grad_last_t rows, oldest first
    lr: float  # learning rate now
    clip_mode: str  # "norm", "value" or "off"
    clip: float  # clipping threshold
    message: str = ""  # a notice for the status line ("saved ...", "error: ...")
    weights: Params | None = None  # a copy of the weights for sampling, when new
    weights_step: int = 0  # the step those weights come from
    seq: int = 0  # increases by one per snapshot
    cell: str = "rnn"  # which cell this run trains
    replies: tuple[Reply, ...] = ()  # answers to commands since the last snapshot (first run)


class History:
    """A loss curve of bounded size: when full, neighbouring points are averaged in pairs, so the
    whole run stays visible at ever coarser resolution and memory stays flat."""

    def __init__(self, capacity: int = HISTORY_POINTS) -> None:
        self.capacity = capacity
        self.steps = np.zeros(capacity, np.float64)
        self.values = np.zeros(capacity, np.float64)
        self.n = 0  # points stored
        self.stride = 1  # raw points per stored point
        self._acc: list[tuple[float, float]] = []  # raw points waiting to fill one stored point

    def add(self, step: float, value: float) -> None:
        self._acc.append((step, value))
        if len(self._acc) < self.stride:
            return
        s, v = np.mean(self._acc, axis=0)
        self._acc.clear()
        if self.n == self.capacity:  # full: merge pairs, halving resolution
            half = self.capacity // 2
            self.steps[:half] = self.steps[: 2 * half].reshape(half, 2).mean(1)
            self.values[:half] = self.values[: 2 * half].reshape(half, 2).mean(1)
            self.n, self.stride = half, self.stride * 2
        self.steps[self.n], self.values[self.n] = s, v
        self.n += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the stored points."""
        return self.steps[: self.n].copy(), self.values[: self.n].copy()

    def clear(self) -> None:
        self.n, self.stride = 0, 1
        self._acc.clear()


class Run:
    """One trainer and what the UI needs of its past: loss curves, recent gradient profiles."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.error = ""  # set when the trainer raised; cleared by reset
        self.send_weights = True  # the next snapshot carries a weight copy
        self.last_weights = -1.0  # monotonic time of the last weight copy
        self.clear()

    def clear(self) -> None:
        self.loss = History()
        self.val = History(256)
        self.last_val_step: int | None = None
        self.grads: list[np.ndarray] = []

    @property
    def stopped(self) -> bool:
        return bool(self.error) or self.trainer.diverged

    def record(self, r: StepRecord) -> None:
        """Add a step to the histories."""
        self.loss.add(r.step, r.smooth_loss)
        if r.val_step is not None and r.val_step != self.last_val_step:
            self.val.add(r.val_step, r.val_loss if r.val_loss is not None else float("nan"))
            self.last_val_step = r.val_step
        self.grads.append(r.grad_last_t)
        if len(self.grads) > GRAD_ROWS:
            del self.grads[0]

    def snapshot(
        self, state: str, message: str, seq: int, replies: tuple[Reply, ...] = ()
    ) -> Snapshot:
        t = self.trainer
        now = time.monotonic()
        weights = None
        if t.last is not None and (self.send_weights or now - self.last_weights >= WEIGHTS_EVERY):
            weights = t.snapshot()
            self.last_weights, self.send_weights = now, False
        ls, lv = self.loss.arrays()
        vs, vv = self.val.arrays()
        grads = np.array(self.grads) if self.grads else np.zeros((0, t.config.seq_len))
        if self.error:
            state = "error"
        elif t.diverged:
            state = "diverged"
        return Snapshot(
            state=state,
            record=t.last,
            loss_steps=ls,
            loss_values=lv,
            val_steps=vs,
            val_values=vv,
            grad_history=grads,
            lr=t.config.lr,
            clip_mode=t.config.clip_mode,
            clip=t.config.clip,
            message=message,
            weights=weights,
            weights_step=t.steps,
            seq=seq,
            cell=t.config.cell,
            replies=replies,
        )


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
    ) -> None:
        self.runs = [Run(t) for t in trainers]
        self.commands = commands  # queue of Command from the UI
        self.snapshots = snapshots  # queue of tuples of Snapshot to the UI
        self.log_path = log_path  # where tracebacks of trainer errors go
        # JSON lines of metrics; a write error is told once and stops them, not training.
        self.metrics = MetricsLog(metrics_path, log_every) if metrics_path else None
        self.paused = False
        self.running = True
        self.seq = 0
        self.message = ""
        self.replies: list[Reply] = []  # answers waiting for the next snapshot
        self.last_publish = 0.0  # monotonic time of the last snapshot sent

    @property
    def idle(self) -> bool:
        return self.paused or all(r.stopped for r in self.runs)

    @property
    def state(self) -> str:
        if all(r.trainer.last is None for r in self.runs) and not self.paused:
            return "starting"
        return "paused" if self.paused else "training"

    # -- commands ----------------------------------------------------------------------------

    def handle(self, cmd: Command) -> None:
        if cmd.kind == "pause":
            self.paused = True
        elif cmd.kind == "resume":
            self.paused = False
        elif cmd.kind == "step":
            self.paused = True
            self._train_step()
        elif cmd.kind == "reset":
            for run in self.runs:
                run.trainer.reset()
                run.error = ""
                run.clear()
                run.send_weights = True
            self.message = "weights reset"
        elif cmd.kind == "set":
            for run in self.runs:
                run.trainer.set_config(run.trainer.config.with_(**cmd.args))
        elif cmd.kind == "cell":  # a new model of another cell, same corpus and settings
            old = self.runs[0].trainer
            self.runs = [Run(Trainer(old.corpus, old.config.with_(cell=cmd.args["cell"])))]
            self.message = f"training {cmd.args['cell']} from the seed"
        elif cmd.kind == "save":
            ok, text = self._save(cmd.args["path"])
            if self.metrics is not None and self.metrics.ensure():  # its folder was deleted
                step = self.runs[0].trainer.steps
                text += f"; the metrics file was deleted: it holds steps after {step:,}"
            self.replies.append(Reply(cmd.id, ok, text))
        elif cmd.kind == "quit":
            self.running = False
            return  # the app no longer reads: publishing could only block
        self.publish(force=True)

    def _save(self, path: str) -> tuple[bool, str]:
        saved = []
        paths = cell_paths(path, [run.trainer.config.cell for run in self.runs])
        for run, p in zip(self.runs, paths, strict=True):
            try:
                saved.append(save_checkpoint(p, run.trainer))
            except UserError as exc:
                return False, str(exc)
        return True, "saved " + ", ".join(saved)

    def _train_step(self) -> None:
        for run in self.runs:
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
                    f"{run.trainer.config.cell} diverged at step {record.step}:"
                    " press r to reset (and lower the learning rate)"
                )
                continue
            if self.metrics is not None and self.metrics.due(record.step):
                self.metrics.write(record.to_json(run.trainer.config.cell))
                self.message = self.metrics.take_error() or self.message
            run.record(record)

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
            r.snapshot(self.state, self.message, self.seq, replies if i == 0 else ())
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
        parent = os.getppid()
        self.publish(force=True)
        self.last_publish = 0.0  # the first step's snapshot goes at once: words start sooner
        while self.running:
            idle = self.idle
            try:  # block while idle (no CPU), otherwise just look
                cmd = self.commands.get(timeout=0.5) if idle else self.commands.get_nowait()
            except queue.Empty:
                cmd = None
            if cmd is not None:
                self.handle(cmd)
                continue
            if not idle:
                self._train_step()
                if self.idle:  # an error or a divergence stopped training: say so at once
                    self.publish(force=True)
            # While idle, a heartbeat now and then: the UI sees that the worker is alive.
            if time.monotonic() >= self.last_publish + (HEARTBEAT if idle else period):
                if os.getppid() != parent:  # the app died without saying so: do not linger
                    return
                self.publish()


def default_log_path() -> str:
    return os.path.join(tempfile.gettempdir(), f"rnn-tui-{os.getuid()}.log")


def worker_main(
    trainers: list[Trainer] | RunSpec,
    commands: Any,
    snapshots: Any,
    log_path: str,
    metrics_path: str | None,
    log_every: int,
) -> None:
    """Entry point of the worker process."""
    # Ctrl-C, a hang-up and a terminate aimed at the whole process group belong to the app:
    # it saves (--autosave) and then stops us. If the app dies instead, run() notices.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    # The trainers arrive pickled, so their __init__ (which tunes the process) never ran here;
    # without this the worker trains with two BLAS threads and a page fault per temporary.
    pin_blas_threads(1)
    keep_freed_memory()
    if isinstance(trainers, RunSpec):  # built here: the corpus is read where it is used
        try:
            trainers = build_trainers(trainers)
        except UserError as exc:  # the file changed since the app checked it, say
            snapshots.put((Failure(str(exc)),))
            snapshots.close()
            snapshots.join_thread()
            return
    loop = TrainerLoop(trainers, commands, snapshots, log_path, metrics_path, log_every)
    try:
        loop.run()
    finally:
        if loop.metrics is not None:
            loop.metrics.close()
        snapshots.cancel_join_thread()  # exit now, even if unread snapshots fill the pipe


class TrainerProcess:
    """The UI's handle on a worker process: send commands, poll the newest snapshot, stop.

    Create the first one before `App.run()`: a multiprocessing queue needs a resource tracker,
    which cannot be started inside a running Textual app (its stderr has no file descriptor
    there); once one runs, later handles (a restarted trainer) may be made at any time.
    """

    def __init__(
        self,
        trainers: list[Trainer] | RunSpec,
        log_path: str | None = None,
        metrics_path: str | None = None,
        log_every: int = 10,
    ) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a clean interpreter: no UI state, no inherited threads
        self.log_path = log_path or default_log_path()
        self.metrics_path = metrics_path  # kept for a restart with the same outputs
        self.log_every = log_every
        self.commands = ctx.Queue()
        self.snapshots = ctx.Queue(maxsize=8)  # small: the worker drops, never piles up
        self._starter: threading.Thread | None = None
        self._held: list[tuple[Snapshot, ...]] = []  # read by `request`, handed out by `poll`
        self._ids = itertools.count(1)  # command ids, for matching replies
        self.failure = ""  # why the worker could not start its runs, if it could not
        self.last_heard: float | None = None  # monotonic time the last snapshot arrived
        # The trainers are pickled to the child by start(), which then drops them: the UI
        # keeps no copy of the corpus or the model.
        self.process = ctx.Process(
            target=worker_main,
            args=(trainers, self.commands, self.snapshots, self.log_path, metrics_path, log_every),
            name="rnn-tui-trainer",
            daemon=True,
        )

    def start(self, background: bool = False) -> None:
        """Start the worker. Starting blocks until the child has read the pickled trainers
        (a few tenths of a second); `background` does it in a thread so the UI draws at once.
        Commands sent meanwhile wait in the queue."""
        if background:
            self._starter = threading.Thread(target=self.process.start, name="start-trainer")
            self._starter.start()
        else:
            self.process.start()

    def ended(self) -> str | None:
        """None while the worker runs (or is starting); once it is gone, how it ended."""
        if self.process.pid is None or self.process.is_alive():
            return None
        code = self.process.exitcode
        if self.failure:
            return self.failure
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the trainer process was killed ({name})"
        return f"the trainer process ended (exit code {code})"

    def send(self, kind: str, **args: Any) -> int:
        """Send a command; return its id (a reply to it, if any, carries the same id)."""
        cid = next(self._ids)
        if self.process.pid is None or self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.commands.put(Command(kind, args, cid))
        return cid

    def _read(self, timeout: float | None) -> tuple[Snapshot, ...] | None:
        """The next snapshots from the worker, or None; a Failure is kept, not returned."""
        try:
            item = (
                self.snapshots.get_nowait()
                if timeout is None
                else self.snapshots.get(timeout=timeout)
            )
        except (queue.Empty, OSError, ValueError, EOFError):
            return None
        self.last_heard = time.monotonic()
        if isinstance(item[0], Failure):
            self.failure = item[0].text
            return None
        return item

    def poll(self) -> tuple[Snapshot, ...] | None:
        """The newest snapshots (one per run) since the last poll, or None. Weights, messages
        and replies carried by older snapshots in between are kept, so none is lost by
        skipping."""
        latest: tuple[Snapshot, ...] | None = None
        weights: dict[int, tuple[Params, int]] = {}
        message = ""
        replies: list[Reply] = []
        held, self._held = self._held, []
        while True:
            snaps = held.pop(0) if held else self._read(None)
            if snaps is None:
                break
            latest = snaps
            for i, snap in enumerate(snaps):
                if snap.weights is not None:
                    weights[i] = (snap.weights, snap.weights_step)
            message = snaps[0].message or message
            replies.extend(snaps[0].replies)
        if latest is None:
            return None
        out = []
        for i, snap in enumerate(latest):
            if i in weights and snap.weights is None:
                snap = replace(snap, weights=weights[i][0], weights_step=weights[i][1])
            if i == 0:
                snap = replace(snap, message=message, replies=tuple(replies))
            out.append(snap)
        return tuple(out)

    def request(self, kind: str, timeout: float = 1.0, **args: Any) -> Reply | None:
        """Send a command and wait up to `timeout` seconds for the reply to it; None if none
        came. Snapshots read meanwhile, other replies included, are kept for the next `poll`."""
        if not self.process.is_alive():
            return None
        cid = self.send(kind, **args)
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            snaps = self._read(left)
            if snaps is None:
                if self.failure or not self.process.is_alive():
                    return None
                continue
            mine = [r for r in snaps[0].replies if r.id == cid]
            others = tuple(r for r in snaps[0].replies if r.id != cid)
            self._held.append((replace(snaps[0], replies=others), *snaps[1:]))
            if mine:
                return mine[0]
        return None

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to quit; terminate it if it does not within `timeout` seconds."""
        if self._starter is not None:
            self._starter.join(timeout)  # never leave a worker that starts after we stopped
        if self.process.pid is None:
            return
        if self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.commands.put(Command("quit"))
            self.process.join(timeout / 2)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout / 2)
        if self.process.is_alive():
            self.process.kill()  # also what ends a stopped (SIGSTOP) worker
            self.process.join(1.0)
        for q in (self.commands, self.snapshots):
            q.cancel_join_thread()  # never block exit on a queue's feeder thread
            q.close()
