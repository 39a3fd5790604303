"""What a trainer process needs to build its trainers: plain data, cheap to send.

A `RunSpec` names the corpus and the settings, never the corpus itself or a live model, so a new
trainer process can be started from it at any time: when the app starts one after the first
died, it also carries the last weights the app holds. No UI import here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnn_tui.engine.checkpoint import Checkpoint, restore
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, corpus_from_text, load_corpus
from rnn_tui.engine.longlag import make_lines
from rnn_tui.engine.trainer import Trainer

GENERATED = "long-lag (generated)"  # the corpus name of a run with no file (--preset)
GENERATED_LINES = 600  # lines of the generated long-lag corpus


@dataclass(frozen=True)
class RunSpec:
    """The runs of one trainer process: one config, or two side by side (compare mode)."""

    corpus: str | None  # a text file to learn; None: the generated long-lag corpus
    configs: tuple[Config, ...]  # one per run, all on the same corpus
    resume: tuple[Checkpoint | None, ...] = ()  # weights to start each run from, if any

    def with_configs(self, configs: tuple[Config, ...]) -> RunSpec:
        """The same corpus with other settings (and no weights to resume)."""
        return RunSpec(self.corpus, configs)


def read_corpus(spec: RunSpec) -> Corpus:
    """The spec's corpus, split as its first config says; refused if a window does not fit."""
    c = spec.configs[0]
    need = c.seq_len + 1  # one window and its targets
    if spec.corpus is None:
        return corpus_from_text(make_lines(GENERATED_LINES), GENERATED, c.val_fraction, need)
    return load_corpus(spec.corpus, c.val_fraction, min_train_chars=need)


def build_trainers(spec: RunSpec, corpus: Corpus | None = None) -> list[Trainer]:
    """Fresh trainers for the spec's configs, or resumed from its checkpoints."""
    corpus = corpus or read_corpus(spec)
    trainers = [Trainer(corpus, config) for config in spec.configs]
    for trainer, ckpt in zip(trainers, spec.resume, strict=False):
        if ckpt is not None:
            restore(trainer, ckpt)
    return trainers


def spec_of(trainers: list[Trainer]) -> RunSpec:
    """The spec that builds trainers like these (fresh: their weights are not included)."""
    corpus = trainers[0].corpus
    path = None if corpus.path == GENERATED else corpus.path
    return RunSpec(path, tuple(t.config for t in trainers))
