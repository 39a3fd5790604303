"""The vanilla (Elman) RNN, batched, with exact truncated BPTT.

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      x_t one-hot, so W_xh x_t is column x_t of W_xh
    y_t = W_hy h_t + b_y                           logits over the next character
    L   = mean_t,b  -log softmax(y_t)[target]      nats per character

Arrays hold one row per stream: h: (B, H), so W_hh h is written `h @ Whh.T`. Inside a window
the arrays are time-major, (T, B, H), so each step's slice is contiguous for the matmul.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.engine.model.base import (
    Cell,
    LossAndGrads,
    Params,
    State,
    keep_mask,
    profile_from,
    readout,
    scatter_rows,
)


class RNN(Cell):
    """Vanilla tanh RNN. Parameters: Wxh (H, V), Whh (H, H), bh (H,), Why (V, H), by (V,)."""

    name = "rnn"
    recurrent = "Whh"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        H, V = self.H, self.V
        return {"Wxh": (H, V), "Whh": (H, H), "bh": (H,), "Why": (V, H), "by": (V,)}

    def init_params(self, rng: np.random.Generator, rec_gain: float = 1.0) -> Params:
        """Gaussian weights; Whh has spectral radius about `rec_gain` (std rec_gain / sqrt(H))."""
        H, V = self.H, self.V
        p = {
            "Wxh": rng.standard_normal((H, V)) * 0.1,  # input embedding: a column per character
            "Whh": rng.standard_normal((H, H)) * (rec_gain / np.sqrt(H)),  # radius ~ rec_gain
            "bh": np.zeros(H),
            "Why": rng.standard_normal((V, H)) * (1.0 / np.sqrt(H)),  # logits start near 0
            "by": np.zeros(V),
        }
        return {k: v.astype(self.dtype) for k, v in p.items()}

    def _run(
        self, params: Params, Xt: np.ndarray, h: np.ndarray, keep: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hidden states for a window, time-major. Xt: (T, B) ids; keep: (T, B, 1) or None,
        0 where the state is reset before step t. Returns hs: (T+1, B, H) with hs[0] = h_0 and
        hs[t] = h_t, and hprev: (T, B, H), the state each step actually read (reset = 0)."""
        T, B = Xt.shape
        hs = np.empty((T + 1, B, self.H), self.dtype)
        hs[0] = h
        lookup = np.ascontiguousarray(params["Wxh"].T)  # (V, H): row x = column x of W_xh
        xin = lookup[Xt]  # (T, B, H): W_xh x_t for every step, by index lookup
        xin += params["bh"]  # + b_h
        WhhT = params["Whh"].T
        for t in range(T):
            prev = hs[t] if keep is None else hs[t] * keep[t]  # h_{t-1}, or 0 after a reset
            z = np.matmul(prev, WhhT, out=hs[t + 1])  # W_hh h_{t-1}
            z += xin[t]  # + W_xh x_t + b_h
            np.tanh(z, out=z)  # h_t = tanh(...)
        return hs, (hs[:-1] if keep is None else hs[:-1] * keep)

    def forward(
        self, params: Params, X: np.ndarray, state: State, reset: np.ndarray | None = None
    ) -> tuple[np.ndarray, State]:
        hs, _ = self._run(params, X.T, state[0], keep_mask(reset, self.dtype))
        logits = hs[1:] @ params["Why"].T + params["by"]  # (T, B, V): y_t = W_hy h_t + b_y
        return logits.transpose(1, 0, 2), (hs[-1].copy(),)

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        h = np.tanh(params["Wxh"].T[x] + state[0] @ params["Whh"].T + params["bh"])  # (B, H)
        return h @ params["Why"].T + params["by"], (h,)  # logits (B, V)

    def loss_and_grads(
        self,
        params: Params,
        X: np.ndarray,
        Y: np.ndarray,
        state: State,
        profile: bool = True,
        reset: np.ndarray | None = None,
    ) -> LossAndGrads:
        Whh = params["Whh"]
        B, T = X.shape
        H, V = self.H, self.V
        Xt = np.ascontiguousarray(X.T)  # (T, B): time-major ids
        keep = keep_mask(reset, self.dtype)  # (T, B, 1): 0 where the state is reset, or None

        # 1. Forward through the window.
        hs, hprev = self._run(params, Xt, state[0], keep)  # (T+1, B, H), (T, B, H)

        # 2. The readout, forward and backward, every step at once.
        loss, dWhy, dby, dh_out = readout(params, hs[1:], Y.T)  # dh_out: (T, B, H)
        dtanh = 1 - hs[1:] ** 2  # (T, B, H): tanh'(z_t) = 1 - h_t^2

        # 3. Backward through time. Row 0 of `dh` carries dL/dh_t (the mean loss); row 1, when
        #    profiling, carries dl_T/dh_t (the last step's per-stream loss). Stacking them lets
        #    one matmul per step move both back through W_hh.
        k = 2 if profile else 1
        dh = np.zeros((k, B, H), self.dtype)
        dh_all = np.empty((T, k, B, H), self.dtype) if profile else None
        dz_all = np.empty((T, B, H), self.dtype)  # d/d(pre-activation) at every step
        dz = np.empty((k, B, H), self.dtype)
        for t in range(T - 1, -1, -1):
            dh[0] += dh_out[t]  # add the gradient from step t's own output
            if profile and t == T - 1:
                np.multiply(dh_out[t], B * T, out=dh[1])  # dl_T/dh_T: undo the mean's 1/(B*T)
            if dh_all is not None:
                dh_all[t] = dh
            np.multiply(dtanh[t], dh, out=dz)  # backprop through tanh
            dz_all[t] = dz[0]
            dh = (dz.reshape(k * B, H) @ Whh).reshape(k, B, H)  # to h_{t-1}: W_hh^T dz
            if keep is not None:
                dh *= keep[t]  # a reset state received nothing from h_{t-1}

        # 4. Parameter gradients from all steps' pre-activation gradients at once.
        dz2 = dz_all.reshape(T * B, H)
        dWhh = dz2.T @ hprev.reshape(T * B, H)  # (H, H): sum_t dz_t h_{t-1}^T
        dbh = dz2.sum(axis=0)  # (H,)
        dWxh = scatter_rows(Xt.reshape(-1), dz2, V).T  # column x_t of W_xh gets dz_t
        grads = {"Wxh": np.ascontiguousarray(dWxh), "Whh": dWhh, "bh": dbh, "Why": dWhy, "by": dby}
        prof = profile_from(dh_all, n_per_stream=B) if dh_all is not None else None
        return LossAndGrads(loss=loss, grads=grads, state=(hs[-1].copy(),), profile=prof)
