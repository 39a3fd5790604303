"""Looking inside a trained model: how surprised it is by each character of a text, what it
expected instead, and how far back its prediction of one character reaches.

For a text c_0 .. c_{N-1} the model reads one character per step from the zero state, as
in training and sampling, and before each character its readout gives a distribution:

    surprisal_i = -log2 p(c_i | c_0 .. c_{i-1})      bits; 1 bit = a fair coin's surprise
    bits/char   = mean_i surprisal_i                 over the scored characters

The first character is not scored: nothing came before it, and the model never learnt to
predict from an empty past (the zero state's logits are only the output bias b_y).

Looking back from character j: with x_s: (V,) the one-hot input of step s and p_j =
p(c_j | c_0 .. c_{j-1}),

    g_s = || d log p_j / d x_s ||                    for every s < j, one backward pass

The input enters every cell as W_x x_s + b (all gate blocks at once; the cells look up
column x_s), so with da_s: (G*H,) the gradient at step s's pre-activations from exact BPTT
through the cell's own backward pass, d log p_j / d x_s = W_x^T da_s: (V,). x_s is treated as
a continuous vector, which is what the gradient means: how fast log p_j moves per unit of each
entry of x_s. A state reset (the settings' `reset_at` characters, as in training) cuts every
path: g_s = 0 for each s before the last reset before j, so the passes start there.

Characters outside the vocabulary are skipped: the model reads the text as if they were not
there; they are kept in the result, marked unknown, with no surprisal and no looking-back value.

Everything works on a private, read-only copy of the weights (`ProbeModel`), so a trainer may
go on changing its own arrays, in the weights' own dtype (float32 unless trained in float64),
through the very loops training runs. Pure NumPy, no UI import: a UI calls it in a worker
thread with the weights of a snapshot or a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import LN2, Cell, Params, make_cell
from rnn_tui.engine.model.base import Trace, keep_mask, logits_of
from rnn_tui.errors import UserError

PROBE_LIMIT = 4000  # characters probed at most; a longer text keeps its last PROBE_LIMIT
TOP_K = 5  # predictions listed per position
UNKNOWN = -1  # the id given to a character outside the vocabulary
EMPTY_HINT = "nothing to probe: give some text, e.g. --probe 'the cat sat'"


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class ProbeModel:
    """A model ready to be probed: its cell and a private read-only copy of its weights.
    Make one with `probe_model`; it never changes, so a worker thread may use it at will."""

    cell: Cell  # the cell's equations, in the weights' dtype
    params: Params  # copies, e.g. Wxh: (H, V)
    vocab: tuple[str, ...]  # characters in id order
    reset_ids: frozenset[int]  # ids after which the state is zeroed, as in training

    def encode(self, text: str) -> np.ndarray:
        """Ids `(N,)` int64 of `text`'s characters, UNKNOWN (-1) for one outside the vocabulary."""
        index = {ch: i for i, ch in enumerate(self.vocab)}
        return np.fromiter((index.get(ch, UNKNOWN) for ch in text), np.int64, len(text))

    def resets_before(self, ids: np.ndarray) -> np.ndarray:
        """reset: (M,) bool for known ids `(M,)` read in a row: the state is zeroed before step
        m when the character read at step m-1 is a reset character (never before step 0)."""
        reset = np.zeros(len(ids), bool)
        if self.reset_ids and len(ids) > 1:
            reset[1:] = np.isin(ids[:-1], list(self.reset_ids))
        return reset


def probe_model(params: Params, config: Config, vocab: Iterable[str]) -> ProbeModel:
    """A `ProbeModel` of `config`'s cell over `vocab`, with copies of `params` (a trainer's
    `snapshot()`, a checkpoint's weights, or live arrays: they are copied here)."""
    chars = tuple(vocab)
    cell = make_cell(config.cell, len(chars), config.hidden, config.dtype)
    shapes = cell.param_shapes()
    if set(params) != set(shapes) or any(params[k].shape != s for k, s in shapes.items()):
        raise UserError(
            f"these weights are not a {config.cell} model of H={config.hidden} over"
            f" {len(chars)} characters"
        )
    weights = {k: _frozen(np.array(params[k], cell.dtype)) for k in shapes}  # always a copy
    resets = frozenset(i for i, ch in enumerate(chars) if ch in config.reset_at)
    return ProbeModel(cell=cell, params=weights, vocab=chars, reset_ids=resets)


