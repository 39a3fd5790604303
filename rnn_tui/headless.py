"""Training without the UI: progress lines on stdout, optional JSON-lines metrics, a sample."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import IO

from rnn_tui.sampling import sample_text
from rnn_tui.textsafe import sanitize
from rnn_tui.trainer import StepRecord, Trainer


def format_rate(x: float) -> str:
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def progress_line(r: StepRecord) -> str:
    val = "   -  " if r.val_loss is None else f"{r.val_loss:.3f}"
    return (
        f"step {r.step:>7}  loss {r.smooth_loss:.3f} ({r.bits:.2f} bits)  held-out {val}"
        f"  {format_rate(r.chars_per_s)} chars/s  g_last[1]/g_last[T] {r.last_ratio:.1e}"
    )


def run_headless(
    trainers: Trainer | list[Trainer],
    steps: int,
    metrics: IO[str] | None = None,
    log_every: int = 10,
    progress_every: float = 2.0,
    out: IO[str] = sys.stdout,
) -> int:
    """Train `steps` steps (each trainer, taking turns in compare mode). Metrics lines carry
    the cell. Returns the exit code: 0 done, 1 diverged, 130 interrupted."""
    runs = trainers if isinstance(trainers, list) else [trainers]
    for trainer in runs:
        c = trainer.config
        print(
            f"training {c.cell} H={c.hidden} T={c.seq_len} B={c.batch} {c.optimizer} lr={c.lr:g}"
            f" on {trainer.corpus.path} ({trainer.corpus.vocab.size} characters,"
            f" {trainer.model.n_params():,} parameters)",
            file=out,
            flush=True,
        )
    tag = (lambda t: f"{t.config.cell:>4} ") if len(runs) > 1 else (lambda t: "")
    code = 0
    next_print = time.monotonic() + progress_every
    records: dict[int, StepRecord] = {}
    try:
        for _ in range(steps):
            for i, trainer in enumerate(runs):
                if trainer.diverged:
                    continue
                record = records[i] = trainer.step()
                if metrics is not None and (record.step % log_every == 0 or record.diverged):
                    metrics.write(json.dumps(record.to_json(trainer.config.cell)) + "\n")
                if record.diverged:
                    print(
                        f"{tag(trainer)}training diverged at step {record.step} (loss"
                        f" {record.loss:.3g}, gradient norm {record.grad_norm:.3g}); lower --lr"
                        " or clip the gradient",
                        file=out,
                        flush=True,
                    )
                    code = 1
            if all(t.diverged for t in runs):
                break
            if time.monotonic() >= next_print:
                next_print = time.monotonic() + progress_every
                for i, trainer in enumerate(runs):
                    if i in records:
                        print(tag(trainer) + progress_line(records[i]), file=out, flush=True)
    except KeyboardInterrupt:
        code = 130
        print("interrupted", file=out, flush=True)
    for i, trainer in enumerate(runs):
        if i not in records or trainer.diverged:
            continue
        c = trainer.config
        trainer.val_loss, trainer.val_step = trainer.evaluate(), trainer.steps
        final = replace(records[i], val_loss=trainer.val_loss)
        print(tag(trainer) + progress_line(final), file=out, flush=True)
        text = sample_text(
            trainer.model,
            trainer.params,
            trainer.corpus.vocab,
            min(c.sample_len, 400),
            temperature=c.temperature,
            top_k=c.top_k,
            seed=c.seed,
            reset_at=c.reset_at,
        )
        print(
            f"{tag(trainer)}sample at step {records[i].step}, temperature {c.temperature:g}:",
            file=out,
        )
        print(sanitize(text), file=out, flush=True)
    return code
