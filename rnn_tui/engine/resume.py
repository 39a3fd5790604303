"""Resuming from a checkpoint: check that it fits the model the settings make, then load it.

`check_resume` needs no trainer (the app's process checks a --load before the trainer process
reads the corpus); `restore` puts a checked checkpoint into a trainer.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.checkpoint import Checkpoint, _clip
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus
from rnn_tui.engine.model import Params, make_cell
from rnn_tui.engine.optim import OPTIMIZERS
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError


def _fits(value: np.ndarray, dtype: np.dtype) -> bool:
    """Whether float `value` converts to float `dtype` without becoming inf (or is NaN-free)."""
    if value.size == 0 or dtype.itemsize >= value.dtype.itemsize:
        return True  # float32 -> float64 is exact
    return bool(np.abs(value).max() <= np.finfo(dtype).max)  # float64 -> float32 rounds


def _check_fit(what: str, mine: Params, got: Params, hint: str) -> None:
    """Refuse `got` unless it has exactly the names and shapes of `mine`, and values of the same
    kind (float, int) that fit `mine`'s dtypes; `what` starts each message, `hint` ends it."""
    extra = sorted(set(got) - set(mine))
    if extra:
        raise UserError(f"{what} {_clip(extra[0])} is not part of this model{hint}")
    for name, m in mine.items():
        g = got.get(name)
        if g is None or g.shape != m.shape:
            have = "missing" if g is None else f"shape {g.shape}"
            raise UserError(f"{what} {name} is {have}, the model needs {m.shape}{hint}")
        if g.dtype.kind != m.dtype.kind or not _fits(g, m.dtype):
            raise UserError(f"{what} {name} holds {g.dtype}, which does not fit {m.dtype}{hint}")


def _check(
    ckpt: Checkpoint,
    vocab: tuple[str, ...],
    config: Config,
    params: Params,
    opt_state: dict[str, np.ndarray],
    path: str,
) -> None:
    """Refuse a checkpoint that does not fit a model of `config` over `vocab`, whose arrays
    (or stand-ins of the same shapes and dtypes) are `params` and `opt_state`."""
    shown = _clip(path, 200)
    if ckpt.vocab != vocab:
        raise UserError(
            f"{shown} was trained on another vocabulary ({len(ckpt.vocab)} characters; this"
            f" corpus has {len(vocab)}); use the corpus it was trained on"
        )
    if ckpt.config.cell != config.cell:
        raise UserError(
            f"{shown} holds a model with cell {ckpt.config.cell}, not {config.cell}"
            f" (use --cell {ckpt.config.cell})"
        )
    if not 0 <= ckpt.step <= ckpt.chars:
        raise UserError(f"{shown}: step {ckpt.step} and characters {ckpt.chars} do not fit")
    _check_fit(f"{shown}: parameter", params, ckpt.params, "")
    if ckpt.opt_state:  # else: weights only, and a fresh optimizer stays
        hint = " (saved with another optimizer?)"
        _check_fit(f"{shown}: optimizer state", opt_state, ckpt.opt_state, hint)
        optimizer = OPTIMIZERS[config.optimizer]({})
        problem = optimizer.state_problem(ckpt.opt_state, ckpt.step)
        if problem:
            raise UserError(f"{shown}: {problem}")


def check_resume(
    ckpt: Checkpoint, vocab: tuple[str, ...], config: Config, path: str = "checkpoint"
) -> None:
    """Refuse, as `restore` would, a checkpoint that does not fit `config` over `vocab`."""
    model = make_cell(config.cell, len(vocab), config.hidden, config.dtype)
    params = {n: np.zeros(s, model.dtype) for n, s in model.param_shapes().items()}
    _check(ckpt, vocab, config, params, OPTIMIZERS[config.optimizer](params).state, path)


def restore(trainer: Trainer, ckpt: Checkpoint, path: str = "checkpoint") -> None:
    """Put a checkpoint's weights and optimizer state into `trainer`, refusing any mismatch.

    The trainer's dtype may differ from the checkpoint's (the user typed --dtype): the weights
    are converted, float64 -> float32 only if no value overflows. With no optimizer state
    saved, the trainer keeps its fresh optimizer."""
    opt = trainer.optimizer.state
    _check(ckpt, trainer.corpus.vocab.chars, trainer.config, trainer.params, opt, path)
    if ckpt.opt_state:
        trainer.optimizer.load_state(ckpt.opt_state)  # names and shapes checked: cannot fail
    for name, value in ckpt.params.items():
        trainer.params[name][...] = value
    trainer.steps, trainer.chars = ckpt.step, ckpt.chars


def trainer_from_checkpoint(
    corpus: Corpus, ckpt: Checkpoint, path: str, config: Config | None = None
) -> Trainer:
    """A trainer with the checkpoint's weights; `config` (default: the saved one) must fit them."""
    trainer = Trainer(corpus, config or ckpt.config)
    restore(trainer, ckpt, path)
    return trainer
