"""Key recall: does the model remember a long-lag line's key when it reaches the '='?

A long-lag corpus (see `longlag.py`) is made of lines `key + filler * lag + '=' + key`. The
last key is the only character on a line that needs a memory of `lag + 1` steps; the loss
hides it among the `lag + 3` easy ones, so it is measured on its own:

    recall = mean_b [ argmax_v p(v | line_b up to its '=') == key_b ]    over held-out lines b

Every held-out line is read from the zero state, as training with `reset_at='\\n'` reads it,
and all of them go through the cell at once: one forward pass of B = (held-out lines) streams
and T = lag + 2 steps, a few milliseconds at the sizes the lessons use. A model that only
knows the line's shape (a '=' comes, then some key) can do no better than always naming the
same key: recall = that key's share of the lines, about `chance` = 1 / (number of keys).
Ties in the logits go to the lowest id (NumPy's argmax); in a long-lag vocabulary that is the
newline, never a key, so a model with all-equal logits scores 0.

How far back the recall's gradient reaches (`recall_reach`): for each held-out line b with
inputs x_1 (the key) .. x_T (the '='), T = lag + 2, and p_b = p(key_b | line_b up to '='),

    reach_b = || d log p_b / d x_1 || / || d log p_b / d x_T ||      exact BPTT, all paths

the ratio `g_last[1] / g_last[T]` would be for this one loss, the one that needs the memory.
It is measured where the window's last loss cannot show it: once a model has learnt that the
next line's key cannot be foreseen, the gradient of the window's last loss (that next key) is
cut at the newline, for an LSTM that recalls as much as for one that does not. The median
over the lines is reported.

Pure NumPy, no UI import; it reads the weights it is given (a trainer's `snapshot()`, a
checkpoint's) and never changes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.data import Corpus
from rnn_tui.engine.model import Cell, Params
from rnn_tui.engine.model.base import logits_of

RECALL = "="  # the character after which the key is recalled
NEWLINE = "\n"  # every line ends with one


@dataclass(frozen=True)
class RecallTask:
    """The held-out lines of a long-lag corpus, ready for one batched forward pass."""

    lag: int  # filler characters per line
    keys: tuple[str, ...]  # the distinct keys of the whole corpus, sorted
    inputs: np.ndarray  # (B, lag + 2) ids of each held-out line: key, filler, '='
    targets: np.ndarray  # (B,) id of each line's key: what should follow the '='

    @property
    def lines(self) -> int:
        """B, the number of held-out lines."""
        return len(self.targets)

    @property
    def chance(self) -> float:
        """1 / number of keys: the recall of a guess, or of always naming one evenly used key."""
        return 1.0 / len(self.keys)


def _line_matrix(ids: np.ndarray, n: int, nl: int, eq: int) -> np.ndarray | None:
    """`ids` cut into rows of n characters, or None unless every row is key, one filler
    character repeated n - 4 times, '=', the same key, newline."""
    if n < 5 or len(ids) % n:
        return None
    rows = ids.reshape(-1, n)  # (lines, n)
    key, fill = rows[:, 0], rows[0, 1]
    ok = (
        np.all(rows[:, -1] == nl)  # each line ends with a newline...
        and np.all(rows[:, -3] == eq)  # ...after '=' and the key again
        and np.all(rows[:, -2] == key)
        and np.all(rows[:, 1:-3] == fill)  # one filler character throughout
        and not np.any(np.isin(key, (fill, nl, eq)))  # a key is none of the other characters
        and fill not in (nl, eq)
    )
    return rows if ok else None


def recall_task(corpus: Corpus) -> RecallTask | None:
    """The key-recall task of `corpus`, or None when it is not a long-lag corpus (every line
    `key + filler * lag + '=' + key` with one lag, each line ending with a newline, as
    `longlag.make_lines` writes them) or when no whole line lies in its held-out part."""
    chars = corpus.vocab.chars
    if RECALL not in chars or NEWLINE not in chars:
        return None
    nl, eq = chars.index(NEWLINE), chars.index(RECALL)
    train, val = corpus.train, corpus.val
    first = np.flatnonzero(np.concatenate([train[:10_006], val[:10_006]]) == nl)
    if not len(first):
        return None
    n = int(first[0]) + 1  # characters per line, newline included: lag + 4
    head = np.concatenate([train[:n], val[:n]])[:n]
    if _line_matrix(head, n, nl, eq) is None:  # the first line says no: no need to read more
        return None
    rows = _line_matrix(np.concatenate([train, val]), n, nl, eq)  # (lines, n)
    if rows is None:
        return None
    held = rows[-(len(val) // n) :] if len(val) >= n else rows[:0]  # lines wholly in `val`
    if not len(held):
        return None
    keys = tuple(sorted(chars[int(k)] for k in np.unique(rows[:, 0])))
    return RecallTask(
        lag=n - 4,
        keys=keys,
        inputs=np.ascontiguousarray(held[:, : n - 2]),  # key, filler, '='
        targets=held[:, n - 2].copy(),  # the key after '='
    )


def recall_predictions(task: RecallTask, cell: Cell, params: Params) -> np.ndarray:
    """(B,) the id the model finds likeliest after each held-out line's '=', each line read
    from the zero state. `cell` must be the one `params` belong to (its H, V and dtype)."""
    B = task.lines
    with np.errstate(all="ignore"):  # a diverged model gives NaN logits, not warnings
        logits, _ = cell.forward(params, task.inputs, cell.init_state(B))  # (B, lag + 2, V)
    return logits[:, -1].argmax(axis=-1)  # the prediction after '='; ties: the lowest id


def key_recall(task: RecallTask, cell: Cell, params: Params) -> float:
    """Fraction of held-out lines whose key is the model's likeliest character after '='."""
    return float(np.mean(recall_predictions(task, cell, params) == task.targets))


