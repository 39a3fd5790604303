"""What every recurrent cell shares, so that a cell's own file holds only its equations: the
parameter table, the readout, the start and end of `loss_and_grads`, the gradient profile's
bookkeeping, state resets, and the forward loops' speed tricks, each named once.

Shapes: B streams (batch), T timesteps (one BPTT window), H hidden units, V characters, G gate
blocks (RNN 1, GRU 3, LSTM 4). Inside a window arrays are time-major, (T, B, ...), so a step's
slice is contiguous for the matmul. Parameters are a plain `dict[str, ndarray]`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat

import numpy as np

Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]  # (h,) for RNN and GRU, (h, c) for LSTM; each (B, H)

LN2 = math.log(2)  # nats per bit: a loss in nats / LN2 is in bits


def last_ratio(grad_last_t: np.ndarray) -> float:
    """grad_last_t[1] / grad_last_t[T] of a `(T,)` profile: how much of the last step's loss
    gradient survives T-1 steps back. Far below 1 is vanishing, far above is exploding."""
    end = float(grad_last_t[-1])
    return float(grad_last_t[0]) / end if end > 0 else float("nan")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class GradProfile:
    """How strongly the gradient reaches each step of one BPTT window, averaged over streams.

    Index 0 is the oldest step of the window (t = 1), index T-1 the newest (t = T).
    Both are gradients of one stream's own losses, each step's loss counted once, so they share
    one scale: l_bT is one of the T terms of S_b, and at t = T, where no other term reaches,
    grad_t equals grad_last_t. Per stream, so neither depends on the batch size.
    """

    grad_t: np.ndarray  # (T,) mean_b ||dS_b/dh_t||, S_b = the sum of the stream's T losses
    grad_last_t: np.ndarray  # (T,) mean_b ||dl_bT/dh_t||, l_bT = the stream's loss at step T alone
    cell_grad_t: np.ndarray | None = None  # (T,) mean_b ||dS_b/dc_t||, LSTM only

    @property
    def last_ratio(self) -> float:
        """See `last_ratio`."""
        return last_ratio(self.grad_last_t)


@dataclass(frozen=True)
class LossAndGrads:
    """The result of one forward and backward pass over a window."""

    loss: float  # mean cross-entropy over the B*T predictions, nats/char
    grads: Params  # d<name> for every parameter, same shapes as the parameters
    state: State  # the state after the last step, to carry into the next window
    profile: GradProfile | None  # None when the caller did not ask for it


def cross_entropy(logits: np.ndarray, Y: np.ndarray) -> float:
    """Mean cross-entropy of `logits: (..., V)` against targets `Y: (...)`, nats; no gradient."""
    z = logits - logits.max(axis=-1, keepdims=True)  # shift for a safe exp
    logp_y = np.take_along_axis(z, Y[..., None], axis=-1) - np.log(np.exp(z).sum(-1, keepdims=True))
    return -float(logp_y.mean())


def softmax_xent(logits: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of `logits: (..., V)` against targets `Y: (...)` (N predictions),
    and dlogits: (..., V) = d(mean loss)/d(logits), written over `logits` (C-contiguous; the
    caller's scratch). Computed through log-softmax, so large logits neither overflow nor give
    log(0)."""
    N, V = Y.size, logits.shape[-1]  # predictions averaged over, characters
    z = logits.reshape(N, V)  # a view: one row per prediction
    z -= z.max(axis=1, keepdims=True)  # softmax is unchanged, exp cannot overflow
    at_y = np.arange(N) * V + Y.reshape(-1)  # flat index of each target's entry
    z_y = z.reshape(-1)[at_y]  # (N,) the target's shifted logit
    np.exp(z, out=z)  # exp(z)
    sumexp = z.sum(axis=1)  # (N,)
    loss = float(np.log(sumexp).mean() - z_y.mean())  # mean of log sumexp - z_y = -log p(y)
    z *= (1 / (sumexp * N))[:, None]  # p / N, p = softmax probabilities
    z.reshape(-1)[at_y] -= 1 / N  # d(mean)/d(logits) = (p - onehot(y)) / N
    return loss, logits


