"""A run recorded as it goes (--record DIR), and read back for `rnn-tui replay DIR`.

A recording is a folder:

- `run.json`: the format, the corpus name, each run's settings and the vocabulary; written
  once at the start, whole (a temporary file, then a rename).
- `metrics.jsonl`: the metrics lines --metrics writes (`StepRecord.to_json`, plus the clipping
  settings), appended and flushed one at a time. They are thinned so their bytes per second
  stay bounded (`LineThinner`): a fast trainer takes hundreds of steps a second.
- `samples.jsonl`: a sample from each checkpoint's weights, one JSON line each.
- `ckpt-<run>-<cell>-<step>.npz`: weights (no optimizer state) at the start, every 100 steps
  at first with the spacing doubling as the run goes on (`CheckpointSchedule`), and at the end;
  written as checkpoints are (rnn_tui.engine.checkpoint: pickle-free, temporary file + rename).

A run killed at any moment leaves only whole files and whole lines, save at most one torn
last line per line file; `read_recording` ignores a torn line, so the recording replays up to
its last complete line. Nothing is ever unpickled. No UI import here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnn_tui.engine.checkpoint import Checkpoint, load_checkpoint, write_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.model import Params
from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.engine.sampling import sample_text
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.history import ClipCount
from rnn_tui.run.outputs import MetricsLog
from rnn_tui.run.spec import RunSpec
from rnn_tui.textsafe import sanitize

FORMAT = "rnn-tui recording"  # the `format` of run.json
VERSION = 1  # its `version`; a newer one is refused by name, not misread
RUN_FILE, METRICS_FILE, SAMPLES_FILE = "run.json", "metrics.jsonl", "samples.jsonl"
MAX_RUN_FILE = 2**22  # bytes: run.json holds settings and a vocabulary (~1 KB usually)
LINES_PER_S = 4.0  # metrics lines per second per run, at most
METRICS_BYTES_PER_S = 6000.0  # metrics bytes per second of all runs together, at most
GRAD_DIGITS = 4  # significant digits kept of each gradient-profile value in a line
FIRST_SPACING = 100  # steps between the first checkpoints
PER_SPACING = 4  # checkpoints at one spacing before it doubles
CHECKPOINT_BYTES = 24 * 2**20  # checkpoints of one recording stop short of this (the last
# one, at the end, is always written)
SAMPLE_CHARS = 200  # characters of the sample written at each checkpoint
_CKPT = re.compile(r"ckpt-(\d+)-([a-z]+)-(\d+)\.npz")  # run index, cell, step


class LineThinner:
    """Decides which steps get a metrics line: each run's first, a diverged one, and otherwise
    one once enough time has passed since the last: 1 / `LINES_PER_S`, or longer for long
    lines, so that all runs together write at most `METRICS_BYTES_PER_S` bytes per second. In
    compare mode the first run chooses the step and the other writes a line at the same step,
    so a replay shows both at one step (unless the first has stopped: then the other goes on
    alone every `STALLED` seconds). `clock` is injected so tests need no real time."""

    STALLED = 2.0  # seconds without a chosen step after which a later run writes on its own

    def __init__(self, runs: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.runs = runs
        self.clock = clock
        self.next_at = -math.inf  # clock time from which the first run's next line is due
        self.step: int | None = None  # the step chosen for the current lines
        self.sizes: dict[int, int] = {}  # run index -> bytes of its last line
        self.last_at: dict[int, float] = {}  # run index -> clock time of its last line

    def due(self, run: int, record: StepRecord) -> bool:
        if record.diverged or run not in self.last_at:
            return True
        now = self.clock()
        if run == 0:
            if now < self.next_at:
                return False
            self.step = record.step
            return True
        return record.step == self.step or now >= self.last_at[run] + self.STALLED

    def wrote(self, run: int, n_bytes: int) -> None:
        now = self.clock()
        self.sizes[run], self.last_at[run] = n_bytes, now
        if run == 0:  # the next round: time for every run's line at this rate of bytes
            round_bytes = sum(self.sizes.get(i, n_bytes) for i in range(self.runs))
            self.next_at = now + max(1.0 / LINES_PER_S, round_bytes / METRICS_BYTES_PER_S)


class CheckpointSchedule:
    """Steps at which the weights are kept: every `FIRST_SPACING` steps for `PER_SPACING`
    checkpoints, then the spacing doubles after every `PER_SPACING` more (100, 200, 300, 400,
    600, 800, 1000, 1200, 1600, ...): about 4 log2(steps / 100) of them in all."""

    def __init__(self, after: int = 0) -> None:
        self.spacing, self.count, self.next = FIRST_SPACING, 0, FIRST_SPACING
        while self.next <= after:  # a resumed run: the schedule from its step on
            self.advance()

    def advance(self) -> None:
        self.count += 1
        if self.count % PER_SPACING == 0:
            self.spacing *= 2
        self.next += self.spacing


def line_json(record: StepRecord, config: Config) -> dict[str, Any]:
    """A recording's metrics line: `StepRecord.to_json`, gradient profiles to `GRAD_DIGITS`
    significant digits (half the bytes), and the clipping settings of the step."""
    d = record.to_json(config.cell)
    for key in ("grad_t", "grad_last_t", "cell_grad_t"):
        if d[key] is not None:
            d[key] = [None if g is None else float(f"{g:.{GRAD_DIGITS}g}") for g in d[key]]
    d["clip_mode"], d["clip"] = config.clip_mode, config.clip
    return d


def checkpoint_name(run: int, cell: str, step: int) -> str:
    return f"ckpt-{run}-{cell}-{step:010d}.npz"


def write_whole(path: str, text: str) -> None:
    """Write `text` to `path` whole or not at all: a temporary file, then a rename."""
    tmp = os.path.join(os.path.dirname(path) or ".", f".rnn-tui-{secrets.token_hex(8)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


class Recorder:
    """Writes one process's runs into a recording folder as they train. The process that owns
    the trainers calls `add` after each step and `close` at the end. A write error stops the
    recording (said once by `take_error`), never training."""

    def __init__(
        self,
        folder: str,
        spec: RunSpec,
        trainers: Sequence[Trainer],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = folder
        self.trainers = list(trainers)
        self.thinner = LineThinner(len(self.trainers), clock)
        self.error = ""  # why recording stopped, "" while it goes on
        self._told = False
        self.stopped = False
        self.checkpoint_bytes = 0  # bytes of checkpoints written so far
        self._checkpoints = 0  # checkpoints written so far
        self.written: dict[int, int] = {}  # run index -> step of its last line
        self.schedules = [CheckpointSchedule(t.steps) for t in self.trainers]
        self.clips = [ClipCount() for _ in self.trainers]  # every step's, for the lines
        self.sampling = SampleSettings()
        self.metrics: MetricsLog | None = None
        self.samples: MetricsLog | None = None
        try:
            os.makedirs(folder, exist_ok=True)
            head = {
                "format": FORMAT,
                "version": VERSION,
                "corpus": spec.corpus_name,
                "lag": spec.lag,
                "configs": [t.config.to_json() for t in self.trainers],
                "vocab": list(self.trainers[0].corpus.vocab.chars),
                "lines_per_s": LINES_PER_S,
                "metrics_bytes_per_s": METRICS_BYTES_PER_S,
            }
            write_whole(os.path.join(folder, RUN_FILE), json.dumps(head))
        except OSError as exc:
            self._fail(f"cannot write {RUN_FILE}: {exc.strerror or exc}")
            return
        self.metrics = MetricsLog(os.path.join(folder, METRICS_FILE))
        self.samples = MetricsLog(os.path.join(folder, SAMPLES_FILE))
        for i, t in enumerate(self.trainers):  # the weights it starts from
            self._checkpoint(i, t)

    def add(self, run: int, record: StepRecord) -> None:
        """After run `run` took a step (every step: this thins the lines and keeps the
        scheduled weights)."""
        if self.stopped:
            return
        trainer = self.trainers[run]
        self.clips[run].add(record.clipped)
        if self.thinner.due(run, record):
            self._line(run, trainer, record)
        schedule = self.schedules[run]
        if record.step >= schedule.next:
            while schedule.next <= record.step:
                schedule.advance()
            last = self.checkpoint_bytes / max(1, self._checkpoints)
            if self.checkpoint_bytes + 2 * last <= CHECKPOINT_BYTES:  # room for the last one
                self._checkpoint(run, trainer)

    def _line(self, run: int, trainer: Trainer, record: StepRecord) -> None:
        assert self.metrics is not None
        d = line_json(record, trainer.config)
        d["clip_share"], d["clip_steps"] = self.clips[run].share, self.clips[run].steps
        n = len(json.dumps(d)) + 1
        if self.metrics.write(d):
            self.written[run] = record.step
            self.thinner.wrote(run, n)
        self._check(self.metrics)

    def _checkpoint(self, run: int, trainer: Trainer) -> None:
        """Keep the run's weights now, and a sample drawn from them."""
        if trainer.diverged:  # the last finite weights were kept by an earlier checkpoint
            return
        name = checkpoint_name(run, trainer.config.cell, trainer.steps)
        ckpt = Checkpoint(
            trainer.config, trainer.corpus.vocab.chars, trainer.snapshot(), {}, trainer.steps,
            trainer.chars,
        )  # fmt: skip
        try:
            path = write_checkpoint(os.path.join(self.folder, name), ckpt)
            self.checkpoint_bytes += os.path.getsize(path)
            self._checkpoints += 1
        except (UserError, OSError) as exc:
            self._fail(str(exc))
            return
        s, c = self.sampling, trainer.config
        with np.errstate(all="ignore"):
            text = sample_text(
                trainer.model, ckpt.params, trainer.corpus.vocab, SAMPLE_CHARS,
                temperature=s.temperature, top_k=s.top_k, seed=c.seed, reset_at=c.reset_at,
            )  # fmt: skip
        assert self.samples is not None
        self.samples.write(
            {"step": trainer.steps, "cell": c.cell, "temperature": s.temperature, "text": text}
        )
        self._check(self.samples)

    def _check(self, log: MetricsLog) -> None:
        if log.error and not self.error:
            self._fail(log.error.split(": ", 1)[-1].split(";")[0])

    def stop(self) -> str:
        """Stop recording (at a reset or a new cell: the recording holds the run until then);
        returns a notice saying so."""
        if self.stopped:
            return ""
        self.close()
        steps = max(self.written.values(), default=0)
        return f"recording stopped: {sanitize(self.folder)} holds steps up to {steps:,}"

    def close(self) -> None:
        """The end: each run's last step as a line and its weights as a checkpoint."""
        if self.stopped:
            return
        for i, t in enumerate(self.trainers):
            if t.last is not None and self.written.get(i) != t.last.step:
                self._line(i, t, t.last)
            if not self.stopped and t.steps != self._last_checkpoint_step(i, t):
                self._checkpoint(i, t)
        self._end()

    def _last_checkpoint_step(self, run: int, trainer: Trainer) -> int:
        name = checkpoint_name(run, trainer.config.cell, trainer.steps)
        return trainer.steps if os.path.exists(os.path.join(self.folder, name)) else -1

    def _end(self) -> None:
        self.stopped = True
        for log in (self.metrics, self.samples):
            if log is not None:
                log.close()

    def _fail(self, why: str) -> None:
        self.error = (
            f"record: cannot write to {sanitize(self.folder)}: {why}; stopped recording,"
            " training goes on"
        )
        self._end()

    def take_error(self) -> str | None:
        """The error message the first time it is asked for after recording stopped; else None."""
        if not self.error or self._told:
            return None
        self._told = True
        return self.error