REACH_LINES = 16  # held-out lines the reach is measured on (one batched pass)


def recall_gradients(task: RecallTask, cell: Cell, params: Params, lines: int) -> np.ndarray:
    """g: (B, T) = || d log p(key_b) / d x_t || for the first `lines` held-out lines (B of
    them), t = 1 (the key) .. T (the '='), each line read from the zero state, x_t its one-hot
    input treated as a continuous vector, as in `probe.input_gradients`, all lines at once."""
    X = task.inputs[:lines]  # (B, T)
    keys = task.targets[:lines]  # (B,)
    B, T = X.shape
    with np.errstate(all="ignore"):  # a diverged model gives NaN, not warnings
        trace = cell._run(params, np.ascontiguousarray(X.T), cell.init_state(B), None)  # 1.
        z = logits_of(params, trace.hs[T]).astype(np.float64)  # (B, V) logits after '='
        p = np.exp(z - z.max(axis=1, keepdims=True))  # softmax, shifted
        p /= p.sum(axis=1, keepdims=True)
        dz = -p  # 2. d log p(key) / dz = onehot(key) - p
        dz[np.arange(B), keys] += 1.0
        dh_out = np.zeros((T, B, cell.H), cell.dtype)  # (T, B, H): only the last output
        dh_out[-1] = dz @ params["Why"]  # W_hy^T dz
        back = cell._backward(params, trace, dh_out, False, weights=False)  # 3. BPTT
        d_in = back.d_in.reshape(T, B, -1)  # (T, B, G*H): d log p / d(W_x x_t + b)
        dx = d_in @ params[cell.names[0]]  # 4. W_x^T da_t: (T, B, V)
    return np.linalg.norm(dx.astype(np.float64), axis=2).T  # (B, T)


def recall_reach(task: RecallTask, cell: Cell, params: Params, lines: int = REACH_LINES) -> float:
    """The median over held-out lines of || d log p(key) / d x_key || / || d log p(key) /
    d x_'=' ||: how much of the recall's gradient reaches back to the key (see the module
    docstring). NaN when it cannot be measured (a diverged model, an all-zero gradient)."""
    g = recall_gradients(task, cell, params, lines)  # (B, T)
    with np.errstate(all="ignore"):
        ratio = g[:, 0] / g[:, -1]  # (B,) key over '='
    return float(np.median(ratio)) if np.all(np.isfinite(ratio)) else float("nan")
