"""What a run is made of: plain data, cheap to send, built into trainers where they run.

A `RunSpec` names the corpus, the settings and a checkpoint to resume from, never the corpus
itself or a live model. The trainer process builds its trainers from it (`build.py`); a
process that does not train checks it without reading the ids (`check_spec`, pure Python
unless the spec names a checkpoint), so bad input is refused before the app opens. When the app restarts a trainer that died, the spec also carries
the last weights the app holds. No UI import here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnn_tui.engine.config import Config
from rnn_tui.engine.longlag import DEFAULT_LAG
from rnn_tui.engine.text import Vocab, check_fits, check_learnable, scan_vocab

if TYPE_CHECKING:
    from rnn_tui.engine.checkpoint import Checkpoint
    from rnn_tui.engine.trainer import Trainer

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


def check_spec(spec: RunSpec, progress: Progress | None = None) -> Vocab:
    """Refuse what `build_trainers` would refuse, reading the corpus once without keeping its
    ids (the trainer process reads them); return the vocabulary."""
    c = spec.configs[0]
    if spec.corpus is None:
        from rnn_tui.engine.longlag import make_lines  # NumPy: not before the first frame

        text = make_lines(GENERATED_LINES, spec.lag)
        vocab, n = Vocab.from_text(text), len(text)
    else:
        vocab, n = scan_vocab(spec.corpus, progress=progress)
    n_val = int(n * c.val_fraction)  # as the corpus is split
    check_learnable(spec.corpus_name, vocab, n, n_val, c.seq_len + 1)
    for config in spec.configs:
        check_fits(n - n_val, config, spec.corpus_name)
    if spec.load is not None:  # NumPy: only a run resumed from a checkpoint loads it first
        from rnn_tui.engine.checkpoint import load_checkpoint
        from rnn_tui.engine.resume import check_resume

        check_resume(load_checkpoint(spec.load), vocab.chars, c, spec.load)
    if spec.trainer_class:
        trainer_class(spec.trainer_class)
    return vocab


def trainer_class(name: str) -> type[Trainer]:
    """The Trainer subclass "module:Class" names ("": Trainer itself)."""
    from rnn_tui.engine.trainer import Trainer  # NumPy: imported when a run is built

    if not name:
        return Trainer
    module, _, attr = name.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Trainer)):
        raise TypeError(f"{name} is not a Trainer")
    return cls
