"""A recorded run as the app's source: `rnn-tui replay DIR` plays it back as a time-lapse.

`ReplaySource` has the shape of every source (rnn_tui.run.source.RunSource): the app polls it
for snapshots and sends it commands. Its snapshots show the run as it was at the replay's
position: the loss curve and held-out points up to there, the gradient panes of the nearest
recorded step, and the weights of the checkpoint nearest at or before it, from which the app
samples and probes. Space (Pause / Resume) pauses and plays the replay; commands that would
change training or write a checkpoint are answered with a refusal. The speed and position
change through its own methods (`set_speed`, `seek`, `go_to`), which the app's replay keys call.
No UI import here.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable

import numpy as np

from rnn_tui.engine.model import Params
from rnn_tui.run.history import HISTORY_POINTS, GradHistory
from rnn_tui.run.protocol import (
    Command,
    Evaluate,
    Pause,
    Quit,
    Reply,
    Resume,
    RunState,
    Save,
    Snapshot,
)
from rnn_tui.run.record import Recording

REFUSED = "a replay cannot change training"  # the answer to n, r, +/-, c, l
NO_SAVE = "a replay cannot save checkpoints: its weights are in the recording folder"
SNAPSHOT_HZ = 10.0  # snapshots per second at most while playing, as a live trainer sends
MIN_SPEED, MAX_SPEED = 1 / 16, 4096.0  # bounds of the replay speed
TARGET_SECONDS = 120.0  # without --speed, a longer run plays in about this long
GAP_CAP = 5.0  # seconds: a longer gap between two lines was a pause, and counts as this
DEFAULT_PACE = 50.0  # steps per second at 1x when the lines carry no usable times
GRAD_KEEP = 512  # lines between two kept copies of the gradient history (for going back)


def thin(steps: np.ndarray, values: np.ndarray, n: int = HISTORY_POINTS) -> tuple[np.ndarray, ...]:
    """At most `n` points of a curve: neighbours averaged in groups, as the live history does.
    steps, values: (N,) -> (M,), (M,) with M <= n."""
    if len(steps) <= n:
        return steps.astype(np.float64), values.astype(np.float64)
    k = math.ceil(len(steps) / n)  # points per group
    starts = np.arange(0, len(steps), k)
    counts = np.diff(np.append(starts, len(steps)))  # (M,) points in each group
    mean = lambda a: np.add.reduceat(a.astype(np.float64), starts) / counts  # noqa: E731
    return mean(steps), mean(values)


class _Run:
    """One recorded run's lines as arrays, and the gradient history rebuilt as far as shown."""

    def __init__(self, recording: Recording, index: int) -> None:
        run = recording.runs[index]
        self.records = run.records
        self.clips = run.clip
        self.steps = run.steps  # (N,) step of each line
        self.smooth = np.array([r.smooth_loss for r in run.records], np.float64)  # (N,)
        vals: list[tuple[int, int, float]] = []  # (line, val_step, val_loss) when new
        for i, r in enumerate(run.records):
            if r.val_step is not None and (not vals or vals[-1][1] != r.val_step):
                vals.append((i, r.val_step, math.nan if r.val_loss is None else r.val_loss))
        self.val_line = np.array([v[0] for v in vals], np.int64)  # (M,)
        self.val_steps = np.array([v[1] for v in vals], np.float64)  # (M,)
        self.val_values = np.array([v[2] for v in vals], np.float64)  # (M,)
        self.grads = GradHistory()
        self.grads_upto = -1  # the last line added to `grads`
        self.kept: dict[int, GradHistory] = {}  # copies of `grads` after line k * GRAD_KEEP - 1
        self.weights_step: int | None = None  # the checkpoint step whose weights went out last

    def line_at(self, step: float) -> int:
        """The last line at or before `step` (-1: none)."""
        return int(np.searchsorted(self.steps, step, side="right")) - 1

    def grads_to(self, line: int) -> tuple[np.ndarray, np.ndarray]:
        """The gradient history of lines 0..`line` (rows, row steps), as the live run's is
        built, but from the recorded lines only."""
        if line < self.grads_upto:  # back: from the nearest kept copy before `line`
            k = (line + 1) // GRAD_KEEP
            while k > 0 and k not in self.kept:
                k -= 1
            self.grads = copy.deepcopy(self.kept[k]) if k else GradHistory()
            self.grads_upto = k * GRAD_KEEP - 1
        for i in range(self.grads_upto + 1, line + 1):
            r = self.records[i]
            self.grads.add(r.step, r.grad_last_t)
            if (i + 1) % GRAD_KEEP == 0 and (i + 1) // GRAD_KEEP not in self.kept:
                self.kept[(i + 1) // GRAD_KEEP] = copy.deepcopy(self.grads)
        self.grads_upto = max(self.grads_upto, line)
        return self.grads.rows()


class ReplaySource:
    """A recording played back as a time-lapse; the position is a step, moving at `speed`
    times the recorded run's own pace (steps per second of training, pauses left out)."""

    def __init__(
        self,
        recording: Recording,
        speed: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recording = recording
        self.clock = clock
        self.runs = [_Run(recording, i) for i in range(len(recording.runs))]
        present = [r.steps for r in self.runs if len(r.steps)]
        self.first = int(min(s[0] for s in present))  # the first recorded step
        self.last = int(max(s[-1] for s in present))  # the last complete step
        self.pace = self._pace()  # steps per second at 1x
        self.speed = self.default_speed() if speed is None else _clamp_speed(speed)
        self.position = float(self.first)  # the step shown
        self.playing = True
        self.last_heard: float | None = None
        self._tick: float | None = None  # clock time of the last poll
        self._ids = itertools.count(1)
        self._replies: list[Reply] = []  # answers for the next snapshot
        self._message = ""  # a notice for the next snapshot
        self._force = True  # the next poll sends a snapshot whatever the rate
        self._shown: tuple[int, ...] | None = None  # the line of each run last shown
        self._last_sent = -math.inf  # clock time of the last snapshot
        self._seq = 0
        self._weights: dict[tuple[int, int], tuple[Params, int] | None] = {}  # loaded

    # -- the timeline ----------------------------------------------------------------------------

    def _pace(self) -> float:
        """Steps per second of the recorded training: the first run's steps over the time
        between its lines, each gap counted as at most GAP_CAP seconds (a pause, say)."""
        run = self.recording.runs[0]
        times = np.array(run.times, np.float64)
        gaps = np.clip(np.diff(times), 0.0, GAP_CAP) if len(times) > 1 else np.zeros(0)
        spent = float(gaps.sum())
        span = int(self.runs[0].steps[-1] - self.runs[0].steps[0]) if len(times) else 0
        return span / spent if spent > 0 and span > 0 else DEFAULT_PACE

    def default_speed(self) -> float:
        """1x, or for a run longer than TARGET_SECONDS the power of two that plays it in at
        most that long."""
        seconds = (self.last - self.first) / self.pace
        if seconds <= TARGET_SECONDS:
            return 1.0
        return _clamp_speed(2.0 ** math.ceil(math.log2(seconds / TARGET_SECONDS)))

    @property
    def label(self) -> str:
        """What the status line shows of the replay: "replay 2.0x · step 1,200 of 9,800"."""
        speed = f"{self.speed:.1f}x" if self.speed >= 1 else f"{self.speed:.3g}x"
        step = self._shown_step()
        return f"replay {speed} · step {step:,} of {self.last:,}"

    def _shown_step(self) -> int:
        line = self.runs[0].line_at(self.position)
        return int(self.runs[0].steps[line]) if line >= 0 else 0

    def set_speed(self, factor: float) -> str:
        """Multiply the speed by `factor` (within bounds); returns the notice."""
        self.speed = _clamp_speed(self.speed * factor)
        self._force = True
        return f"replay at {self.label.split(' ')[1]}"

    def seek(self, share: float) -> str:
        """Move by `share` of the recording: forward if positive, back if negative; at least
        one step."""
        stride = max(1.0, abs(share) * (self.last - self.first))
        return self.go_to(self.position + (stride if share > 0 else -stride))

    def go_to(self, step: float) -> str:
        """Show the run at `step` (within the recording); returns the notice."""
        self.position = min(float(self.last), max(float(self.first), float(step)))
        self._force = True
        return f"replay at step {self._shown_step():,}"

    # -- the source ------------------------------------------------------------------------------

    def start(self, background: bool = False) -> None:
        self._tick = self.clock()

    def takes(self, kind: type[Command]) -> bool:
        """Space plays and pauses, q quits; nothing else: a recording does not train."""
        return kind in (Pause, Resume, Quit)

    def ended(self) -> str | None:
        return None  # a recording stays until the app quits

    def stop(self, timeout: float = 2.0) -> None:
        self.playing = False

    def send(self, command: Command) -> int:
        cid = next(self._ids)
        reply = self._answer(cid, command)
        if reply is not None:
            self._replies.append(reply)
            self._message = reply.text
        self._force = True
        return cid

    def request(self, command: Command, timeout: float = 1.0) -> Reply | None:
        return self._answer(next(self._ids), command)

    def _answer(self, cid: int, command: Command) -> Reply | None:
        if isinstance(command, Pause):
            self.playing = False
            self._message = "replay paused: space plays on, ← / → move, j jumps to a step"
            return None
        if isinstance(command, Resume):
            if self.position >= self.last:  # at the end: play again from the start
                self.go_to(self.first)
            self.playing = True
            return None
        if isinstance(command, Quit):
            return None
        if isinstance(command, Save):
            return Reply(cid, False, NO_SAVE)
        if isinstance(command, Evaluate):
            return Reply(cid, False, "a replay cannot evaluate; probe the text with i instead")
        return Reply(cid, False, REFUSED)

    def poll(self) -> tuple[Snapshot, ...] | None:
        """Move the position by the time since the last poll; the snapshots at the position if
        it shows another line (at most SNAPSHOT_HZ a second), or something was asked."""
        now = self.clock()
        self.last_heard = now
        if self._tick is None:
            self._tick = now
        if self.playing:
            self.position += (now - self._tick) * self.speed * self.pace
            if self.position >= self.last:
                self.position, self.playing = float(self.last), False
                self._message = "end of the recording: space plays it again, ← goes back"
                self._force = True
        self._tick = now
        lines = tuple(r.line_at(self.position) for r in self.runs)
        if not self._force and (lines == self._shown or now - self._last_sent < 1 / SNAPSHOT_HZ):
            return None
        self._force, self._shown, self._last_sent = False, lines, now
        self._seq += 1
        replies, self._replies = tuple(self._replies), []
        message, self._message = self._message, ""
        return tuple(
            self._snapshot(i, line, message if i == 0 else "", replies if i == 0 else ())
            for i, line in enumerate(lines)
        )

    def _snapshot(
        self, index: int, line: int, message: str, replies: tuple[Reply, ...]
    ) -> Snapshot:
        """Run `index` as it was at its line `line` (-1: before its first line)."""
        run, config = self.runs[index], self.recording.runs[index].config
        T = config.seq_len
        if line < 0:
            empty = np.zeros(0)
            return Snapshot(
                RunState.STARTING, None, empty, empty, empty, empty, np.zeros((0, T)),
                config.lr, config.clip_mode, config.clip, config.cell, message=message,
                seq=self._seq, replies=replies, hidden=config.hidden,
            )  # fmt: skip
        record = run.records[line]
        loss_steps, loss_values = thin(run.steps[: line + 1], run.smooth[: line + 1])
        nval = int(np.searchsorted(run.val_line, line, side="right"))  # points seen by then
        val_steps, val_values = thin(run.val_steps[:nval], run.val_values[:nval], 256)
        grads, grad_steps = run.grads_to(line)
        if grads.shape[0] == 0:
            grads = np.zeros((0, T))
        clip_share, clip_steps = self.recording.runs[index].clip_share[line]
        if record.diverged:
            state = RunState.DIVERGED
        else:
            state = RunState.TRAINING if self.playing else RunState.PAUSED
        weights, weights_step = self._weights_for(index, record.step)
        clip_mode, clip = run.clips[line]
        return Snapshot(
            state=state,
            record=record,
            loss_steps=loss_steps,
            loss_values=loss_values,
            val_steps=val_steps,
            val_values=val_values,
            grad_history=grads,
            grad_history_steps=grad_steps,
            lr=record.lr,
            clip_mode=clip_mode,
            clip=clip,
            cell=config.cell,
            hidden=config.hidden,
            clip_share=clip_share,
            clip_steps=clip_steps,
            message=message,
            weights=weights,
            weights_step=weights_step,
            seq=self._seq,
            replies=replies,
        )

    def _weights_for(self, index: int, step: int) -> tuple[Params | None, int]:
        """The weights of the checkpoint nearest at or before `step`, if they are not the ones
        sent last (None then: the app keeps those), and their step."""
        run = self.runs[index]
        at = [s for s, _ in self.recording.runs[index].checkpoints if s <= step]
        key = (index, at[-1] if at else -1)
        if key not in self._weights:
            self._weights[key] = self.recording.weights(index, step) if at else None
        found = self._weights[key]
        if found is None or found[1] == run.weights_step:
            return None, run.weights_step or 0
        run.weights_step = found[1]
        return found


def _clamp_speed(speed: float) -> float:
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))