# -- reading -------------------------------------------------------------------------------------


@dataclass
class RecordedRun:
    """One run of a recording, as far as its lines are complete."""

    config: Config  # its settings at the start
    records: list[StepRecord] = field(default_factory=list)  # one per line, steps increasing
    clip: list[tuple[str, float]] = field(default_factory=list)  # clip_mode, clip per line
    clip_share: list[tuple[float, int]] = field(default_factory=list)  # share clipped, of steps
    times: list[float] = field(default_factory=list)  # wall-clock time of each line
    checkpoints: list[tuple[int, str]] = field(default_factory=list)  # (step, path), by step

    @property
    def steps(self) -> np.ndarray:
        return np.array([r.step for r in self.records], np.int64)


@dataclass
class Recording:
    """A recording folder read back: its runs up to their last complete line."""

    folder: str
    corpus: str  # the corpus's name as the run gave it
    lag: int  # the generated long-lag corpus's lag
    vocab: tuple[str, ...]  # characters in id order
    runs: list[RecordedRun]  # one, or two in compare mode

    def weights(self, run: int, step: int) -> tuple[Params, int] | None:
        """The weights recorded nearest at or before `step`, and their step; a checkpoint that
        cannot be read (cut short) is passed over for the one before it."""
        r = self.runs[run]
        for ck_step, path in reversed(r.checkpoints):
            if ck_step > step:
                continue
            try:
                ckpt = load_checkpoint(path)
            except UserError:
                continue
            if ckpt.step == ck_step and ckpt.config.cell == r.config.cell:
                return ckpt.params, ck_step
        return None


