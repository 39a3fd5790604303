"""Training without the UI: progress lines on stdout, optional JSON-lines metrics, a sample.

A run's end is its end, however it comes: steps done, the --seconds budget spent, Ctrl-C, SIGTERM (`kill`, a scheduler) or
SIGHUP (a dropped SSH link). Each stops training between two steps, then --save and --autosave
are written, and the exit code says why: 0 done, 1 diverged (or a save failed), 130 SIGINT,
129 SIGHUP, 143 SIGTERM. Output that goes away (`| head`, a closed terminal) also stops the run
and still saves. A metrics file that cannot be written is reported once and dropped.

A gradient blow-up (rnn_tui.run.blowup: |g| above 1e4 with clipping off) is told in one line,
once per run, and training goes on: a script asked for that many steps, no one is there to press
a key, and the run may well learn on (--clip-mode norm prevents it). Only divergence stops it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any, Protocol

from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.engine.sampling import sample_text
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.address import ListenPlan
from rnn_tui.run.baselines import baseline_lines, metrics_fields, work_out
from rnn_tui.run.blowup import BlowupWatch, blowup_line
from rnn_tui.run.listen import HeadlessRuns, start_headless
from rnn_tui.run.outputs import MetricsLog, cell_paths
from rnn_tui.run.record import Recorder
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.wire import Welcome
from rnn_tui.textsafe import sanitize

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_SAID = {signal.SIGINT: "interrupted", signal.SIGTERM: "stopped by SIGTERM"}


class Writer(Protocol):
    """Where progress goes: a text stream, or anything with write and flush."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def format_rate(x: float) -> str:
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def recall_text(recall: float, chance: float) -> str:
    """`recall 96% (chance 1 in 8)`: the held-out key recall, next to what guessing gets."""
    return f"recall {recall:.0%} (chance 1 in {round(1 / chance)})"


def progress_line(r: StepRecord) -> str:
    """One progress line; on a long-lag corpus, once measured, the key recall too, and how
    much of the recall's gradient reaches the key (g[key]/g[=], see `recall.recall_reach`)."""
    val = "   -  " if r.val_loss is None else f"{r.val_loss:.3f}"
    recall = ""
    if r.recall_chance is not None and r.key_recall is not None:
        recall = "  " + recall_text(r.key_recall, r.recall_chance)
        if r.recall_reach is not None:  # the recall's gradient at the key, over at the '='
            recall += f"  g[key]/g[=] {r.recall_reach:.1e}"
    return (
        f"step {r.step:>7}  loss {r.smooth_loss:.3f} ({r.bits:.2f} bits)  held-out {val}"
        f"  {format_rate(r.chars_per_s)} chars/s  g_last[1]/g_last[T] {r.last_ratio:.1e}{recall}"
    )


