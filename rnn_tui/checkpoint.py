"""Checkpoints: one `.npz` file with weights, optimizer state, vocabulary, config and counters.

Written atomically (a temporary file in the same folder, then a rename), so a crash or a full
disk never leaves a half-written file where a good one was. Read with `allow_pickle=False`, so
a file holding pickled objects is refused, never executed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from rnn_tui.config import Config
from rnn_tui.data import Corpus
from rnn_tui.errors import UserError
from rnn_tui.model import Params
from rnn_tui.trainer import Trainer

FORMAT = "rnn-tui checkpoint 1"


@dataclass(frozen=True)
class Checkpoint:
    """The contents of a checkpoint file."""

    config: Config  # the settings it was trained with
    vocab: tuple[str, ...]  # its characters, in id order
    params: Params  # weights by name
    opt_state: dict[str, np.ndarray]  # optimizer state by name
    step: int  # optimizer steps taken
    chars: int  # training characters read


def save_checkpoint(path: str | os.PathLike[str], trainer: Trainer) -> str:
    """Write the trainer's model to `path` atomically; return the path written."""
    p = os.fspath(path)
    if not p.endswith(".npz"):
        p += ".npz"  # np.savez would add it anyway; say the real name
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "config": np.array(json.dumps(trainer.config.to_json())),
        "vocab": np.array(list(trainer.corpus.vocab.chars)),
        "step": np.array(trainer.steps, np.int64),
        "chars": np.array(trainer.chars, np.int64),
    }
    arrays |= {f"param.{k}": v for k, v in trainer.params.items()}
    arrays |= {f"opt.{k}": v for k, v in trainer.optimizer.state.items()}
    folder = os.path.dirname(os.path.abspath(p))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".rnn-tui-", suffix=".npz.tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(tmp, p)  # atomic: readers see the old file or the new one, never half
        tmp = None
    except OSError as exc:
        raise UserError(f"cannot save checkpoint to {p}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint; anything that is not one of ours becomes a one-line `UserError`."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # an .npz is a zip archive; anything else is not ours
                raise UserError(f"{p} is not an rnn-tui checkpoint (not an .npz file)")
        with np.load(p, allow_pickle=False) as npz:
            z = {k: npz[k] for k in npz.files}  # read every array now: any pickled one is refused
        if "format" not in z or str(z["format"]) != FORMAT:
            raise UserError(f"{p} is not an rnn-tui checkpoint")
        config = Config.from_json(json.loads(str(z["config"])))
        vocab = tuple(str(c) for c in z["vocab"])
        params = {k[6:]: v for k, v in z.items() if k.startswith("param.")}
        opt = {k[4:]: v for k, v in z.items() if k.startswith("opt.")}
        step, chars = int(z["step"]), int(z["chars"])
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"checkpoint {p} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"checkpoint {p} is a directory") from None
    except PermissionError:
        raise UserError(f"cannot read checkpoint {p}: permission denied") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise UserError(f"{p} holds pickled objects; refused (they could run code)") from None
        raise UserError(f"{p} is not an rnn-tui checkpoint ({exc})") from None
    except (
        OSError,
        EOFError,
        KeyError,
        TypeError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
    ) as exc:
        raise UserError(
            f"{p} is not a readable rnn-tui checkpoint ({type(exc).__name__})"
        ) from None
    return Checkpoint(config, vocab, params, opt, step, chars)


def restore(trainer: Trainer, ckpt: Checkpoint, path: str = "checkpoint") -> None:
    """Put a checkpoint's weights and optimizer state into `trainer`, refusing any mismatch."""
    if ckpt.vocab != trainer.corpus.vocab.chars:
        raise UserError(
            f"{path} was trained on another vocabulary ({len(ckpt.vocab)} characters; this"
            f" corpus has {trainer.corpus.vocab.size}); use the corpus it was trained on"
        )
    if ckpt.config.cell != trainer.config.cell:
        raise UserError(
            f"{path} holds a model with cell {ckpt.config.cell}, not {trainer.config.cell}"
            f" (use --cell {ckpt.config.cell})"
        )
    shapes = trainer.model.param_shapes()
    for name, shape in shapes.items():
        got = ckpt.params.get(name)
        if got is None or got.shape != shape:
            have = "missing" if got is None else f"shape {got.shape}"
            raise UserError(f"{path}: parameter {name} is {have}, the model needs {shape}")
    try:
        trainer.optimizer.load_state(ckpt.opt_state)
    except ValueError as exc:
        raise UserError(f"{path}: {exc} (saved with another optimizer?)") from None
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