def logits_of(params: Params, h: np.ndarray) -> np.ndarray:
    """The readout's forward pass alone: y = W_hy h + b_y, logits `(..., V)` for `h: (..., H)`."""
    return h @ params["Why"].T + params["by"]


def readout(
    params: Params, hs_out: np.ndarray, Yt: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The output layer shared by every cell, forward and backward over a whole window.

    hs_out: (T, B, H) hidden states h_1..h_T; Yt: (T, B) target ids. Returns the mean loss,
    dWhy: (V, H), dby: (V,) and dh_out: (T, B, H), the gradient reaching each h_t through
    its own output y_t alone (the recurrence adds the rest).
    """
    Why = params["Why"]
    T, B, H = hs_out.shape
    h_out = hs_out.reshape(T * B, H)  # one row per prediction
    logits = h_out @ Why.T  # (T*B, V): W_hy h_t
    logits += params["by"]  # y_t = W_hy h_t + b_y
    loss, dlogits = softmax_xent(logits, Yt)  # dlogits: (T*B, V), over the logits
    dWhy = dlogits.T @ h_out  # (V, H): sum_t dy_t h_t^T
    dby = dlogits.sum(axis=0)  # (V,)
    dh_out = (dlogits @ Why).reshape(T, B, H)  # W_hy^T dy_t
    return loss, dWhy, dby, dh_out


def squared_norms(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sum_h x[..., h]^2 of `x: (..., H)`, shape (...), into `out` if given: np.vecdot where
    numpy has it (2.0 on), about twice as fast as the einsum it replaces, the fallback."""
    if _vecdot is None:
        return np.einsum("...h,...h->...", x, x, out=out)
    return _vecdot(x, x, out=out)


_vecdot = getattr(np, "vecdot", None)  # the ufunc sum_h a_h b_h (numpy >= 2.0), or None


def profile_from(dh_sq: np.ndarray, dc_sq: np.ndarray | None = None, n: int = 1) -> GradProfile:
    """Reduce per-step squared gradient norms (time-major) to a `GradProfile`.

    dh_sq: (T, 2, B): ||dL/dh_t||^2 of each stream, [:, 0] for the mean loss L over all B*T
    predictions, [:, 1] for l_bT, the stream's loss at the window's last step. dc_sq: (T, B)
    (||dL/dc_t||^2) or None. `n` = B*T rescales the mean loss's gradients to those of S_b, the
    sum of stream b's own T losses: L = sum_b S_b / (B*T), and h_t of stream b feeds S_b
    alone. A backward loop writes the squares while each step's gradients are in cache."""
    norms = np.sqrt(dh_sq)  # (T, 2, B) per-stream norms
    mean = norms.mean(axis=2, dtype=np.float64)  # (T, 2): average over streams
    cell = None
    if dc_sq is not None:
        c_norms = np.sqrt(dc_sq)  # (T, B)
        cell = _frozen(c_norms.mean(axis=1, dtype=np.float64) * n)
    return GradProfile(
        grad_t=_frozen(mean[:, 0] * n),
        grad_last_t=_frozen(mean[:, 1].copy()),
        cell_grad_t=cell,
    )


def add_output_grad(dh: np.ndarray, dh_out_t: np.ndarray, seed_last: bool, n: int) -> None:
    """The profile's bookkeeping at one step t of a backward loop, in place. dh: (k, B, H)
    holds what came back from step t+1; row 0 (the mean loss L) gets step t's own output
    gradient dh_out_t: (B, H). Row 1, only when profiling (k = 2), follows l_bT, stream b's
    loss at the window's last step alone: with `seed_last` (t = T) it starts as dl_bT/dh_T =
    n * dh_out_T, n = B*T undoing the mean's 1/(B*T); earlier, l_bT adds nothing to it."""
    dh[0] += dh_out_t
    if seed_last:
        np.multiply(dh_out_t, n, out=dh[1])


def output_steps(dh_out: np.ndarray) -> np.ndarray:
    """(T,) bool: the steps whose output gradient `dh_out[t]: (B, H)` is not all zero. Looking
    back from one character gives a gradient to the last output alone; a backward loop skips
    adding the other steps' zeros (exact: adding 0 changes nothing). A nonzero first entry
    settles a step at once (in training every step has one); only the others are scanned."""
    rows = dh_out.reshape(dh_out.shape[0], -1)  # (T, B*H)
    has = rows[:, 0] != 0
    rest = np.flatnonzero(~has)  # steps still undecided
    if len(rest):
        has[rest] = rows[rest].any(axis=1)
    return has


def power_iteration(W: np.ndarray, v: np.ndarray, iters: int = 1) -> tuple[float, np.ndarray]:
    """Largest singular value of `W: (H, H)` by power iteration on W^T W, warm-started from
    `v: (H,)`. Called once per training step with the previous `v`, one iteration tracks the
    slowly changing weights. Returns (sigma, v)."""
    sigma = 0.0
    for _ in range(iters):
        u = W @ v  # stretch v by W
        sigma = float(np.linalg.norm(u))  # ||W v|| with ||v|| = 1: a lower bound that converges
        w = W.T @ u  # W^T W v: the power step
        n = float(np.linalg.norm(w))
        if not (n > 0 and np.isfinite(n)):
            return sigma, v
        v = w / n
    return sigma, v


def keep_mask(reset: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """From `reset: (B, T)` bool (True: the state is zeroed before step t) to the time-major
    multiplier `keep: (T, B, 1)` that is 0 there and 1 elsewhere; None stays None."""
    if reset is None:
        return None
    return (~reset.T)[..., None].astype(dtype)


def padded(n: int, m: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised (n, m) array whose rows are 64 bytes apart more than m entries.

    numpy's transposed copy reads a column at a time; with a row stride that is a multiple of
    4 KiB (float32 rows of 1024, as the LSTM's 4H at H = 256) every read of a column lands in
    the same cache set, and the copy is several times slower (measured here: a (69, 1024)
    float32 array transposes 7 times faster padded, a (1024, 256) one 1.5 times)."""
    return np.empty((n, m + 64 // np.dtype(dtype).itemsize), dtype)[:, :m]


def transposed(a: np.ndarray, scale: np.ndarray | None = None, blocks: int = 1) -> np.ndarray:
    """Each of `blocks` row blocks of `a: (n, m)` transposed, as one C-ordered (blocks, m,
    n // blocks) copy (a.T as (1, m, n) for one block), a's rows multiplied by `scale: (n,)`
    first when given; read through a `padded` copy of `a` (one contiguous pass; see
    `padded`)."""
    rows = padded(*a.shape, a.dtype)
    if scale is None:
        np.copyto(rows, a)
    else:
        np.multiply(a, scale[:, None], out=rows)  # row i times scale[i]
    n, m = a.shape
    return np.ascontiguousarray(rows.reshape(blocks, n // blocks, m).transpose(0, 2, 1))


def scatter_rows(ids: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """sum of `rows: (N, W)` grouped by `ids: (N,)` into an (n, W) array: the gradient of an
    index lookup. The rows are gathered into id order in one pass, then each id's run is one
    contiguous np.add.reduce (`ByInput`): about twice as fast as gathering each id's rows
    apart, and several times faster than np.add.at. An id's rows are added in their order in
    `rows`, as np.add.at adds them."""
    by_id = ByInput.of(ids.reshape(1, -1))  # one "step" of N rows
    return by_id.sums(by_id.rows(rows), n)


@dataclass(frozen=True)
class ByInput:
    """A window's (t, b) rows grouped by input id, for dW_x, the gradient of the input lookup.

    A backward loop copies row 0's pre-activation gradients of each step out of its scratch
    anyway; copied straight to `at[t]` they come out grouped by id, and dW_x is one
    contiguous sum per id (gathering each id's rows afterwards cost more than the sums)."""

    order: np.ndarray  # (T*B,): grouped row r is time-major row order[r] = t*B + b
    at: np.ndarray  # (T, B): the grouped row of (t, b), the inverse of `order`
    ids: np.ndarray  # (n,): the distinct ids, ascending
    bounds: np.ndarray  # (n+1,): rows bounds[j]:bounds[j+1] have id ids[j]

    @classmethod
    def of(cls, Xt: np.ndarray) -> ByInput:
        """The grouping of ids `Xt: (T, B)`."""
        flat = Xt.reshape(-1)
        order = np.argsort(flat, kind="stable")  # group equal ids together, in time order
        at = np.empty_like(order)
        at[order] = np.arange(order.size)  # where each time-major row goes
        sorted_ids = flat[order]
        starts = np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1  # where a new id starts
        bounds = np.concatenate(([0], starts, [order.size]))
        return cls(order=order, at=at.reshape(Xt.shape), ids=sorted_ids[bounds[:-1]], bounds=bounds)

    def rows(self, x: np.ndarray) -> np.ndarray:
        """`x: (T, B, W)` as (T*B, W) rows in grouped order (a copy)."""
        return x.reshape(self.order.size, -1)[self.order]

    def sums(self, rows: np.ndarray, n: int) -> np.ndarray:
        """(n, W): row x = the sum of the grouped `rows: (T*B, W)` whose id is x (`padded`:
        the caller transposes it)."""
        out = padded(n, rows.shape[1], rows.dtype)
        out[...] = 0
        b = self.bounds.tolist()
        for x, lo, hi in zip(self.ids.tolist(), b[:-1], b[1:], strict=True):
            np.add.reduce(rows[lo:hi], axis=0, out=out[x])  # one id's rows, contiguous
        return out


def sum_outer(d: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum over t and b of d_tb x_tb^T: the gradient of a weight W in `W x` that got the
    pre-activation gradients `d: (T, B, G*H)` (or (T, B, G, H)) from inputs `x: (T, B, H)`;
    either may come as (T*B, ...) rows, in the same order."""
    H = x.shape[-1]
    n = x.size // H  # T*B rows
    return d.reshape(n, -1).T @ x.reshape(n, H)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) computed as (1 + tanh(x/2)) / 2: no overflow for any |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def sigmoid_of_negated(s: np.ndarray, one: np.ndarray) -> None:
    """In place: `s` holds -a and becomes sigmoid(a) = 1 / (1 + exp(-a)).

    A cell's sigmoid gates are the leading blocks of one pre-activation array; with their
    weights negated beforehand (`Cell.loop_weights`, exact in floating point) the loop gets
    -a there and finishes the gates with one exp, one add and one divide. It is also the
    accurate form: (1 + tanh(a/2)) / 2 cancels where tanh is near -1, and in float32 its
    relative error reached 3 (against 2e-7 here) over a million gates a ~ N(0, 16). On the
    first development machine it was also 40% cheaper; on the AVX-512 one that followed,
    where numpy's float32 tanh is faster than its exp, the tanh form would save 0.18 ms of a
    34 ms LSTM step at H=256, B=32, T=32. exp(-a) overflows to inf for a < -88 (float32),
    and 1 / (1 + inf) = 0 is the exact limit: call it under np.errstate(over="ignore"). A loop
    passes `one` as a `Cell.scalar`: a ufunc converts a Python float on every call."""
    np.exp(s, out=s)  # exp(-a), +inf for a far below 0
    s += one  # 1 + exp(-a)
    np.divide(one, s, out=s)  # sigmoid(a), in [0, 1]


def dtanh_into(y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh'(a) = 1 - y^2 written with y = tanh(a), into `out` (y's shape): two passes, no
    temporary."""
    np.multiply(y, y, out=out)  # y^2
    return np.subtract(1, out, out=out)  # 1 - y^2


def gate_inputs(table: np.ndarray, Xt: np.ndarray, G: int) -> np.ndarray:
    """W_x x_t + b of every step, gate-major: gm: (G, T, B, H), gm[k, t, b] = block k of
    `table[Xt[t, b]]` for `table: (V, G*H)` (`Cell.loop_weights`) and ids `Xt: (T, B)`.

    One np.take writing straight into the result (mode "clip" skips the buffered bounds check;
    ids come from the vocabulary, < V). Gate-major, each gate's window is one contiguous
    (T, B, H) block and each step's G blocks are contiguous for all streams."""
    V, T, B = table.shape[0], *Xt.shape
    gm = np.empty((G, T, B, table.shape[1] // G), table.dtype)
    blocks = table.reshape(V, G, -1).transpose(1, 0, 2)  # (G, V, H): block k of every row
    np.take(blocks, Xt, axis=1, out=gm, mode="clip")
    return gm


def each_step(
    a: np.ndarray | None, T: int, newest_first: bool = False
) -> Iterable[np.ndarray | None]:
    """What a loop zips with its T steps for an optional window array `a: (T, ...)` (the keep
    mask, the local derivatives, the profile's norms): a[t], or None at every step; from
    t = T - 1 down with `newest_first`, as the backward loops go."""
    if a is None:
        return repeat(None, T)
    return a[::-1] if newest_first else a


@dataclass(frozen=True)
class Trace:
    """What a window's forward pass keeps for the backward pass, time-major. Cells with more
    to keep (gates, the LSTM's cell) subclass it."""

    hs: np.ndarray  # (T+1, B, H): hs[0] = h_0, hs[t] = h_t
    hprev: np.ndarray  # (T, B, H): h_{t-1} as step t read it, 0 after a reset
    keep: np.ndarray | None  # (T, B, 1): 0 where the state was reset before step t, or None

    def final_state(self) -> State:  # the state after step T, copied out of the window
        return (self.hs[-1].copy(),)


@dataclass(frozen=True)
class Backward:
    """What a cell's backward loop hands back to `Cell.loss_and_grads`."""

    d_in: np.ndarray  # (T, B, G*H) or (T, B, G, H): dL/d(W_x x_t + b), every step; with a
    # `ByInput`, its (T*B, G*H) rows in that grouped order instead
    dWh: np.ndarray | None  # (G*H, H): dL/dW_h; None when the caller wants no weight gradient
    dh_sq: np.ndarray | None  # (T, 2, B): ||dL/dh_t||^2, rows as in `add_output_grad`; None
    # without the profile
    dc_sq: np.ndarray | None = None  # (T, B): ||dL/dc_t||^2 (LSTM, with the profile)


class Cell(ABC):
    """A recurrent character model: embedding by index lookup, a recurrent cell, a linear readout.

    Parameters: `names` = (W_x, W_h, b), shapes (G*H, V), (G*H, H), (G*H,) with G gate blocks
    stacked in a fixed order, and the readout Why (V, H), by (V,). Subclasses give the cell's
    equations: `_run` (forward over a window), `_backward` (BPTT) and `step`."""

    name: str = "?"
    recurrent: str | None = None  # the (H, H) recurrent matrix whose spectral norm is shown
    names: tuple[str, str, str] = ("Wx", "Wh", "b")  # input weights, recurrent weights, bias
    gates: int = 1  # G, gate blocks stacked in W_x, W_h and b
    sigmoid_gates: int = 0  # how many of the leading blocks are sigmoid gates
    n_state: int = 1  # how many (B, H) arrays make up the state
    # Whether training has the backward loop write d_in grouped by input id (`ByInput`): it
    # pays where d_in's rows are wide (the LSTM's 4H); elsewhere grouping h_{t-1} for dW_h
    # costs about what it saves.
    group_inputs: bool = False
    # Whether the forward loop writes each step's W_h h_{t-1} into a window-sized array it
    # keeps (the RNN's h_t, the GRU's U h_{t-1}) or into one scratch reused every step; the
    # benchmark's matmul bound writes its products where the loop does.
    keeps_products: bool = True

    def __init__(self, vocab_size: int, hidden: int, dtype: str | np.dtype = "float32") -> None:
        self.V = int(vocab_size)  # characters in the vocabulary
        self.H = int(hidden)  # hidden units
        self.dtype = np.dtype(dtype)  # float32 for speed, float64 for gradient checks

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every parameter, in a fixed order."""
        G, H, V = self.gates * self.H, self.H, self.V
        wx, wh, b = self.names
        return {wx: (G, V), wh: (G, H), b: (G,), "Why": (V, H), "by": (V,)}

    def init_params(
        self, rng: np.random.Generator, rec_gain: float = 1.0, forget_bias: float = 1.0
    ) -> Params:
        """Gaussian weights, zero biases. W_h has std rec_gain / sqrt(H): for the RNN's W_hh that
        is a spectral radius of about `rec_gain`. `forget_bias` is for a cell with a forget
        gate (the LSTM overrides this); the others have none and ignore it."""
        G, H, V = self.gates * self.H, self.H, self.V
        wx, wh, b = self.names
        p = {
            wx: rng.standard_normal((G, V)) * 0.1,  # input embedding: a column per character
            wh: rng.standard_normal((G, H)) * (rec_gain / np.sqrt(H)),  # recurrent weights
            b: np.zeros(G),
            "Why": rng.standard_normal((V, H)) * (1.0 / np.sqrt(H)),  # logits start near 0
            "by": np.zeros(V),
        }
        return {k: v.astype(self.dtype) for k, v in p.items()}

    def init_state(self, batch: int) -> State:
        """All-zero state for `batch` streams."""
        return tuple(np.zeros((batch, self.H), self.dtype) for _ in range(self.n_state))

    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def empty(self, *shape: int) -> np.ndarray:
        """An uninitialised array of the model's dtype, for results written with `out=`."""
        return np.empty(shape, self.dtype)

    def scalar(self, x: float) -> np.ndarray:
        """`x` as a 0-d array of the model's dtype: a ufunc takes it about twice as fast as a
        Python float, which it converts on every call (it counts in a one-stream loop)."""
        return np.array(x, self.dtype)

    def dh_rows(self, T: int, B: int, profile: bool) -> np.ndarray:
        """Two (k, B, H) buffers for dL/dh_t, taken in turn by a backward loop going from t = T
        down: step t reads buffer t % 2 and writes W_h^T da_t, the start of dL/dh_{t-1}, into
        the other. k = 2 when profiling (rows as in `add_output_grad`: one matmul per step
        carries both), else 1. Two buffers stay in cache where a window of them would not;
        the profile keeps each step's norms (`profile_from`), not the gradients."""
        dh = self.empty(2, 2 if profile else 1, B, self.H)
        dh[(T - 1) % 2] = 0  # no step follows the window
        return dh

    def loop_weights(self, params: Params) -> tuple[np.ndarray, np.ndarray]:
        """The weights as a forward loop reads them: table: (V, G*H), table[x] = W_x[:, x] + b
        (a row lookup, not a one-hot product; b added once per character), and WhT: (G, H, H),
        WhT[k] = (block k of W_h)^T, C-ordered. `h @ WhT` gives W_h h gate-major, (G, B, H),
        each gate's block contiguous for all streams, where the gated cells' loops want it
        (at H=256, B=32 the G products of (H, H) took less time than one of (H, G*H), and
        adding them into the gates less than the strided add from (B, G*H); for one stream, a
        500-character forward took 3-4% less at H=256 and 8% more at H=128); one stream's h @
        WhT is a third faster than on the transposed view. The sigmoid gates' columns of both
        are negated (exactly, in floating point), so the pre-activations come out as -a
        there: see `sigmoid_of_negated`."""
        wx, wh, b = self.names
        table = params[wx].T.copy()  # a copy always: .T of a (G*H, 1) W_x is contiguous already
        table += params[b]
        if not self.sigmoid_gates:
            return table, transposed(params[wh], blocks=self.gates)
        sign = np.ones((self.gates, self.H), self.dtype)
        sign[: self.sigmoid_gates] = -1
        table *= sign.reshape(-1)
        return table, transposed(params[wh], sign.reshape(-1), self.gates)

    def forward(
        self, params: Params, X: np.ndarray, state: State, reset: np.ndarray | None = None
    ) -> tuple[np.ndarray, State]:
        """Logits `(B, T, V)` for inputs `X: (B, T)` from `state`, and the state after step T.
        `reset: (B, T)` bool, if given, zeroes a stream's state before step t where True."""
        Xt, keep = np.ascontiguousarray(X.T), keep_mask(reset, self.dtype)
        trace = self._run(params, Xt, state, keep, backward=False)  # no gradient follows
        return logits_of(params, trace.hs[1:]).transpose(1, 0, 2), trace.final_state()

    def loss_and_grads(
        self,
        params: Params,
        X: np.ndarray,
        Y: np.ndarray,
        state: State,
        profile: bool = True,
        reset: np.ndarray | None = None,
    ) -> LossAndGrads:
        """Mean loss of predicting `Y: (B, T)` from `X: (B, T)`, exact BPTT over the window;
        `reset` as in `forward`. With `profile`, also the window's `GradProfile`."""
        B, T = X.shape
        Xt = np.ascontiguousarray(X.T)  # (T, B): time-major ids
        keep = keep_mask(reset, self.dtype)  # (T, B, 1): 0 where the state is reset, or None
        trace = self._run(params, Xt, state, keep)  # 1. forward through the window
        loss, dWhy, dby, dh_out = readout(params, trace.hs[1:], Y.T)  # 2. the output layer
        by_id = ByInput.of(Xt) if self.group_inputs else None  # see `group_inputs`
        back = self._backward(params, trace, dh_out, profile, by_id=by_id)  # 3. back in time
        assert back.dWh is not None
        # 4. The input side, a lookup plus a bias: dWx_rows: (V, G*H), row x sums d_in's rows
        # of input x; each row of d_in lands in one row of it, so db is its column sum.
        if by_id is None:
            dWx_rows = scatter_rows(Xt.reshape(-1), back.d_in.reshape(T * B, -1), self.V)
        else:
            dWx_rows = by_id.sums(back.d_in, self.V)
        db = dWx_rows.sum(axis=0)  # (G*H,)
        wx, wh, b = self.names
        dWx = np.ascontiguousarray(dWx_rows.T)  # (G*H, V)
        grads = {wx: dWx, wh: back.dWh, b: db, "Why": dWhy, "by": dby}
        sq = back.dh_sq  # the profile's squared norms; None when not profiling
        prof = None if sq is None else profile_from(sq, back.dc_sq, n=B * T)
        return LossAndGrads(loss=loss, grads=grads, state=trace.final_state(), profile=prof)

    def loss(
        self,
        params: Params,
        X: np.ndarray,
        Y: np.ndarray,
        state: State,
        reset: np.ndarray | None = None,
    ) -> float:
        """Mean cross-entropy over the window without gradients (forward only)."""
        logits, _ = self.forward(params, X, state, reset)
        return cross_entropy(logits, Y)

    @abstractmethod
    def _run(
        self,
        params: Params,
        Xt: np.ndarray,
        state: State,
        keep: np.ndarray | None,
        backward: bool = True,
    ) -> Trace:
        """The forward pass over a window: `Xt: (T, B)` ids, `keep: (T, B, 1)` or None. A
        trace made with `backward=False` is for the forward values alone: `_backward` may
        refuse it."""

    @abstractmethod
    def _backward(
        self,
        params: Params,
        trace: Trace,
        dh_out: np.ndarray,
        profile: bool,
        weights: bool = True,
        by_id: ByInput | None = None,
    ) -> Backward:
        """BPTT over the window from `dh_out: (T, B, H)`, each h_t's gradient from y_t alone.
        Without `weights`, dW_h is not computed (looking back needs the inputs' gradients only).
        With `by_id`, d_in comes back as rows grouped by input id (see `ByInput`)."""

    @abstractmethod
    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One step for sampling: logits `(B, V)` for inputs `x: (B,)`, and the new state."""