class StopSignals:
    """While entered, SIGINT, SIGTERM and SIGHUP only note their number in `signum` (the first
    one wins); the training loop looks at it between steps, so a step, and a save, is never cut
    in half. A signal ignored when we start (`nohup`, a background job) stays ignored. Outside
    the main thread, where handlers cannot be set, nothing is installed."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _note(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                old = signal.getsignal(sig)
                if old is not signal.SIG_IGN:
                    self._old[sig] = old
                    signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old.clear()


class _Out:
    """A text stream whose write errors (a closed pipe, a hung-up terminal) are noted in
    `failed` instead of raised: losing the output must not lose the model."""

    def __init__(self, stream: Writer) -> None:
        self.stream = stream
        self.failed: OSError | None = None

    def write(self, text: str) -> int:
        if self.failed is None:
            try:
                self.stream.write(text)
            except OSError as exc:
                self._fail(exc)
        return len(text)

    def flush(self) -> None:
        if self.failed is None:
            try:
                self.stream.flush()
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.failed = exc
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # What is still buffered would fail again at exit, with a message on stderr.
            target = self.stream.fileno()  # type: ignore[attr-defined]
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, target)
            finally:
                os.close(null)


def _train(
    runs: list[Trainer],
    steps: int | None,
    metrics: MetricsLog | None,
    progress_every: float,
    out: Writer,
    err: Writer,
    stop: Callable[[], bool],
    seconds: float | None = None,
    recorder: Recorder | None = None,
    live: HeadlessRuns | None = None,
) -> tuple[int, dict[int, StepRecord]]:
    """The training loop: (exit code so far, the last record of each run that stepped).
    It ends after `steps` steps (None: no limit) or `seconds` of training (None: no limit),
    whichever comes first. `live` (--listen) sees every step and may pause between two."""
    # The counting baseline and any floors: worked out once (the runs share the corpus) before
    # training starts, so every metrics line carries them and the clock below counts training.
    baselines, counted_in = work_out(runs[0])
    if live is not None:
        live.baselines = baselines  # viewers draw them too
    header = [
        f"training {c.cell} H={c.hidden} T={c.seq_len} B={c.batch} {c.optimizer} lr={c.lr:g}"
        f" on {sanitize(t.corpus.path)} ({t.corpus.vocab.size} characters,"
        f" {t.model.n_params():,} parameters)"
        for t, c in ((t, t.config) for t in runs)
    ]
    # One write, newlines and all (print() writes its end apart, and a line-buffered stream
    # flushes each part): output that goes away after its first line (`| head -1`) then stops
    # the run at the first progress line, after some training, as it always has.
    out.write("".join(line + "\n" for line in header + baseline_lines(baselines, counted_in)))
    out.flush()
    reference = metrics_fields(baselines)
    tag = _tagger(runs)
    code = 0
    next_print = time.monotonic() + progress_every
    records: dict[int, StepRecord] = {}
    watches = [BlowupWatch(trainer) for trainer in runs]
    start = time.monotonic()
    deadline = None if seconds is None else start + seconds
    try:
        for _ in range(steps) if steps is not None else itertools.count():
            if live is not None:
                live.between_steps(stop)  # viewers' commands; waits here while paused
            if stop():  # between steps: compare-mode runs stay on the same batch
                break
            if deadline is not None and time.monotonic() >= deadline:
                print(
                    f"{seconds:g} s of training done, {runs[0].steps} steps",
                    file=out,
                    flush=True,
                )
                break
            for i, trainer in enumerate(runs):
                if trainer.diverged:
                    continue
                record = records[i] = trainer.step()
                if live is not None and not record.diverged:
                    live.record(i, record)
                if metrics is not None and metrics.due(record.step, record.diverged):
                    metrics.write({**record.to_json(trainer.config.cell), **reference})
                    if (message := metrics.take_error()) is not None:
                        print(f"rnn-tui: {message}", file=err, flush=True)
                if recorder is not None:  # --record: it thins the lines itself
                    recorder.add(i, record)
                    if (message := recorder.take_error()) is not None:
                        print(f"rnn-tui: {message}", file=err, flush=True)
                if record.diverged:
                    print(
                        f"{tag(trainer)}training diverged at step {record.step} (loss"
                        f" {record.loss:.3g}, gradient norm {record.grad_norm:.3g}); lower --lr"
                        " or clip the gradient",
                        file=out,
                        flush=True,
                    )
                    code = 1
                elif watches[i].check(record):
                    print(
                        f"{tag(trainer)}{blowup_line(record, trainer, unicode=False)}"
                        " (clipping is off; --clip-mode norm clips it); training goes on",
                        file=out,
                        flush=True,
                    )
            if all(t.diverged for t in runs):
                break
            if time.monotonic() >= next_print:
                next_print = time.monotonic() + progress_every
                for i, trainer in enumerate(runs):
                    if i in records:
                        print(tag(trainer) + progress_line(records[i]), file=out, flush=True)
    except KeyboardInterrupt:  # no StopSignals around us (a direct call): Ctrl-C lands here
        code = 130
        print("interrupted", file=out, flush=True)
    return code, records


def _tagger(runs: list[Trainer]) -> Callable[[Trainer], str]:
    return (lambda t: f"{t.config.cell:>4} ") if len(runs) > 1 else (lambda t: "")


def _report(
    runs: list[Trainer], records: dict[int, StepRecord], out: Writer, sampling: SampleSettings
) -> None:
    """The final held-out loss and a sample of each run that trained and did not diverge."""
    tag = _tagger(runs)
    for i, trainer in enumerate(runs):
        if i not in records or trainer.diverged:
            continue
        c = trainer.config
        trainer.val_loss, trainer.val_step = trainer.evaluate(), trainer.steps
        trainer.key_recall, trainer.recall_reach = trainer.recall(), trainer.reach()
        final = replace(
            records[i],
            val_loss=trainer.val_loss,
            key_recall=trainer.key_recall,
            recall_reach=trainer.recall_reach,
        )
        print(tag(trainer) + progress_line(final), file=out, flush=True)
        text = sample_text(
            trainer.model,
            trainer.params,
            trainer.corpus.vocab,
            min(sampling.sample_len, 400),
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            prime=sampling.prime,
            seed=c.seed,
            reset_at=c.reset_at,
        )
        print(
            f"{tag(trainer)}sample at step {records[i].step},"
            f" temperature {sampling.temperature:g}:",
            file=out,
        )
        print(sanitize(sampling.prime + text), file=out, flush=True)


def run_headless(
    trainers: Trainer | list[Trainer],
    steps: int,
    metrics: MetricsLog | IO[str] | None = None,
    log_every: int = 10,
    progress_every: float = 2.0,
    out: IO[str] = sys.stdout,
    sampling: SampleSettings | None = None,
) -> int:
    """Train `steps` steps (each trainer, taking turns in compare mode), then report. Metrics
    lines carry the cell; `metrics` is a `MetricsLog` or an open text file (written every
    `log_every` steps). Returns the exit code: 0 done, 1 diverged, 130 interrupted."""
    runs = trainers if isinstance(trainers, list) else [trainers]
    log = (
        metrics
        if isinstance(metrics, MetricsLog) or metrics is None
        else MetricsLog.wrap(metrics, log_every)
    )
    code, records = _train(runs, steps, log, progress_every, out, sys.stderr, lambda: False)
    _report(runs, records, out, sampling or SampleSettings())
    return code


def save_all(trainers: list[Trainer], paths: list[str | None], out: Writer, err: Writer) -> bool:
    """Save every trainer to each given checkpoint path (one file per cell in compare mode),
    each file once, saying "saved PATH"; a failure is one line on `err` and the others are
    still tried. True if all were saved."""
    done: set[str] = set()
    ok = True
    cells = [t.config.cell for t in trainers]
    for path in paths:
        if not path:
            continue
        for trainer, p in zip(trainers, cell_paths(path, cells), strict=True):
            if p in done:
                continue
            done.add(p)
            try:
                print(f"saved {sanitize(save_checkpoint(p, trainer))}", file=out, flush=True)
            except UserError as exc:
                print(f"rnn-tui: {exc}", file=err, flush=True)
                ok = False
    return ok


@dataclass(frozen=True)
class HeadlessPlan:
    """What a headless run does besides training: how long, what it writes, how it samples."""

    steps: int | None  # training steps (each run, taking turns); None: no step limit
    sampling: SampleSettings = field(default_factory=SampleSettings)  # the final sample
    metrics: str | None = None  # append JSON lines of metrics here
    log_every: int = 10  # steps between two metrics lines
    saves: tuple[str | None, ...] = ()  # checkpoint paths written at the end (--save, --autosave)
    seconds: float | None = None  # time budget for training (--seconds); the first limit stops
    record: tuple[str, RunSpec] | None = None  # --record: the folder, and the run it holds
    listen: tuple[ListenPlan, Welcome] | None = None  # publish the run here (--listen)


def run_headless_cli(
    trainers: list[Trainer],
    plan: HeadlessPlan,
    out: Writer | None = None,
    err: Writer | None = None,
) -> int:
    """`rnn-tui --headless`: train `plan.steps` steps or `plan.seconds`, whichever ends first,
    writing metrics; stop early on SIGINT,
    SIGTERM, SIGHUP or lost output; then write every checkpoint of `plan.saves`. Returns the
    exit code: 0, 1 (diverged, or a checkpoint could not be written), or 128 + the signal."""
    stdout, stderr = _Out(out or sys.stdout), _Out(err or sys.stderr)
    metrics = MetricsLog(plan.metrics, plan.log_every) if plan.metrics else None
    recorder = Recorder(*plan.record, trainers) if plan.record else None
    live = None
    if plan.listen is not None:
        live = start_headless(
            trainers, *plan.listen, lambda line: print(line, file=stdout, flush=True)
        )
    with StopSignals() as signals:
        try:
            if metrics is not None and (message := metrics.take_error()) is not None:
                print(f"rnn-tui: {message}", file=stderr, flush=True)

            def stop() -> bool:
                return signals.signum is not None or stdout.failed is not None

            code, records = _train(
                trainers,
                plan.steps,
                metrics,
                2.0,
                stdout,
                stderr,
                stop,
                plan.seconds,
                recorder,
                live,
            )
        finally:
            if metrics is not None:
                metrics.close()
            if recorder is not None:
                recorder.close()  # the last step and its weights
                if (message := recorder.take_error()) is not None:
                    print(f"rnn-tui: {message}", file=stderr, flush=True)
            if live is not None:
                live.close(f"stopped at step {trainers[0].steps:,}")  # "the run at ... ended: "
        if signals.signum is not None:
            said = _SAID.get(signals.signum, "stopped by SIGHUP (hang-up)")
            print(said, file=stdout, flush=True)
        saved = save_all(trainers, list(plan.saves), stdout, stderr)
    # The handlers are back to what they were: a Ctrl-C during the report ends it at once.
    if signals.signum is not None:
        code = 128 + signals.signum
    elif not saved and code == 0:
        code = 1
    if signals.signum in (None, signal.SIGINT) and stdout.failed is None:
        _report(trainers, records, stdout, plan.sampling)
    return code
