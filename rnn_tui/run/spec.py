"""What a run is made of: plain data, cheap to send, built into trainers where they run.

A `RunSpec` names the corpus, the settings and a checkpoint to resume from, never the corpus
itself or a live model. The trainer process builds its trainers from it (`build_trainers`); a
process that does not train checks it without reading the ids (`check_spec`), so bad input is
refused before the app opens. When the app restarts a trainer that died, the spec also carries
the last weights the app holds. No UI import here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from rnn_tui.engine.checkpoint import Checkpoint, load_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import (
    Corpus,
    Vocab,
    check_learnable,
    corpus_from_text,
    load_corpus,
    scan_vocab,
)
from rnn_tui.engine.longlag import DEFAULT_LAG, make_lines
from rnn_tui.engine.resume import check_resume, restore
from rnn_tui.engine.trainer import Trainer, check_fits

GENERATED = "long-lag (generated)"  # the corpus name of a run with no file (--preset)
GENERATED_LINES = 600  # lines of the generated long-lag corpus

Progress = Callable[[int, int], None]  # (bytes done, bytes in all) while a corpus is read


@dataclass(frozen=True)
class RunSpec:
    """The runs of one trainer process: one config, or two side by side (compare mode)."""

    corpus: str | None  # a text file to learn; None: the generated long-lag corpus
    configs: tuple[Config, ...]  # one per run, all on the same corpus
    load: str | None = None  # a checkpoint file to resume the (one) run from
    resume: tuple[Checkpoint | None, ...] = ()  # weights handed over in memory, one per run
    trainer_class: str = ""  # "module:Class", a Trainer subclass (tests inject faults); "": Trainer
    lag: int = DEFAULT_LAG  # filler characters per line of the generated corpus (--lag)

    @property
    def corpus_name(self) -> str:
        return GENERATED if self.corpus is None else self.corpus


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
    make = _trainer_class(spec.trainer_class)
    trainers = [make(corpus, config) for config in spec.configs]
    resume = spec.resume or ((load_checkpoint(spec.load),) if spec.load else ())
    for trainer, ckpt in zip(trainers, resume, strict=False):
        if ckpt is not None:
            restore(trainer, ckpt, spec.load or "checkpoint")
    return trainers


def check_spec(spec: RunSpec, progress: Progress | None = None) -> Vocab:
    """Refuse what `build_trainers` would refuse, reading the corpus once without keeping its
    ids (the trainer process reads them); return the vocabulary."""
    c = spec.configs[0]
    if spec.corpus is None:
        text = make_lines(GENERATED_LINES, spec.lag)
        vocab, n = Vocab.from_text(text), len(text)
    else:
        vocab, n = scan_vocab(spec.corpus, progress=progress)
    n_val = int(n * c.val_fraction)  # as the corpus is split
    check_learnable(spec.corpus_name, vocab, n, n_val, c.seq_len + 1)
    for config in spec.configs:
        check_fits(n - n_val, config, spec.corpus_name)
    if spec.load is not None:
        check_resume(load_checkpoint(spec.load), vocab.chars, c, spec.load)
    _trainer_class(spec.trainer_class)
    return vocab


def _trainer_class(name: str) -> type[Trainer]:
    if not name:
        return Trainer
    module, _, attr = name.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Trainer)):
        raise TypeError(f"{name} is not a Trainer")
    return cls
