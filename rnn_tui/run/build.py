"""A `RunSpec` built into trainers, where they run: the corpus read into ids, the models made,
a checkpoint's weights restored. NumPy; the light checks are `spec.check_spec`."""

from __future__ import annotations

from rnn_tui.engine.checkpoint import load_checkpoint
from rnn_tui.engine.data import Corpus, corpus_from_text, load_corpus
from rnn_tui.engine.longlag import make_lines
from rnn_tui.engine.resume import restore
from rnn_tui.engine.trainer import Trainer
from rnn_tui.run.spec import GENERATED, GENERATED_LINES, Progress, RunSpec, trainer_class


def read_corpus(spec: RunSpec, progress: Progress | None = None) -> Corpus:
    """The spec's corpus, split as its first config says; refused if a window does not fit."""
    c = spec.configs[0]
    need = c.seq_len + 1  # one window and its targets
    if spec.corpus is None:
        return corpus_from_text(
            make_lines(GENERATED_LINES, spec.lag), GENERATED, c.val_fraction, need
        )
    return load_corpus(spec.corpus, c.val_fraction, min_train_chars=need, progress=progress)


def build_trainers(spec: RunSpec, progress: Progress | None = None) -> list[Trainer]:
    """The spec's trainers, fresh or resumed, on its corpus (read here)."""
    corpus = read_corpus(spec, progress)
    make = trainer_class(spec.trainer_class)
    trainers = [make(corpus, config) for config in spec.configs]
    resume = spec.resume or ((load_checkpoint(spec.load),) if spec.load else ())
    for trainer, ckpt in zip(trainers, resume, strict=False):
        if ckpt is not None:
            restore(trainer, ckpt, spec.load or "checkpoint")
    return trainers
