"""The LSTM (long short-term memory), batched, with exact truncated BPTT.

    a_t = W_x x_t + W_h h_{t-1} + b            (4H,) pre-activations of the four gates, fused
    i_t = sigmoid(a_i)   f_t = sigmoid(a_f)    input and forget gates
    o_t = sigmoid(a_o)   g_t = tanh(a_g)       output gate and candidate cell value
    c_t = f_t * c_{t-1} + i_t * g_t            the cell: a sum, so its gradient is carried by f_t
    h_t = o_t * tanh(c_t)                      what the readout and the next step see
    y_t = W_hy h_t + b_y                       logits over the next character

The gates are stacked in the order (i, f, o, g), as in CS231n: rows k*H:(k+1)*H of W_x, W_h
and b belong to gate k, so the three sigmoid gates are one contiguous block.

The gradient reaching c_t is carried back through c_{t-1} by the forget gate alone
(dL/dc_{t-1} = f_t * dL/dc_t + ...), with no squashing derivative and no weight matrix on the
way: with f_t near 1 it survives many steps, where the vanilla RNN's is multiplied by W_hh and
tanh' at every step and fades when W_hh is small.

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


class LSTM(Cell):
    """LSTM cell. Parameters: Wx (4H, V), Wh (4H, H), b (4H,), Why (V, H), by (V,);
    gate blocks of Wx, Wh, b in the order i, f, o, g. State (h, c), each (B, H)."""

    name = "lstm"

    @property
    def n_state(self) -> int:
        return 2  # (h, c)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        H, V = self.H, self.V
        return {"Wx": (4 * H, V), "Wh": (4 * H, H), "b": (4 * H,), "Why": (V, H), "by": (V,)}

    def init_params(
        self, rng: np.random.Generator, rec_gain: float = 1.0, forget_bias: float = 1.0
    ) -> Params:
        """Gaussian weights; Wh has std rec_gain / sqrt(H) like the RNN's Whh. The forget gate's
        bias starts at `forget_bias` (1: f = 0.73), so the cell remembers from the first step."""
        H, V = self.H, self.V
        b = np.zeros(4 * H)
        b[H : 2 * H] = forget_bias  # forget gate open at the start
        p = {
            "Wx": rng.standard_normal((4 * H, V)) * 0.1,  # input embedding: a column per character
            "Wh": rng.standard_normal((4 * H, H)) * (rec_gain / np.sqrt(H)),  # recurrent weights
            "b": b,
            "Why": rng.standard_normal((V, H)) * (1.0 / np.sqrt(H)),  # logits start near 0
            "by": np.zeros(V),
        }
        return {k: v.astype(self.dtype) for k, v in p.items()}

    def _run(
        self,
        params: Params,
        Xt: np.ndarray,
        h: np.ndarray,
        c: np.ndarray,
        keep: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """A window's forward pass, time-major. Xt: (T, B) ids; keep: (T, B, 1) or None, 0 where
        the state is reset before step t. Returns hs, cs: (T+1, B, H) with hs[0] = h_0 and
        hs[t] = h_t (likewise c); gates: (T, B, 4, H), the activated i, f, o, g of every step;
        tcs: (T, B, H) = tanh(c_t); hprev, cprev: (T, B, H), the state each step actually read."""
        T, B = Xt.shape
        H = self.H
        hs = np.empty((T + 1, B, H), self.dtype)
        cs = np.empty((T + 1, B, H), self.dtype)
        tcs = np.empty((T, B, H), self.dtype)
        ah = np.empty((B, 4 * H), self.dtype)  # W_h h_{t-1}, reused every step
        ig = np.empty((B, H), self.dtype)  # i_t * g_t, reused every step
        hs[0], cs[0] = h, c
        # sigmoid(a) = (1 + tanh(a/2)) / 2. Halving the i, f, o rows of copies of the weights
        # (exact in floating point) leaves one tanh over all four gates in the loop.
        half = np.ones((4, H), self.dtype)
        half[:3] = 0.5
        half = half.reshape(4 * H)
        lookup = np.ascontiguousarray(params["Wx"].T)  # (V, 4H): row x = column x of W_x
        lookup += params["b"]  # + b, once per character rather than once per step
        lookup *= half  # a/2 for the sigmoid gates
        WhT = params["Wh"].T * half  # (H, 4H), sigmoid columns halved
        gates = lookup[Xt].reshape(T, B, 4, H)  # W_x x_t + b for every step, by index lookup
        for t in range(T):
            h_prev = hs[t] if keep is None else hs[t] * keep[t]  # h_{t-1}, or 0 after a reset
            c_prev = cs[t] if keep is None else cs[t] * keep[t]  # c_{t-1}, likewise
            a = gates[t].reshape(B, 4 * H)  # this step's gates, computed in place
            np.matmul(h_prev, WhT, out=ah)  # W_h h_{t-1}
            a += ah  # a_t = W_x x_t + W_h h_{t-1} + b  (halved for i, f, o)
            np.tanh(a, out=a)  # tanh(a/2) for i, f, o; g_t = tanh(a_g)
            s = a[:, : 3 * H]
            s += 1.0
            s *= 0.5  # i_t, f_t, o_t = (1 + tanh(a/2)) / 2
            i, f, o, g = gates[t, :, 0], gates[t, :, 1], gates[t, :, 2], gates[t, :, 3]
            np.multiply(f, c_prev, out=cs[t + 1])  # f_t * c_{t-1}
            np.multiply(i, g, out=ig)
            cs[t + 1] += ig  # c_t = f_t * c_{t-1} + i_t * g_t
            np.tanh(cs[t + 1], out=tcs[t])  # tanh(c_t)
            np.multiply(o, tcs[t], out=hs[t + 1])  # h_t = o_t * tanh(c_t)
        if keep is None:
            return hs, cs, gates, tcs, hs[:-1], cs[:-1]
        return hs, cs, gates, tcs, hs[:-1] * keep, cs[:-1] * keep

    def forward(
        self, params: Params, X: np.ndarray, state: State, reset: np.ndarray | None = None
    ) -> tuple[np.ndarray, State]:
        hs, cs, *_ = self._run(params, X.T, state[0], state[1], keep_mask(reset, self.dtype))
        logits = hs[1:] @ params["Why"].T + params["by"]  # (T, B, V): y_t = W_hy h_t + b_y
        return logits.transpose(1, 0, 2), (hs[-1].copy(), cs[-1].copy())

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        H = self.H
        h, c = state
        a = params["Wx"].T[x] + h @ params["Wh"].T + params["b"]  # (B, 4H) gate pre-activations
        s = sigmoid(a[:, : 3 * H])  # i, f, o
        i, f, o = s[:, :H], s[:, H : 2 * H], s[:, 2 * H :]
        g = np.tanh(a[:, 3 * H :])  # candidate cell value
        c = f * c + i * g  # c_t = f_t c_{t-1} + i_t g_t
        h = o * np.tanh(c)  # h_t = o_t tanh(c_t)
        return h @ params["Why"].T + params["by"], (h, c)  # logits (B, V)

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
        hs, cs, gates, tcs, hprev, cprev = self._run(params, Xt, state[0], state[1], keep)

        # 2. The readout, forward and backward, every step at once.
        loss, dWhy, dby, dh_out = readout(params, hs[1:], Y.T)  # dh_out: (T, B, H)

        # 3. Local derivatives of every step, for the whole window at once, (T, B, H) each.
        i, f, o, g = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2], gates[:, :, 3]
        dc_dh = o * (1 - tcs**2)  # h_t = o_t tanh(c_t): dh_t -> dc_t is o_t tanh'(c_t)
        K = np.empty((T, B, 4, H), self.dtype)  # d/d(pre-activations) per unit of dc_t or dh_t
        np.multiply(g, i * (1 - i), out=K[:, :, 0])  # da_i = dc_t * g_t * sigmoid'(a_i)
        np.multiply(cprev, f * (1 - f), out=K[:, :, 1])  # da_f = dc_t * c_{t-1} * sigmoid'(a_f)
        np.multiply(tcs, o * (1 - o), out=K[:, :, 2])  # da_o = dh_t * tanh(c_t) * sigmoid'(a_o)
        np.multiply(i, 1 - g**2, out=K[:, :, 3])  # da_g = dc_t * i_t * tanh'(a_g)

        # 4. Backward through time. Row 0 of dh and dc carries the mean loss's gradient; row 1,
        #    when profiling, the last step's per-stream loss. Both rows carry h and c, and one
        #    matmul per step moves both back through W_h.
        k = 2 if profile else 1
        dh_all = np.empty((T, k, B, H), self.dtype)  # dL/dh_t, total: output + next step's gates
        dc_all = np.empty((T, k, B, H), self.dtype)  # dL/dc_t, total: through h_t and c_{t+1}
        dc_next = np.zeros((k, B, H), self.dtype)  # the part through c_{t+1}: f_{t+1} dc_{t+1}
        da = np.empty((k, B, 4, H), self.dtype)  # this step's d/d(pre-activations)
        da_all = np.empty((T, B, 4, H), self.dtype)  # row 0's, every step
        dh_all[T - 1] = 0  # nothing after the window
        for t in range(T - 1, -1, -1):
            dh = dh_all[t]  # holds the gradient from step t+1's gates
            dh[0] += dh_out[t]  # add the gradient from step t's own output
            if profile and t == T - 1:
                np.multiply(dh_out[t], B * T, out=dh[1])  # dl_T/dh_T: undo the mean's 1/(B*T)
            dc = dc_all[t]
            np.multiply(dh, dc_dh[t], out=dc)  # through h_t = o_t tanh(c_t)
            dc += dc_next  # + through c_{t+1} = f_{t+1} c_t + ...: total dL/dc_t
            np.multiply(dc, K[t, :, 0], out=da[:, :, 0])  # da_i
            np.multiply(dc, K[t, :, 1], out=da[:, :, 1])  # da_f
            np.multiply(dh, K[t, :, 2], out=da[:, :, 2])  # da_o
            np.multiply(dc, K[t, :, 3], out=da[:, :, 3])  # da_g
            da_all[t] = da[0]
            if t == 0:
                break  # dL/dh_0 and dL/dc_0 are not needed
            dh_prev = dh_all[t - 1]
            np.matmul(da.reshape(k * B, 4 * H), Wh, out=dh_prev.reshape(k * B, H))  # W_h^T da
            np.multiply(dc, f[t], out=dc_next)  # to c_{t-1}: f_t dc_t
            if keep is not None:
                dh_prev *= keep[t]  # a reset state received nothing from h_{t-1}
                dc_next *= keep[t]  # nor from c_{t-1}

        # 5. Parameter gradients from all steps' pre-activation gradients at once.
        da2 = da_all.reshape(T * B, 4 * H)
        dWh = da2.T @ hprev.reshape(T * B, H)  # (4H, H): sum_t da_t h_{t-1}^T
        db = da2.sum(axis=0)  # (4H,)
        dWx = scatter_rows(Xt.reshape(-1), da2, V).T  # column x_t of W_x gets da_t
        grads = {"Wx": np.ascontiguousarray(dWx), "Wh": dWh, "b": db, "Why": dWhy, "by": dby}
        prof = profile_from(dh_all, dc_all[:, 0], n_per_stream=B) if profile else None
        new_state = (hs[-1].copy(), cs[-1].copy())
        return LossAndGrads(loss=loss, grads=grads, state=new_state, profile=prof)
