"""What the app keeps of its runs when it cannot ask them: the newest weight copies, written as
checkpoints (without optimizer state) after the trainer process died or stopped answering."""

from __future__ import annotations

from collections.abc import Sequence

from rnn_tui.engine.checkpoint import Checkpoint, write_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.errors import UserError
from rnn_tui.run.outputs import cell_paths
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.lane import Lane


def configs_now(lanes: Sequence[Lane], spec: RunSpec) -> tuple[Config, ...]:
    """Each run's settings as its snapshot says they are now: the cell, H, the learning rate
    and the clipping may have changed since the start."""
    out = []
    for lane, config in zip(lanes, spec.configs, strict=True):
        config = lane.config_of(config)
        s = lane.snapshot
        if s is not None:
            config = config.with_(lr=s.lr, clip_mode=s.clip_mode, clip=s.clip)
        out.append(config)
    return tuple(out)


def held_checkpoints(
    lanes: Sequence[Lane], spec: RunSpec, vocab: tuple[str, ...]
) -> list[Checkpoint | None]:
    """The newest weights the app holds of each run, as checkpoints without optimizer state."""
    out: list[Checkpoint | None] = []
    for lane, config in zip(lanes, configs_now(lanes, spec), strict=True):
        if lane.weights is None:
            out.append(None)
            continue
        params, step = lane.weights
        chars = step * config.batch * config.seq_len  # every step reads B x T characters
        out.append(Checkpoint(config, vocab, params, {}, step, chars))
    return out


def save_held(path: str, lanes: Sequence[Lane], spec: RunSpec, vocab: tuple[str, ...]) -> str:
    """Write what the app holds to `path` (one file per cell with several runs); say what."""
    held = held_checkpoints(lanes, spec, vocab)
    if all(c is None for c in held):
        return "cannot save: the trainer is gone before it sent any weights"
    saved = []
    for ckpt, target in zip(
        held, cell_paths(path, [lane.cell.name for lane in lanes]), strict=True
    ):
        if ckpt is None:
            continue
        try:
            saved.append(write_checkpoint(target, ckpt))
        except UserError as exc:
            return str(exc)
    steps = ", ".join(f"{c.step:,}" for c in held if c is not None)
    return f"saved {', '.join(saved)} (weights of step {steps}, held by the app)"