@dataclass(frozen=True)
class ProbeResult:
    """What the model made of a text, one entry per character (N of them, after any cut).

    `predicted[i]`: a known character came before position i, so the model gave a distribution
    there (top-k filled); `scored[i]`: predicted, and c_i is known, so it has a surprisal.
    """

    text: str  # the characters probed: the end of the text given, if it was cut
    cut: int  # characters dropped from the start of the text given (0: none)
    vocab: tuple[str, ...]  # the model's characters, for top_ids
    ids: np.ndarray  # (N,) int64 ids, UNKNOWN (-1) outside the vocabulary
    predicted: np.ndarray  # (N,) bool: a prediction was made before character i
    scored: np.ndarray  # (N,) bool: predicted and known
    surprisal: np.ndarray  # (N,) float64 bits, -log2 p(c_i | before); NaN where not scored
    top_ids: np.ndarray  # (N, k) int64, likeliest first, k = min(5, V); -1 where not predicted
    top_probs: np.ndarray  # (N, k) float64 probabilities of top_ids; NaN where not predicted
    hs: np.ndarray  # (N, H) float64 hidden state h_t after reading c_i (the LSTM's h_t, not
    # c_t); NaN rows where c_i is unknown
    trace: Trace | None = field(default=None, repr=False, compare=False)
    """The forward pass over the known characters, for `looking_back` to start from."""

    @property
    def known(self) -> np.ndarray:
        """(N,) bool: the character is in the vocabulary."""
        return self.ids != UNKNOWN

    @property
    def bits_per_char(self) -> float:
        """Mean surprisal over the scored characters, bits; NaN when none is scored."""
        n = int(self.scored.sum())
        return float(self.surprisal[self.scored].sum() / n) if n else float("nan")

    @property
    def last_scored(self) -> int | None:
        """The position of the last scored character (where looking back is defined), or None."""
        where = np.flatnonzero(self.scored)
        return int(where[-1]) if len(where) else None

    def top(self, i: int) -> list[tuple[str, float]]:
        """The predictions before position i as (character, probability), likeliest first;
        [] where none was made."""
        if not self.predicted[i]:
            return []
        pairs = zip(self.top_ids[i], self.top_probs[i], strict=True)
        return [(self.vocab[c], float(p)) for c, p in pairs]


def _run(pm: ProbeModel, ids: np.ndarray, reset: np.ndarray) -> Trace:
    """The cell's own forward pass over known ids `ids: (M,)`, one stream from the zero state,
    zeroed before step m where `reset: (M,)` says so."""
    keep = keep_mask(reset[None], pm.cell.dtype) if reset.any() else None  # (M, 1, 1) or None
    Xt = ids.reshape(-1, 1)  # (M, B=1) time-major ids
    return pm.cell._run(pm.params, Xt, pm.cell.init_state(1), keep)


def _cut(text: str, limit: int) -> tuple[str, int]:
    """`text`'s last `limit` characters, and how many were dropped; an empty text is refused."""
    if not text:
        raise UserError(EMPTY_HINT)
    if limit < 1:
        raise ValueError(f"limit must be >= 1 (got {limit})")
    cut = max(0, len(text) - limit)
    return text[cut:], cut


def probe(pm: ProbeModel, text: str, limit: int = PROBE_LIMIT) -> ProbeResult:
    """Surprisal and top-5 predictions for every character of `text` (its last `limit` if
    longer): one forward pass over the known characters, one readout over all its steps.
    An empty text is a `UserError` (EMPTY_HINT)."""
    text, cut = _cut(text, limit)
    ids = pm.encode(text)  # (N,)
    known = ids != UNKNOWN
    read = ids[known]  # (M,) what the model reads
    N, k = len(ids), min(TOP_K, pm.cell.V)
    read_before = np.cumsum(known) - known  # (N,) known characters before position i
    predicted = read_before > 0
    scored = predicted & known
    surprisal = np.full(N, np.nan)
    top_ids = np.full((N, k), UNKNOWN, np.int64)
    top_probs = np.full((N, k), np.nan)
    h_after = np.full((N, pm.cell.H), np.nan)  # (N, H): h after reading c_i, NaN if unknown
    if len(read):
        trace = _run(pm, read, pm.resets_before(read))  # the forward pass, kept for later
        hs = trace.hs[1:, 0]  # (M, H): h after each input
        h_after[known] = hs  # the known characters' rows, in reading order
        logp = logits_of(pm.params, hs).astype(np.float64)  # (M, V): y = W_hy h + b_y
        logp -= logp.max(axis=1, keepdims=True)  # shift: softmax unchanged, exp cannot overflow
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))  # (M, V) log-softmax, nats
        step = read_before[predicted] - 1  # (P,) the step whose output predicts position i
        top = top_k(logp, k)  # (M, k) each step's k likeliest next characters, likeliest first
        top_ids[predicted] = top[step]
        top_probs[predicted] = np.exp(np.take_along_axis(logp, top, 1))[step]  # (P, k)
        at = read_before[scored] - 1  # the steps predicting the scored characters
        surprisal[scored] = -logp[at, ids[scored]] / LN2  # -log2 p(c_i) = nats / ln 2
    return ProbeResult(
        text=text,
        cut=cut,
        vocab=pm.vocab,
        ids=_frozen(ids),
        predicted=_frozen(predicted),
        scored=_frozen(scored),
        surprisal=_frozen(surprisal),
        top_ids=_frozen(top_ids),
        top_probs=_frozen(top_probs),
        hs=_frozen(h_after),
        trace=trace if len(read) else None,
    )


