"""Inside the cell (engine): the recurrent matrix's spectrum and the gates' saturation."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.engine.config import Config
from rnn_tui.engine.inside import (
    HIGH,
    LOW,
    N_BINS,
    cell_spectrum,
    gate_stats,
    recurrent_matrix,
    spectrum,
)
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.probe import probe_model

VOCAB = tuple("abcdefgh .")
H = 6
TEXT = "abc defg. hhab cage. fade bead gag." * 4


def rotation_block(angle: float, scale: float, extra: tuple[float, ...]) -> np.ndarray:
    """(H, H): a scaled 2-d rotation (eigenvalues scale * e^{+-i angle}) and a diagonal."""
    M = np.zeros((H, H))
    c, s = np.cos(angle), np.sin(angle)
    M[:2, :2] = scale * np.array([[c, -s], [s, c]])  # rotation by `angle`, stretched
    M[2:, 2:] = np.diag(extra)  # real eigenvalues, one per diagonal entry
    return M


@pytest.mark.parametrize("cell_name, block", [("rnn", 0), ("lstm", 3), ("gru", 2)])
def test_spectrum_reads_the_candidate_block(cell_name: str, block: int) -> None:
    """If this fails, the spectrum view shows the eigenvalues of the wrong matrix (a gate's
    block instead of the candidate state's), or wrong eigenvalues, radius or norm."""
    cell = make_cell(cell_name, len(VOCAB), H, "float64")
    params = cell.init_params(np.random.default_rng(0))
    M = rotation_block(0.7, 1.3, (0.5, -0.2, 0.9, -1.1))
    wh = cell.names[1]
    params[wh][block * H : (block + 1) * H] = M  # the candidate's block; the others random
    spec = cell_spectrum(params, cell_name)
    want = np.linalg.eigvals(M)
    got = np.sort_complex(spec.eigenvalues)
    assert np.abs(got - np.sort_complex(want)).max() < 1e-12
    # Known by construction: the rotation's 1.3 e^{+-0.7i}, then the diagonal.
    known = np.sort_complex(
        np.array([1.3 * np.exp(0.7j), 1.3 * np.exp(-0.7j), 0.5, -0.2, 0.9, -1.1])
    )
    assert np.abs(got - known).max() < 1e-12
    assert abs(spec.radius - 1.3) < 1e-12
    assert abs(spec.norm - 1.3) < 1e-12  # M is normal: the norm is the radius
    assert spec.outside == 3  # the rotation pair and -1.1


def test_spectral_norm_exceeds_radius_for_a_shear() -> None:
    """If this fails, the pane's spectral norm is not the largest singular value (for a
    non-normal matrix the two numbers differ, and the pane shows both)."""
    W = np.array([[0.5, 3.0], [0.0, 0.5]])  # eigenvalues 0.5, 0.5; stretches far more
    spec = spectrum(W)
    assert abs(spec.radius - 0.5) < 1e-6
    sigma = np.sqrt(np.linalg.eigvalsh(W.T @ W).max())  # sqrt of W^T W's largest eigenvalue
    assert abs(spec.norm - sigma) < 1e-12
    assert spec.norm > 3.0


def test_recurrent_matrix_is_a_copy() -> None:
    """If this fails, computing the spectrum could change the weights a lane samples with."""
    cell = make_cell("lstm", len(VOCAB), H)
    params = cell.init_params(np.random.default_rng(1))
    W = recurrent_matrix(params, "lstm")
    W[:] = 7.0
    assert not (params["Wh"] == 7.0).any()


def test_spectrum_of_non_finite_weights_is_nan() -> None:
    """If this fails, a diverged run's weights crash the spectrum view's worker."""
    W = np.eye(3)
    W[1, 2] = np.inf
    spec = spectrum(W)
    assert np.isnan(spec.radius) and np.isnan(spec.norm)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def hand_gates(cell_name: str, params: dict, ids: list[int]) -> np.ndarray:
    """(T, G_sigmoid, H): the sigmoid gates at each step, by the cell's equations written out
    here one step at a time (no code shared with the cell's loops)."""
    Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
    h, c = np.zeros(H), np.zeros(H)
    out = []
    for x in ids:
        if cell_name == "lstm":
            a = Wx[:, x] + Wh @ h + b  # (4H,) pre-activations, gate order i, f, o, g
            i, f, o = (sigmoid(a[k * H : (k + 1) * H]) for k in range(3))
            g = np.tanh(a[3 * H :])
            c = f * c + i * g  # cell state
            h = o * np.tanh(c)
            out.append(np.stack([i, f, o]))
        else:
            ax, uh = Wx[:, x] + b, Wh @ h  # (3H,) each, gate order z, r, n
            z = sigmoid(ax[:H] + uh[:H])
            r = sigmoid(ax[H : 2 * H] + uh[H : 2 * H])
            n = np.tanh(ax[2 * H :] + r * uh[2 * H :])
            h = (1 - z) * n + z * h
            out.append(np.stack([z, r]))
    return np.array(out)


@pytest.mark.parametrize("cell_name", ["lstm", "gru"])
def test_gate_saturation_matches_a_direct_count(cell_name: str) -> None:
    """If this fails, the gates view's shares of nearly shut (< 0.1) and nearly open (> 0.9)
    gates, or its histogram, are not what the model's gates really did over the passage."""
    cell = make_cell(cell_name, len(VOCAB), H, "float64")
    params = cell.init_params(np.random.default_rng(2), rec_gain=3.0)
    params["Wx"] *= 30  # large inputs: many gates saturate, at both ends
    config = Config(cell=cell_name, hidden=H, dtype="float64")
    pm = probe_model(params, config, VOCAB)
    stats = gate_stats(pm, TEXT + "€")  # an unknown character is skipped
    ids = [VOCAB.index(ch) for ch in TEXT]
    gates = hand_gates(cell_name, params, ids)  # (T, G, H)
    assert stats.steps == len(TEXT)
    assert [g.name for g in stats.gates] == (["i", "f", "o"] if cell_name == "lstm" else ["z", "r"])
    n = len(TEXT) * H
    saw_both = False
    for k, g in enumerate(stats.gates):
        v = gates[:, k].ravel()
        low, high = np.count_nonzero(v < LOW) / n, np.count_nonzero(v > HIGH) / n
        assert abs(g.low - low) < 1e-12 and abs(g.high - high) < 1e-12
        saw_both |= low > 0.05 and high > 0.05
        bins = np.minimum((v * N_BINS).astype(int), N_BINS - 1)  # bin of each value
        hist = np.bincount(bins, minlength=N_BINS) / n
        assert np.abs(g.hist - hist).max() < 1e-12
        assert abs(g.hist.sum() - 1) < 1e-12
        assert abs(g.mean - v.mean()) < 1e-12
    assert saw_both  # the case checks something: some gate saturates at both ends


def test_a_vanilla_rnn_has_no_gates() -> None:
    """If this fails, the gates view invents gates for the vanilla RNN."""
    cell = make_cell("rnn", len(VOCAB), H)
    pm = probe_model(cell.init_params(np.random.default_rng(3)), Config(hidden=H), VOCAB)
    assert gate_stats(pm, TEXT).gates == ()
