"""The GRU (gated recurrent unit), batched, with exact truncated BPTT.

    z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)          update gate
    r_t = sigmoid(W_r x_t + U_r h_{t-1} + b_r)          reset gate
    n_t = tanh(W_n x_t + r_t * (U_n h_{t-1}) + b_n)     candidate state
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}               keep a z_t share of the old state
    y_t = W_hy h_t + b_y                                logits over the next character

This is the cuDNN / PyTorch form: r_t multiplies U_n h_{t-1} after the product, so the three
recurrent products are one fused matmul h_{t-1} @ Wh.T with Wh = [U_z; U_r; U_n]: (3H, H).
The gates are stacked in the order (z, r, n) in Wx, Wh and b.

The direct path h_{t-1} -> z_t * h_{t-1} carries the gradient back with a factor z_t and no
weight matrix, the GRU's counterpart of the LSTM's cell.

Layout as in `rnn.py`: one row per stream, h: (B, H), time-major (T, B, ...) inside a window.
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
    sigmoid,
)


class GRU(Cell):
    """GRU cell. Parameters: Wx (3H, V), Wh (3H, H), b (3H,), Why (V, H), by (V,);
    gate blocks of Wx, Wh, b in the order z, r, n. State (h,), (B, H)."""

    name = "gru"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        H, V = self.H, self.V
        return {"Wx": (3 * H, V), "Wh": (3 * H, H), "b": (3 * H,), "Why": (V, H), "by": (V,)}

    def init_params(self, rng: np.random.Generator, rec_gain: float = 1.0) -> Params:
        """Gaussian weights; Wh has std rec_gain / sqrt(H) like the RNN's Whh; zero biases."""
        H, V = self.H, self.V
        p = {
            "Wx": rng.standard_normal((3 * H, V)) * 0.1,  # input embedding: a column per character
            "Wh": rng.standard_normal((3 * H, H)) * (rec_gain / np.sqrt(H)),  # recurrent weights
            "b": np.zeros(3 * H),
            "Why": rng.standard_normal((V, H)) * (1.0 / np.sqrt(H)),  # logits start near 0
            "by": np.zeros(V),
        }
        return {k: v.astype(self.dtype) for k, v in p.items()}

    def _run(
        self, params: Params, Xt: np.ndarray, h: np.ndarray, keep: np.ndarray | None = None
    ) -> tuple[np.ndarray, ...]:
        """A window's forward pass, time-major. Xt: (T, B) ids; keep: (T, B, 1) or None, 0 where
        the state is reset before step t. Returns hs: (T+1, B, H) with hs[0] = h_0 and
        hs[t] = h_t; gates: (T, B, 3, H), the activated z, r, n of every step; un: (T, B, H),
        U_n h_{t-1} of every step; hprev: (T, B, H), the state each step actually read."""
        T, B = Xt.shape
        H = self.H
        hs = np.empty((T + 1, B, H), self.dtype)
        un = np.empty((T, B, H), self.dtype)
        uh = np.empty((B, 3 * H), self.dtype)  # U h_{t-1}, reused every step
        hs[0] = h
        # sigmoid(a) = (1 + tanh(a/2)) / 2. Halving the z, r rows of copies of the weights
        # (exact in floating point) leaves one tanh for both gates in the loop.
        half = np.ones((3, H), self.dtype)
        half[:2] = 0.5
        half = half.reshape(3 * H)
        lookup = np.ascontiguousarray(params["Wx"].T)  # (V, 3H): row x = column x of W_x
        lookup += params["b"]  # + b, once per character rather than once per step
        lookup *= half  # a/2 for z and r
        WhT = params["Wh"].T * half  # (H, 3H), z and r columns halved
        gates = lookup[Xt].reshape(T, B, 3, H)  # W_x x_t + b for every step, by index lookup
        for t in range(T):
            h_prev = hs[t] if keep is None else hs[t] * keep[t]  # h_{t-1}, or 0 after a reset
            np.matmul(h_prev, WhT, out=uh)  # U_z h / 2, U_r h / 2, U_n h
            zr = gates[t, :, :2].reshape(B, 2 * H)  # z and r, computed in place
            zr += uh[:, : 2 * H]  # a_z / 2, a_r / 2
            np.tanh(zr, out=zr)
            zr += 1.0
            zr *= 0.5  # z_t, r_t = (1 + tanh(a/2)) / 2
            z, r, n = gates[t, :, 0], gates[t, :, 1], gates[t, :, 2]
            un[t] = uh[:, 2 * H :]  # U_n h_{t-1}, kept for the backward pass
            np.multiply(r, un[t], out=uh[:, 2 * H :])  # r_t * (U_n h_{t-1})
            n += uh[:, 2 * H :]  # + W_n x_t + b_n
            np.tanh(n, out=n)  # n_t
            h_new = np.subtract(h_prev, n, out=hs[t + 1])  # h_{t-1} - n_t
            h_new *= z
            h_new += n  # h_t = n_t + z_t (h_{t-1} - n_t) = (1 - z_t) n_t + z_t h_{t-1}
        return hs, gates, un, (hs[:-1] if keep is None else hs[:-1] * keep)

    def forward(
        self, params: Params, X: np.ndarray, state: State, reset: np.ndarray | None = None
    ) -> tuple[np.ndarray, State]:
        hs, *_ = self._run(params, X.T, state[0], keep_mask(reset, self.dtype))
        logits = hs[1:] @ params["Why"].T + params["by"]  # (T, B, V): y_t = W_hy h_t + b_y
        return logits.transpose(1, 0, 2), (hs[-1].copy(),)

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        H = self.H
        h = state[0]
        ax = params["Wx"].T[x] + params["b"]  # (B, 3H): W x_t + b
        uh = h @ params["Wh"].T  # (B, 3H): U h_{t-1}
        zr = sigmoid(ax[:, : 2 * H] + uh[:, : 2 * H])  # z, r
        z, r = zr[:, :H], zr[:, H:]
        n = np.tanh(ax[:, 2 * H :] + r * uh[:, 2 * H :])  # candidate state
        h = n + z * (h - n)  # h_t = (1 - z_t) n_t + z_t h_{t-1}
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
        Wh = params["Wh"]
        B, T = X.shape
        H, V = self.H, self.V
        Xt = np.ascontiguousarray(X.T)  # (T, B): time-major ids
        keep = keep_mask(reset, self.dtype)  # (T, B, 1): 0 where the state is reset, or None

        # 1. Forward through the window.
        hs, gates, un, hprev = self._run(params, Xt, state[0], keep)

        # 2. The readout, forward and backward, every step at once.
        loss, dWhy, dby, dh_out = readout(params, hs[1:], Y.T)  # dh_out: (T, B, H)

        # 3. Local derivatives of every step, for the whole window at once. K maps dL/dh_t to
        #    the gradients of the three recurrent products U_z h, U_r h, U_n h.
        z, r, n = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2]
        Kn = (1 - z) * (1 - n**2)  # da_n = dh_t * (1 - z_t) * tanh'(a_n)
        K = np.empty((T, B, 3, H), self.dtype)
        np.multiply(hprev - n, z * (1 - z), out=K[:, :, 0])  # da_z = dh (h_{t-1} - n_t) sig'
        np.multiply(Kn * un, r * (1 - r), out=K[:, :, 1])  # da_r = da_n (U_n h_{t-1}) sig'
        np.multiply(Kn, r, out=K[:, :, 2])  # d(U_n h_{t-1}) = da_n * r_t

        # 4. Backward through time. Row 0 of dh carries dL/dh_t (the mean loss); row 1, when
        #    profiling, dl_T/dh_t (the last step's per-stream loss); one matmul moves both.
        k = 2 if profile else 1
        dh_all = np.empty((T, k, B, H), self.dtype)  # dL/dh_t, total: output + next step
        dU = np.empty((k, B, 3, H), self.dtype)  # this step's d/d(U h_{t-1})
        dU_all = np.empty((T, B, 3, H), self.dtype)  # row 0's, every step
        dh_direct = np.empty((k, B, H), self.dtype)  # the part through z_t * h_{t-1}
        dh_all[T - 1] = 0  # nothing after the window
        for t in range(T - 1, -1, -1):
            dh = dh_all[t]  # holds the gradient from step t+1
            dh[0] += dh_out[t]  # add the gradient from step t's own output
            if profile and t == T - 1:
                np.multiply(dh_out[t], B * T, out=dh[1])  # dl_T/dh_T: undo the mean's 1/(B*T)
            np.multiply(dh[:, :, None, :], K[t], out=dU)  # through z_t, r_t, n_t
            dU_all[t] = dU[0]
            if t == 0:
                break  # dL/dh_0 is not needed
            dh_prev = dh_all[t - 1]
            np.matmul(dU.reshape(k * B, 3 * H), Wh, out=dh_prev.reshape(k * B, H))  # W_h^T dU
            np.multiply(dh, z[t], out=dh_direct)  # through z_t * h_{t-1}
            dh_prev += dh_direct  # dL/dh_{t-1} from step t
            if keep is not None:
                dh_prev *= keep[t]  # a reset state received nothing from h_{t-1}

        # 5. Parameter gradients from all steps at once. The recurrent products get dU; the
        #    input side of n is outside r_t, so it gets da_n = dh_t * Kn rather than dU_n.
        dU2 = dU_all.reshape(T * B, 3 * H)
        dWh = dU2.T @ hprev.reshape(T * B, H)  # (3H, H): sum_t dU_t h_{t-1}^T
        np.multiply(dh_all[:, 0], Kn, out=dU_all[:, :, 2])  # now (da_z, da_r, da_n): x side
        db = dU2.sum(axis=0)  # (3H,)
        dWx = scatter_rows(Xt.reshape(-1), dU2, V).T  # column x_t of W_x gets da_t
        grads = {"Wx": np.ascontiguousarray(dWx), "Wh": dWh, "b": db, "Why": dWhy, "by": dby}
        prof = profile_from(dh_all, n_per_stream=B) if profile else None
        return LossAndGrads(loss=loss, grads=grads, state=(hs[-1].copy(),), profile=prof)
