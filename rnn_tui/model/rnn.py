"""The vanilla (Elman) RNN, batched, with exact truncated BPTT.

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      x_t one-hot, so W_xh x_t is column x_t of W_xh
    y_t = W_hy h_t + b_y                           logits over the next character
    L   = mean_t,b  -log softmax(y_t)[target]      nats per character

Arrays hold one row per stream: h: (B, H), so W_hh h is written `h @ Whh.T`.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.model.base import Cell, LossAndGrads, Params, State, profile_from, softmax_xent


class RNN(Cell):
    """Vanilla tanh RNN. Parameters: Wxh (H, V), Whh (H, H), bh (H,), Why (V, H), by (V,)."""

    name = "rnn"

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

    def _run(self, params: Params, X: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Hidden states for the window: hs: (B, T+1, H), hs[:, 0] = h_0, hs[:, t] = h_t."""
        Wxh, Whh, bh = params["Wxh"], params["Whh"], params["bh"]
        B, T = X.shape
        hs = np.empty((B, T + 1, self.H), self.dtype)
        hs[:, 0] = h
        xin = Wxh.T[X] + bh  # (B, T, H): W_xh x_t + b_h by index lookup, every step at once
        WhhT = Whh.T
        for t in range(T):
            np.tanh(xin[:, t] + hs[:, t] @ WhhT, out=hs[:, t + 1])  # h_t = tanh(.. + W_hh h_{t-1})
        return hs

    def forward(self, params: Params, X: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        hs = self._run(params, X, state[0])
        logits = hs[:, 1:] @ params["Why"].T + params["by"]  # (B, T, V): y_t = W_hy h_t + b_y
        return logits, (hs[:, -1].copy(),)

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        h = np.tanh(params["Wxh"].T[x] + state[0] @ params["Whh"].T + params["bh"])  # (B, H)
        return h @ params["Why"].T + params["by"], (h,)  # logits (B, V)

    def loss_and_grads(
        self, params: Params, X: np.ndarray, Y: np.ndarray, state: State, profile: bool = True
    ) -> LossAndGrads:
        Whh, Why = params["Whh"], params["Why"]
        B, T = X.shape
        H = self.H

        # 1. Forward through the window.
        hs = self._run(params, X, state[0])  # (B, T+1, H)
        h_out = hs[:, 1:]  # (B, T, H): h_1 .. h_T
        logits = h_out @ Why.T + params["by"]  # (B, T, V)
        loss, dlogits = softmax_xent(logits, Y)  # dlogits: (B, T, V)

        # 2. Readout gradients, every step at once.
        dlogits2 = dlogits.reshape(B * T, self.V)
        dWhy = dlogits2.T @ h_out.reshape(B * T, H)  # (V, H)
        dby = dlogits2.sum(axis=0)  # (V,)
        dh_out = dlogits @ Why  # (B, T, H): dL/dh_t through y_t alone

        # 3. Backward through time. Row 0 of `dh` carries dL/dh_t (the mean loss); row 1, when
        #    profiling, carries dl_T/dh_t (the last step's per-stream loss). Stacking them lets one
        #    matmul per step move both back through W_hh.
        k = 2 if profile else 1
        dh = np.zeros((k, B, H), self.dtype)
        dh_all = np.empty((k, B, T, H), self.dtype) if profile else None
        dz_all = np.empty((B, T, H), self.dtype)  # d/d(pre-activation) at every step
        for t in range(T - 1, -1, -1):
            dh[0] += dh_out[:, t]  # add the gradient from step t's own output
            if profile and t == T - 1:
                dh[1] = dh_out[:, t] * (B * T)  # dl_T/dh_T: undo the 1/(B*T) of the mean
            if dh_all is not None:
                dh_all[:, :, t] = dh
            dz = (1 - h_out[:, t] ** 2) * dh  # backprop through tanh: (k, B, H)
            dz_all[:, t] = dz[0]
            dh = (dz.reshape(k * B, H) @ Whh).reshape(k, B, H)  # to h_{t-1}: W_hh^T dz

        # 4. Parameter gradients from the stacked pre-activation gradients.
        dz2 = dz_all.reshape(B * T, H)
        dWhh = dz2.T @ hs[:, :-1].reshape(B * T, H)  # (H, H): sum_t dz_t h_{t-1}^T
        dbh = dz2.sum(axis=0)  # (H,)
        dWxhT = np.zeros((self.V, H), self.dtype)
        np.add.at(dWxhT, X.reshape(-1), dz2)  # column x_t of W_xh gets dz_t
        grads = {"Wxh": dWxhT.T.copy(), "Whh": dWhh, "bh": dbh, "Why": dWhy, "by": dby}
        prof = profile_from(dh_all, n_per_stream=B) if dh_all is not None else None
        return LossAndGrads(loss=loss, grads=grads, state=(hs[:, -1].copy(),), profile=prof)
