"""What every recurrent cell shares: the output layer's loss, the gradient profile, the interface.

Shapes throughout: B streams (batch), T timesteps (one BPTT window), H hidden units,
V characters in the vocabulary. Parameters live in a plain `dict[str, ndarray]`, so copying
them for a sampler, saving them, or checking their gradients needs nothing special.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]  # (h,) for RNN and GRU, (h, c) for LSTM; each (B, H)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class GradProfile:
    """How strongly the gradient reaches each step of one BPTT window, averaged over streams.

    Index 0 is the oldest step of the window (t = 1), index T-1 the newest (t = T).
    Both are per stream and per character, so they do not depend on the batch size.
    """

    grad_t: np.ndarray  # (T,) mean_b ||dL_b/dh_t||, L_b = the stream's mean loss over the window
    grad_last_t: np.ndarray  # (T,) mean_b ||dl_bT/dh_t||, l_bT = the stream's loss at step T alone
    cell_grad_t: np.ndarray | None = None  # (T,) mean_b ||dL_b/dc_t||, LSTM only

    @property
    def last_ratio(self) -> float:
        """grad_last_t[1] / grad_last_t[T]: far below 1 is vanishing, far above is exploding."""
        end = float(self.grad_last_t[-1])
        return float(self.grad_last_t[0]) / end if end > 0 else float("nan")


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
    """Mean cross-entropy of `logits: (..., V)` against targets `Y: (...)`, and its gradient
    (the leading axes are (T, B) when called by `readout`: only their product N matters).

    Computed through log-softmax, so large logits neither overflow nor give log(0).
    Returns (loss, dlogits) with dlogits: (..., V) = d(mean loss)/d(logits).
    """
    N = Y.size  # predictions averaged over
    z = logits - logits.max(
        axis=-1, keepdims=True
    )  # shift: softmax is unchanged, exp cannot overflow
    expz = np.exp(z)  # (..., V)
    sumexp = expz.sum(axis=-1, keepdims=True)  # (..., 1)
    logp_y = np.take_along_axis(z, Y[..., None], axis=-1) - np.log(sumexp)  # log p(target)
    loss = -float(logp_y.mean())  # mean negative log-likelihood, nats/char
    dlogits = expz / sumexp  # softmax probabilities p
    np.put_along_axis(dlogits, Y[..., None], np.take_along_axis(dlogits, Y[..., None], -1) - 1, -1)
    dlogits /= N  # d(mean)/d(logits) = (p - onehot(y)) / N
    return loss, dlogits


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
    V = Why.shape[0]
    h_out = hs_out.reshape(T * B, H)  # one row per prediction
    logits = (h_out @ Why.T + params["by"]).reshape(T, B, V)  # y_t = W_hy h_t + b_y
    loss, dlogits = softmax_xent(logits, Yt)  # dlogits: (T, B, V)
    dlogits2 = dlogits.reshape(T * B, V)
    dWhy = dlogits2.T @ h_out  # (V, H): sum_t dy_t h_t^T
    dby = dlogits2.sum(axis=0)  # (V,)
    dh_out = (dlogits2 @ Why).reshape(T, B, H)  # W_hy^T dy_t
    return loss, dWhy, dby, dh_out


def profile_from(
    dh_all: np.ndarray, dc_all: np.ndarray | None = None, n_per_stream: int = 1
) -> GradProfile:
    """Reduce stacked per-step gradients (time-major) to a `GradProfile`.

    dh_all: (T, 2, B, H): [:, 0] = dL/dh_t of the mean loss, [:, 1] = dl_bT/dh_t of the last
    step's per-stream loss. dc_all: (T, B, H) or None. `n_per_stream` = B rescales [:, 0] from
    the mean over all streams to one stream's mean loss.
    """
    norms = np.sqrt(np.einsum("tkbh,tkbh->tkb", dh_all, dh_all))  # (T, 2, B) per-stream norms
    mean = norms.mean(axis=2, dtype=np.float64)  # (T, 2): average over streams
    cell = None
    if dc_all is not None:
        c_norms = np.sqrt(np.einsum("tbh,tbh->tb", dc_all, dc_all))  # (T, B)
        cell = _frozen(c_norms.mean(axis=1, dtype=np.float64) * n_per_stream)
    return GradProfile(
        grad_t=_frozen(mean[:, 0] * n_per_stream),
        grad_last_t=_frozen(mean[:, 1].copy()),
        cell_grad_t=cell,
    )


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


def scatter_rows(ids: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """sum of `rows: (N, W)` grouped by `ids: (N,)` into an (n, W) array: the gradient of an
    index lookup. Sorting once, then one contiguous np.add.reduce per distinct id, is several
    times faster than np.add.at (and than np.add.reduceat along axis 0 on wide rows)."""
    order = np.argsort(ids, kind="stable")  # group equal ids together
    sorted_ids = ids[order]
    bounds = np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1  # where a new id starts
    out = np.zeros((n, rows.shape[1]), rows.dtype)
    for run in np.split(order, bounds):  # the rows of one id
        np.add.reduce(rows[run], axis=0, out=out[ids[run[0]]])
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) computed as (1 + tanh(x/2)) / 2: no overflow for any |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Cell(ABC):
    """A recurrent character model: embedding by index lookup, a recurrent cell, a linear readout.

    Subclasses define the cell; this class owns the sizes and the dtype.
    """

    name: str = "?"
    recurrent: str | None = None  # the (H, H) recurrent matrix whose spectral norm is shown

    def __init__(self, vocab_size: int, hidden: int, dtype: str | np.dtype = "float32") -> None:
        self.V = int(vocab_size)  # characters in the vocabulary
        self.H = int(hidden)  # hidden units
        self.dtype = np.dtype(dtype)  # float32 for speed, float64 for gradient checks

    @abstractmethod
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every parameter, in a fixed order."""

    @abstractmethod
    def init_params(self, rng: np.random.Generator, rec_gain: float = 1.0) -> Params:
        """Fresh random parameters. `rec_gain` scales the recurrent weights."""

    @property
    def n_state(self) -> int:
        """How many (B, H) arrays make up the state."""
        return 1

    def init_state(self, batch: int) -> State:
        """All-zero state for `batch` streams."""
        return tuple(np.zeros((batch, self.H), self.dtype) for _ in range(self.n_state))

    @abstractmethod
    def forward(
        self, params: Params, X: np.ndarray, state: State, reset: np.ndarray | None = None
    ) -> tuple[np.ndarray, State]:
        """Logits `(B, T, V)` for inputs `X: (B, T)` from `state`, and the state after step T.

        `reset: (B, T)` bool, if given, zeroes a stream's state before step t where True
        (used to start every line afresh)."""

    @abstractmethod
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
        `reset` as in `forward`."""

    @abstractmethod
    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One step for sampling: logits `(B, V)` for inputs `x: (B,)`, and the new state."""

    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

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