def _refuse(folder: str, why: str) -> UserError:
    return UserError(f"cannot replay {sanitize(folder)}: {why}")


def read_recording(folder: str) -> Recording:
    """Read a recording folder; anything that is not one (missing, foreign, of a newer format,
    without a single complete line) is a one-line UserError."""
    if not os.path.isdir(folder):
        why = "no such folder" if not os.path.exists(folder) else "not a folder"
        raise _refuse(folder, why)
    head_path = os.path.join(folder, RUN_FILE)
    try:
        with open(head_path, "rb") as f:
            raw = f.read(MAX_RUN_FILE + 1)
    except FileNotFoundError:
        raise _refuse(
            folder, f"not a recording (no {RUN_FILE}; record one with --record)"
        ) from None
    except OSError as exc:
        raise _refuse(folder, f"cannot read {RUN_FILE}: {exc.strerror or exc}") from None
    try:
        head = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_RUN_FILE else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise _refuse(folder, f"{RUN_FILE} is not that of an rnn-tui recording")
    version = head.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _refuse(folder, f"{RUN_FILE} has no valid format version")
    if version > VERSION:
        raise _refuse(
            folder, f"it is of format version {version}; this rnn-tui reads up to {VERSION}"
        )
    try:
        configs = [Config.from_json(c) for c in head["configs"]]
        vocab = tuple(head["vocab"])
        corpus, lag = str(head["corpus"]), int(head["lag"])
    except (KeyError, TypeError, ValueError, UserError) as exc:
        raise _refuse(folder, f"{RUN_FILE} is damaged ({type(exc).__name__})") from None
    if (
        not configs
        or len(configs) > 2
        or not all(isinstance(c, str) and len(c) == 1 for c in vocab)
    ):
        raise _refuse(folder, f"{RUN_FILE} is damaged (runs or vocabulary)")
    runs = [RecordedRun(c) for c in configs]
    _read_lines(folder, runs)
    if not any(r.records for r in runs):
        raise _refuse(folder, "it holds no complete step yet (the run ended before its first line)")
    for name in sorted(os.listdir(folder)):
        m = _CKPT.fullmatch(name)
        if m and int(m[1]) < len(runs) and m[2] == runs[int(m[1])].config.cell:
            runs[int(m[1])].checkpoints.append((int(m[3]), os.path.join(folder, name)))
    for r in runs:
        r.checkpoints.sort()
    return Recording(folder, corpus, lag, vocab, runs)


