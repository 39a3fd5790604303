"""Files a class can keep after a run: the loss history as CSV and the samples as text.

The metrics (JSON lines) and the checkpoint are written by the worker, which owns the trainer;
the app hands over what it shows.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnn_tui.engine.model import LN2

if TYPE_CHECKING:
    from rnn_tui.ui.lane import Lane


def write_loss_csv(
    path: str,
    runs: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
) -> int:
    """Write `cell, curve, step, nats_per_char, bits_per_char` rows, one per stored point of
    each run's training (smoothed) and held-out curve; returns the number of rows."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["cell", "curve", "step", "nats_per_char", "bits_per_char"])
        for cell, steps, train, val_steps, val in runs:
            for curve, xs, ys in (("train", steps, train), ("held-out", val_steps, val)):
                for x, y in zip(xs, ys, strict=True):
                    out.writerow([cell, curve, int(round(x)), f"{y:.6f}", f"{y / LN2:.6f}"])
                    rows += 1
    return rows


def write_samples(path: str, samples: Sequence[tuple[str, str, str]]) -> int:
    """Write each `(cell, header, text)` sample under a `## cell · header` line; returns how
    many samples were written. The text is written as generated (UTF-8), not escaped."""
    with open(path, "w", encoding="utf-8") as f:
        for cell, header, text in samples:
            f.write(f"## {cell} · {header}\n{text}\n\n")
    return len(samples)


def ensure_dir(path: str) -> str:
    """Create the export folder if needed; return its path."""
    os.makedirs(path, exist_ok=True)
    return path


def export_run(
    folder: str,
    lanes: Sequence[Lane],
    save_model: Callable[[str], tuple[bool, str]],
) -> str:
    """Write the loss history and the samples shown so far to `folder`, have `save_model` write
    a checkpoint there (the worker has been appending the metrics all along); say what."""
    try:
        ensure_dir(folder)
        runs = [
            (s.cell, s.loss_steps, s.loss_values, s.val_steps, s.val_values)
            for s in (lane.snapshot for lane in lanes)
            if s is not None
        ]
        points = write_loss_csv(os.path.join(folder, "loss.csv"), runs)
        samples = [
            (lane.cell.name, header, text)
            for lane in lanes
            for header, text in lane.samples_so_far()
        ]
        n = write_samples(os.path.join(folder, "samples.txt"), samples)
    except OSError as exc:
        return f"cannot export to {folder}: {exc.strerror or exc}"
    ok, said = save_model(os.path.join(folder, "checkpoint.npz"))
    model = "a checkpoint" if ok else "no checkpoint"
    return f"exported to {folder}: {points} loss points, {n} samples, {model}, metrics ({said})"
