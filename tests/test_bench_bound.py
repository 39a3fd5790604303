"""The matmul-only bound of `python -m rnn_tui.bench train` times the step's own per-step
products: the same operands, written where the step's loops write them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rnn_tui.bench.bound import CellMatmulBound
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.model import CELLS
from rnn_tui.engine.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
B, T, H = 3, 8, 6  # small and all different, so a per-step product is told by its rows

Product = tuple[int, int, int, bool]  # sizes of a, b and out; whether out is a window's slice


def per_step_products(run: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> Counter:
    """The `np.matmul` calls `run` makes with a per-step operand (B or 2B rows), counted by
    operand sizes and by where the result goes: a slice of a window-sized array (one of T or
    more of its size) or a buffer reused from step to step."""
    seen: Counter[Product] = Counter()
    real = np.matmul

    def spy(a: np.ndarray, b: np.ndarray, *args: object, out: np.ndarray, **kw: object):
        if a.shape[-2] in (B, 2 * B):
            base = out if out.base is None else out.base
            seen[(a.size, b.size, out.size, base.size >= T * out.size)] += 1
        return real(a, b, *args, out=out, **kw)

    with monkeypatch.context() as m:
        m.setattr(np, "matmul", spy)
        run()
    return seen


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_bound_times_the_products_of_the_step_where_the_step_writes_them(
    cell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, the benchmark's share of the matmul bound compares a step with products
    it does not make: other shapes, or outputs kept in a window where the loop reuses one
    buffer (which runs faster from cache and flatters the share), or the other way round.
    Change `CellMatmulBound` (or `Cell.keeps_products`) with the loop."""
    corpus = load_corpus(ROOT / "corpora" / "tiny.txt")
    trainer = Trainer(corpus, Config(cell=cell, hidden=H, batch=B, seq_len=T))
    bound = CellMatmulBound(cell, H, B, T, corpus.vocab.size, trainer.config.dtype)
    step = per_step_products(trainer.step, monkeypatch)
    timed = per_step_products(lambda: bound._pass(record=False), monkeypatch)
    assert sum(step.values()) == 2 * T - 1, step  # W_h h_{t-1} T times, W_h^T da_t T-1 times
    assert timed == step
