"""The trainer's side of the app: a loop in its own process, driven by a command queue.

The UI sends small `Command`s; the loop answers with `Snapshot`s at a bounded rate. Each
snapshot carries its own bounded history (loss curve, recent gradient profiles), so the UI may
drop any of them and draw only the newest: latest wins. Weights for sampling travel as copies.
No UI import here: this module runs in a process that never loads Textual.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rnn_tui.blas import keep_freed_memory, pin_blas_threads
from rnn_tui.checkpoint import save_checkpoint
from rnn_tui.errors import UserError
from rnn_tui.model import Params
from rnn_tui.trainer import StepRecord, Trainer

SNAPSHOT_HZ = 10.0  # snapshots per second sent to the UI while training
WEIGHTS_EVERY = 2.0  # seconds between two weight copies for the sampler
GRAD_ROWS = 64  # recent gradient profiles kept for the heat strip
HISTORY_POINTS = 2048  # loss points kept; past this, pairs are merged (the whole run stays)


@dataclass(frozen=True)
class Command:
    """A request from the UI. `kind` is one of the names handled in `TrainerLoop.handle`."""

    kind: str  # pause, resume, step, reset, set, save, quit
    args: dict[str, Any] = field(default_factory=dict)


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

    def snapshot(self, state: str, message: str, seq: int) -> Snapshot:
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
        self.metrics = open(metrics_path, "a", encoding="utf-8") if metrics_path else None  # noqa: SIM115
        self.log_every = log_every  # steps between two metrics lines
        self.paused = False
        self.running = True
        self.seq = 0
        self.message = ""

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
            self.message = self._save(cmd.args["path"])
        elif cmd.kind == "quit":
            self.running = False
            return  # the app no longer reads: publishing could only block
        self.publish(force=True)

    def _save(self, path: str) -> str:
        saved = []
        for run in self.runs:
            p = path
            if len(self.runs) > 1:  # one file per cell: run.npz -> run-lstm.npz
                stem, ext = os.path.splitext(path)
                p = f"{stem}-{run.trainer.config.cell}{ext or '.npz'}"
            try:
                saved.append(save_checkpoint(p, run.trainer))
            except UserError as exc:
                return str(exc)
        return "saved " + ", ".join(saved)

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
            if self.metrics is not None and record.step % self.log_every == 0:
                line = record.to_json(run.trainer.config.cell)
                self.metrics.write(json.dumps(line) + "\n")
                self.metrics.flush()
            run.record(record)

    def _log_exception(self) -> None:
        with contextlib.suppress(OSError), open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"--- {time.ctime()}\n{traceback.format_exc()}\n")

    # -- publishing --------------------------------------------------------------------------

    def publish(self, force: bool = False) -> None:
        """Send one snapshot per run (dropped if the UI is far behind: the next replaces it)."""
        self.seq += 1
        snaps = tuple(r.snapshot(self.state, self.message, self.seq) for r in self.runs)
        self.message = ""
        try:
            self.snapshots.put(snaps, block=force, timeout=1.0)
        except queue.Full:
            for run, snap in zip(self.runs, snaps, strict=True):
                if snap.weights is not None:
                    run.send_weights = True  # try again with the next snapshot

    def run(self) -> None:
        period = 1.0 / SNAPSHOT_HZ
        next_publish = 0.0
        parent = os.getppid()
        self.publish(force=True)
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
            now = time.monotonic()
            if idle or now >= next_publish:
                if os.getppid() != parent:  # the app died without saying so: do not linger
                    return
                if not idle:
                    next_publish = now + period
                    self.publish()


def default_log_path() -> str:
    return os.path.join(tempfile.gettempdir(), f"rnn-tui-{os.getuid()}.log")


def worker_main(
    trainers: list[Trainer],
    commands: Any,
    snapshots: Any,
    log_path: str,
    metrics_path: str | None,
    log_every: int,
) -> None:
    """Entry point of the worker process."""
    import signal

    # Ctrl-C, a hang-up and a terminate aimed at the whole process group belong to the app:
    # it saves (--autosave) and then stops us. If the app dies instead, run() notices.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    # The trainers arrive pickled, so their __init__ (which tunes the process) never ran here;
    # without this the worker trains with two BLAS threads and a page fault per temporary.
    pin_blas_threads(1)
    keep_freed_memory()
    loop = TrainerLoop(trainers, commands, snapshots, log_path, metrics_path, log_every)
    try:
        loop.run()
    finally:
        if loop.metrics is not None:
            loop.metrics.close()
        snapshots.cancel_join_thread()  # exit now, even if unread snapshots fill the pipe


class TrainerProcess:
    """The UI's handle on a worker process: send commands, poll the newest snapshot, stop.

    Create it before `App.run()`: a multiprocessing queue cannot be made inside a running
    Textual app (its stderr has no file descriptor there).
    """

    def __init__(
        self,
        trainers: list[Trainer],
        log_path: str | None = None,
        metrics_path: str | None = None,
        log_every: int = 10,
    ) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a clean interpreter: no UI state, no inherited threads
        self.log_path = log_path or default_log_path()
        self.commands = ctx.Queue()
        self.snapshots = ctx.Queue(maxsize=8)  # small: the worker drops, never piles up
        self._starter: threading.Thread | None = None
        self._held: list[tuple[Snapshot, ...]] = []  # read by `request`, handed out by `poll`
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

    def send(self, kind: str, **args: Any) -> None:
        if self.process.pid is None or self.process.is_alive():
            self.commands.put(Command(kind, args))

    def poll(self) -> tuple[Snapshot, ...] | None:
        """The newest snapshots (one per run) since the last poll, or None. Weights and messages
        carried by older snapshots in between are kept, so none is lost by skipping."""
        latest: tuple[Snapshot, ...] | None = None
        weights: dict[int, tuple[Params, int]] = {}
        message = ""
        held, self._held = self._held, []
        while True:
            if held:
                snaps = held.pop(0)
            else:
                try:
                    snaps = self.snapshots.get_nowait()
                except (queue.Empty, OSError, ValueError, EOFError):
                    break
            latest = snaps
            for i, snap in enumerate(snaps):
                if snap.weights is not None:
                    weights[i] = (snap.weights, snap.weights_step)
            message = snaps[0].message or message
        if latest is None:
            return None
        out = []
        for i, snap in enumerate(latest):
            if i in weights and snap.weights is None:
                snap = replace(snap, weights=weights[i][0], weights_step=weights[i][1])
            if message and not snap.message:
                snap = replace(snap, message=message)
            out.append(snap)
        return tuple(out)

    def request(self, kind: str, timeout: float = 1.0, **args: Any) -> str | None:
        """Send a command and wait up to `timeout` seconds for the worker's message about it
        (e.g. "saved ..."); None if none came. Snapshots read meanwhile are kept for the next
        `poll` (the weight copies they carry too), all but the message returned here."""
        if not self.process.is_alive():
            return None
        self.send(kind, **args)
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                snaps = self.snapshots.get(timeout=left)
            except (queue.Empty, OSError, ValueError, EOFError):
                return None
            if snaps[0].message:
                self._held.append((replace(snaps[0], message=""), *snaps[1:]))
                return snaps[0].message
            self._held.append(snaps)
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
            self.process.kill()
            self.process.join(1.0)
        for q in (self.commands, self.snapshots):
            q.cancel_join_thread()  # never block exit on a queue's feeder thread
            q.close()