def top_k(x: np.ndarray, k: int) -> np.ndarray:
    """(P, k) ids of the k largest entries of each row of `x: (P, V)`, largest first, a tie
    to the lower id. k passes of argmax, each striking out its winner: for a small k (and V
    in the tens) several times faster than a partition and a sort."""
    rows = np.arange(len(x))  # (P,)
    work = np.maximum(x, np.finfo(x.dtype).min)  # a copy in which -inf ranks above struck ones
    top = np.empty((len(x), k), np.int64)
    for q in range(k):
        top[:, q] = work.argmax(axis=1)  # the largest left in each row
        work[rows, top[:, q]] = -np.inf  # out of the next passes
    return top


def _prefix(trace: Trace, T: int) -> Trace:
    """The first T steps of a forward pass: every time-major array cut to T (or T+1) rows."""
    full = trace.hprev.shape[0]
    cut = {}
    for f in fields(trace):
        a = getattr(trace, f.name)
        if isinstance(a, np.ndarray) and a.shape[0] in (full, full + 1):
            cut[f.name] = a[: T + (a.shape[0] - full)]
    return replace(trace, **cut)


def input_gradients(
    pm: ProbeModel, ids: np.ndarray, j: int, trace: Trace | None = None
) -> np.ndarray:
    """d log p(c_j | c_0 .. c_{j-1}) / d x_s for s = 0 .. j-1, exact BPTT: `(j, V)`.

    `ids: (N,)` as in `ProbeResult.ids`; rows of unknown characters are NaN, rows before the
    last state reset are 0 (nothing before it reaches c_j). c_j must be scored (known, with a
    known character before it), else ValueError. The forward and backward passes run through
    the inputs since that reset only: at most j steps. `trace`, a `ProbeResult.trace` of the
    same ids, saves the forward pass when no reset comes before c_j (the values are the same:
    the same steps, in the same order, from the same zero state)."""
    ids = np.asarray(ids, np.int64)
    if not 0 <= j < len(ids):
        raise ValueError(f"position {j} is outside the text (0..{len(ids) - 1})")
    where = np.flatnonzero(ids[:j] != UNKNOWN)  # (M,) positions of the inputs read before c_j
    if ids[j] == UNKNOWN or not len(where):
        raise ValueError(f"character {j} is not scored: unknown, or nothing known before it")
    cell, params = pm.cell, pm.params
    reset = pm.resets_before(ids[where])  # (M,)
    first = int(np.flatnonzero(reset)[-1]) if reset.any() else 0  # the state is 0 before it
    read = ids[where[first:]]  # (T,) the inputs that reach c_j
    T = len(read)
    if trace is not None and first == 0 and trace.hprev.shape[0] >= T:
        trace = _prefix(trace, T)  # 1. forward: the probe's own, up to c_j
    else:
        trace = _run(pm, read, np.zeros(T, bool))  # 1. forward: no reset after `first`
    z = logits_of(params, trace.hs[T, 0]).astype(np.float64)  # (V,) the logits predicting c_j
    p = np.exp(z - z.max())  # softmax, shifted
    p /= p.sum()
    dz = -p  # 2. d log p_j / dz = onehot(c_j) - p
    dz[ids[j]] += 1.0
    dh_out = np.zeros((T, 1, cell.H), cell.dtype)  # (T, B=1, H): gradient from each output
    dh_out[-1, 0] = dz @ params["Why"]  # only the last output is read: W_hy^T dz
    back = cell._backward(params, trace, dh_out, False, weights=False)  # 3. BPTT, T steps
    d_in = back.d_in.reshape(T, -1)  # (T, G*H): d log p_j / d(W_x x_s + b), every gate
    grads = np.full((j, cell.V), np.nan)  # unknown characters stay NaN
    grads[where[:first]] = 0.0  # before the reset
    grads[where[first:]] = d_in @ params[cell.names[0]]  # 4. W_x^T da_s: (T, V)
    return grads


def looking_back(pm: ProbeModel, ids: np.ndarray, j: int, trace: Trace | None = None) -> np.ndarray:
    """g_s = ||d log p(c_j) / d x_s|| for s = 0 .. j-1: `(j,)`, NaN at unknown characters,
    0 before the last state reset. See `input_gradients` (and its `trace`)."""
    return np.linalg.norm(input_gradients(pm, ids, j, trace), axis=1)
