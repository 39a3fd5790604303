"""The reference losses of a run's corpus, worked out once where the corpus is: the counting
baseline (rnn_tui.engine.ngram) and, on a long-lag corpus, its two floors
(rnn_tui.engine.floors). The trainer process sends them to the app inside its snapshots
(`protocol.Baselines`); headless runs print them once; both put them in the metrics lines.
No UI import here."""

from __future__ import annotations

import time
from typing import Any

from rnn_tui.engine.floors import task_floors
from rnn_tui.engine.ngram import fit_ngram
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run.protocol import Baselines


def floors_only(trainer: Trainer) -> Baselines:
    """The floors alone (known at once from the corpus's recall task), no counting baseline."""
    floors = task_floors(trainer.recall_task)
    if floors is None:
        return Baselines()
    return Baselines(forgets=floors.forgets, recalls=floors.recalls)


def work_out(trainer: Trainer) -> tuple[Baselines, float]:
    """The baselines of `trainer`'s corpus (every run on it shares them) and the seconds the
    counting took."""
    corpus = trainer.corpus
    start = time.perf_counter()
    fit = fit_ngram(corpus.train, corpus.val, corpus.vocab.size)
    seconds = time.perf_counter() - start
    base = floors_only(trainer)
    if fit is None:
        return base, seconds
    return Baselines(fit.n, fit.loss, base.forgets, base.recalls), seconds


def metrics_fields(b: Baselines | None) -> dict[str, Any]:
    """The metrics-line fields of the counting baseline: `ngram_n` and `ngram_loss` (null until
    worked out, or when the corpus has too little held-out text)."""
    if b is None or b.ngram_loss is None:
        return {"ngram_n": None, "ngram_loss": None}
    return {"ngram_n": b.ngram_n, "ngram_loss": b.ngram_loss}


def baseline_lines(b: Baselines, seconds: float) -> list[str]:
    """What a headless run prints of the baselines, once, before training."""
    lines = []
    if b.ngram_loss is not None:
        lines.append(
            f"counting baseline: {b.ngram_n}-gram (Witten-Bell), held-out {b.ngram_loss:.3f}"
            f" nats/char, worked out in {seconds * 1000:.0f} ms"
        )
    if b.forgets is not None and b.recalls is not None:
        lines.append(
            f"loss floors: forgets the key {b.forgets:.3f}, recalls the key {b.recalls:.3f}"
            " nats/char"
        )
    return lines
