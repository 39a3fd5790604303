"""Training without the UI: progress lines on stdout, optional JSON-lines metrics, a sample."""

from __future__ import annotations

import json
import sys
import time
from typing import IO

from rnn_tui.sampling import sample_text
from rnn_tui.textsafe import visible
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
    trainer: Trainer,
    steps: int,
    metrics: IO[str] | None = None,
    log_every: int = 10,
    progress_every: float = 2.0,
    out: IO[str] = sys.stdout,
) -> int:
    """Train `steps` steps. Returns the exit code: 0 done, 1 diverged, 130 interrupted."""
    c = trainer.config
    print(
        f"training {c.cell} H={c.hidden} T={c.seq_len} B={c.batch} {c.optimizer} lr={c.lr:g}"
        f" on {trainer.corpus.path} ({trainer.corpus.vocab.size} characters,"
        f" {trainer.model.n_params():,} parameters)",
        file=out,
        flush=True,
    )
    code = 0
    next_print = time.monotonic() + progress_every
    record: StepRecord | None = None
    try:
        for _ in range(steps):
            record = trainer.step()
            logged = record.step % log_every == 0 or record.diverged
            if metrics is not None and logged:
                metrics.write(json.dumps(record.to_json(c.cell)) + "\n")
            if record.diverged:
                print(
                    f"training diverged at step {record.step} (loss {record.loss:.3g},"
                    f" gradient norm {record.grad_norm:.3g}); lower --lr or clip the gradient",
                    file=out,
                    flush=True,
                )
                return 1
            if time.monotonic() >= next_print:
                next_print = time.monotonic() + progress_every
                print(progress_line(record), file=out, flush=True)
    except KeyboardInterrupt:
        code = 130
        print("interrupted", file=out, flush=True)
    if record is not None:
        trainer.val_loss, trainer.val_step = trainer.evaluate(), trainer.steps
        final = StepRecord(**{**record.__dict__, "val_loss": trainer.val_loss})
        print(progress_line(final), file=out, flush=True)
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
        print(f"sample at step {record.step}, temperature {c.temperature:g}:", file=out)
        print(visible(text), file=out, flush=True)
    return code