def _read_lines(folder: str, runs: list[RecordedRun]) -> None:
    """Each run's complete lines, in order. A torn last line is left out, and so is a line
    that is not a metrics line of one of the runs. A run whose step goes back (a trainer
    restarted from older weights) goes on from there: the lines after that step are dropped."""
    try:
        with open(os.path.join(folder, METRICS_FILE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _refuse(folder, f"cannot read {METRICS_FILE}: {exc.strerror or exc}") from None
    by_cell = {r.config.cell: r for r in runs}
    for raw in data.split(b"\n")[:-1]:  # the piece after the last newline is torn (or empty)
        try:
            d = json.loads(raw)
            run = by_cell[d["cell"]]
            record = StepRecord.from_json(d)
            t = float(d.get("time", 0.0))
            clip = (
                str(d.get("clip_mode", run.config.clip_mode)),
                float(d.get("clip", run.config.clip)),
            )
            share = (float(d.get("clip_share", record.clipped)), int(d.get("clip_steps", 1)))
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
        if not math.isfinite(t):
            t = 0.0
        while run.records and run.records[-1].step >= record.step:  # restarted further back
            run.records.pop(), run.clip.pop(), run.clip_share.pop(), run.times.pop()
        run.records.append(record)
        run.clip.append(clip)
        run.clip_share.append(share)
        run.times.append(t)


def check_record_folder(folder: str) -> None:
    """Refuse now, with one line, a --record folder that could not take a recording: one that
    already holds files (a recording is never mixed with another), or cannot be written. A
    missing folder is created, as --export-dir's is."""
    shown = sanitize(folder)
    if not folder:
        raise UserError("--record needs a folder name")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"--record {shown} is a file; give a new or empty folder")
    try:
        os.makedirs(folder, exist_ok=True)
        if os.listdir(folder):
            raise UserError(
                f"--record {shown} is not empty; give a new or empty folder (a recording is"
                " never added to)"
            )
        probe = os.path.join(folder, RUN_FILE)
        write_whole(probe, "")
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"--record {shown}: cannot write there: {exc.strerror or exc}") from None
