"""Inside the cell: the recurrent matrix's eigenvalues, and how saturated the gates are.

Spectrum. Backpropagation through time multiplies the gradient by the recurrent matrix W
(transposed) once per step, so over k steps by (W^T)^k. Written with W's eigenvalues lambda_j,
a direction along eigenvector j is scaled by |lambda_j|^k: it grows when |lambda_j| > 1 and
fades when |lambda_j| < 1. (Each step also multiplies by the tanh slopes, at most 1, which
only shrinks it further.)

    rho(W)     = max_j |lambda_j|         spectral radius: the growth rate of W^k for large k
    ||W||_2    = sigma_max(W)             spectral norm: the most W stretches any one vector
    rho(W) <= ||W||_2                     always; equal for a symmetric (normal) W

For the vanilla RNN W is W_hh. For the LSTM and the GRU it is the recurrent block of the
candidate state, the part that plays W_hh's role: the LSTM's g block (gate order i, f, o, g:
rows 3H:4H of W_h) and the GRU's n block (gate order z, r, n: rows 2H:3H of W_h, U_n).

Gates. Over a passage read by the model (through the probe's forward pass, on a copy of the
weights), each sigmoid gate's activations s in [0, 1] are counted: the share below LOW (0.1,
nearly shut), above HIGH (0.9, nearly open), and a histogram on [0, 1], as in Karpathy, Johnson
and Fei-Fei, "Visualizing and Understanding Recurrent Networks" (2015). A saturated gate passes
or blocks rather than mixes; the LSTM's forget gate near 1 is what carries the cell state, and
its gradient, from one step to the next. The LSTM's g and the GRU's n are tanh candidates, not
gates, and are left out; the vanilla RNN has no gates.

Pure NumPy, no UI import: a UI calls it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.model import Params
from rnn_tui.engine.probe import ProbeModel, probe

LOW, HIGH = 0.1, 0.9  # a gate below LOW is nearly shut, above HIGH nearly open
N_BINS = 10  # histogram bins on [0, 1]
# cell -> (recurrent weight name, its block index in gate order) of the candidate state
RECURRENT_BLOCK = {"rnn": ("Whh", 0), "lstm": ("Wh", 3), "gru": ("Wh", 2)}
# cell -> its sigmoid gates, in gate order: the leading blocks of W_x, W_h and b
GATES = {"rnn": (), "lstm": ("i", "f", "o"), "gru": ("z", "r")}
GATE_WORDS = {"i": "input", "f": "forget", "o": "output", "z": "update", "r": "reset"}


def recurrent_matrix(params: Params, cell_name: str) -> np.ndarray:
    """W: (H, H), the recurrent matrix of `cell_name`'s candidate state, a float64 copy:
    W_hh for "rnn", the g block of W_h for "lstm", the n block (U_n) for "gru"."""
    name, block = RECURRENT_BLOCK[cell_name]
    Wh = np.asarray(params[name])  # (G*H, H)
    H = Wh.shape[1]
    return np.array(Wh[block * H : (block + 1) * H], dtype=np.float64)  # rows of the block


@dataclass(frozen=True)
class Spectrum:
    """The eigenvalues of a recurrent matrix W: (H, H) and the two numbers that sum them up;
    all NaN when W holds a NaN or an infinity."""

    eigenvalues: np.ndarray  # (H,) complex128, in no particular order
    radius: float  # max_j |lambda_j|, the spectral radius
    norm: float  # sigma_max(W), the spectral norm

    @property
    def outside(self) -> int:
        """How many eigenvalues lie outside the unit circle (|lambda| > 1)."""
        return int((np.abs(self.eigenvalues) > 1).sum())


def spectrum(W: np.ndarray) -> Spectrum:
    """Eigenvalues, spectral radius and spectral norm of `W: (H, H)`, in float64."""
    W = np.asarray(W, dtype=np.float64)
    H = W.shape[0]
    if not np.isfinite(W).all():  # eigvals would raise: say "unknown" instead
        nan = float("nan")
        return Spectrum(np.full(H, complex(nan, nan)), nan, nan)
    lam = np.linalg.eigvals(W).astype(np.complex128)  # (H,) roots of det(W - lambda I)
    radius = float(np.abs(lam).max()) if H else 0.0  # largest |lambda|
    norm = float(np.linalg.norm(W, 2)) if H else 0.0  # largest singular value
    return Spectrum(lam, radius, norm)


def cell_spectrum(params: Params, cell_name: str) -> Spectrum:
    """`spectrum` of `recurrent_matrix(params, cell_name)`."""
    return spectrum(recurrent_matrix(params, cell_name))


@dataclass(frozen=True)
class GateStat:
    """One gate's activations over a passage: N = T*H values in [0, 1]."""

    name: str  # "i", "f", "o" (LSTM), "z", "r" (GRU)
    low: float  # share of the values below LOW
    high: float  # share of the values above HIGH
    mean: float  # mean value
    hist: np.ndarray  # (N_BINS,) share of the values in each bin of [0, 1]; sums to 1

    @property
    def word(self) -> str:
        """The gate's name in words: "forget", "update", ..."""
        return GATE_WORDS.get(self.name, self.name)


@dataclass(frozen=True)
class GateStats:
    """Every sigmoid gate of a cell over one passage."""

    cell: str
    steps: int  # T, characters read
    gates: tuple[GateStat, ...]  # in gate order; () for the vanilla RNN


def gate_shares(names: tuple[str, ...], values: np.ndarray) -> tuple[GateStat, ...]:
    """Saturation and histogram of each gate. values: (N, len(names), H), gate k's activations
    at N steps in [:, k]."""
    out = []
    for k, name in enumerate(names):
        v = np.asarray(values[:, k], dtype=np.float64).ravel()  # (N*H,) gate k's activations
        n = max(v.size, 1)
        counts, _ = np.histogram(v, bins=N_BINS, range=(0.0, 1.0))  # (N_BINS,) per bin
        out.append(
            GateStat(
                name=name,
                low=float((v < LOW).sum() / n),  # nearly shut
                high=float((v > HIGH).sum() / n),  # nearly open
                mean=float(v.mean()) if v.size else float("nan"),
                hist=counts / n,  # shares, summing to 1
            )
        )
    return tuple(out)


def gate_stats(pm: ProbeModel, text: str) -> GateStats:
    """The gates of `pm`'s cell over `text`, read by the probe's forward pass from the zero
    state (characters outside the vocabulary skipped, resets as in training)."""
    names = GATES.get(pm.cell.name, ())
    if not names:
        return GateStats(pm.cell.name, 0, ())
    trace = probe(pm, text).trace
    if trace is None:  # no known character
        return GateStats(pm.cell.name, 0, gate_shares(names, np.zeros((0, len(names), 0))))
    gates = trace.gates  # type: ignore[attr-defined]  # (T, 1, G, H): sigmoid gates first
    values = gates[:, 0, : len(names)]  # (T, G_sigmoid, H)
    return GateStats(pm.cell.name, int(values.shape[0]), gate_shares(names, values))
