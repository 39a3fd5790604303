"""The LSTM (long short-term memory), batched, with exact truncated BPTT.

    a_t = W_x x_t + W_h h_{t-1} + b            (4H,) pre-activations of the four gates, fused
    i_t = sigmoid(a_i)   f_t = sigmoid(a_f)    input and forget gates
    o_t = sigmoid(a_o)   g_t = tanh(a_g)       output gate and candidate cell value
    c_t = f_t * c_{t-1} + i_t * g_t            the cell: a sum, so its gradient is carried by f_t
    h_t = o_t * tanh(c_t)                      what the readout and the next step see
    y_t = W_hy h_t + b_y                       logits over the next character

Backward, one step (dh_t already holds W_hy^T dy_t + W_h^T da_{t+1}):

    dc_t  = dh_t * o_t * tanh'(c_t) + f_{t+1} * dc_{t+1}
    da_i  = dc_t * g_t * sigmoid'(a_i)         da_f = dc_t * c_{t-1} * sigmoid'(a_f)
    da_o  = dh_t * tanh(c_t) * sigmoid'(a_o)   da_g = dc_t * i_t * tanh'(a_g)
    dh_{t-1} = W_h^T da_t,  dW_h = sum_t da_t h_{t-1}^T,  column x_t of dW_x += da_t

The gates are stacked in the order (i, f, o, g), as in CS231n: rows k*H:(k+1)*H of W_x, W_h
and b belong to gate k, so the three sigmoid gates are one contiguous block.

The gradient reaching c_t is carried back through c_{t-1} by the forget gate alone
(dL/dc_{t-1} = f_t * dL/dc_t + ...), with no squashing derivative and no weight matrix on the
way: with f_t near 1 it survives many steps, where the vanilla RNN's is multiplied by W_hh and
tanh' at every step and fades when W_hh is small.

Layout as in `rnn.py`: one row per stream, h: (B, H), time-major (T, B, ...) inside a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

import numpy as np

from rnn_tui.engine.model.base import (
    Backward,
    ByInput,
    Cell,
    Params,
    State,
    Trace,
    add_output_grad,
    gate_inputs,
    keep_rows,
    logits_of,
    output_steps,
    sigmoid,
    sigmoid_of_negated,
    sum_outer,
)


@dataclass(frozen=True)
class LSTMTrace(Trace):
    cs: np.ndarray  # (T+1, B, H): cs[0] = c_0, cs[t] = c_t
    cprev: np.ndarray  # (T, B, H): c_{t-1} as step t read it, 0 after a reset
    gates: np.ndarray  # (T, B, 4, H): i_t, f_t, o_t, g_t
    tcs: np.ndarray  # (T, B, H): tanh(c_t)
    terms: np.ndarray  # (T, 2, B, H): i_t g_t and f_t c_{t-1}, the two terms of c_t

    def final_state(self) -> State:
        return (self.hs[-1].copy(), self.cs[-1].copy())


class LSTM(Cell):
    """LSTM cell. Parameters: Wx (4H, V), Wh (4H, H), b (4H,), Why (V, H), by (V,);
    gate blocks of Wx, Wh, b in the order i, f, o, g. State (h, c), each (B, H)."""

    name = "lstm"
    gates = 4  # i, f, o, g
    sigmoid_gates = 3  # i, f, o

    n_state = 2  # (h, c)
    group_inputs = True  # d_in's rows are 4H wide

    def init_params(
        self, rng: np.random.Generator, rec_gain: float = 1.0, forget_bias: float = 1.0
    ) -> Params:
        """As for every cell, but the forget gate's bias starts at `forget_bias` (1: f = 0.73),
        so the cell remembers from the first step."""
        p = super().init_params(rng, rec_gain)
        p["b"][self.H : 2 * self.H] = forget_bias  # forget gate open at the start
        return p

    def _run(
        self, params: Params, Xt: np.ndarray, state: State, keep: np.ndarray | None = None
    ) -> LSTMTrace:
        """A window's forward pass. Xt: (T, B) ids; keep: (T, B, 1) or None, 0 where the state
        is reset before step t."""
        T, B = Xt.shape
        H = self.H
        table, WhT = self.loop_weights(params)  # i, f, o columns negated: -a there
        # Gate-major storage, (4, T, B, H): each step's i, f, o, g blocks are contiguous for
        # all streams (passes over strided blocks are several times slower); the trace shows
        # it as (T, B, 4, H). Filled with W_x x_t + b, turned into i, f, o, g in place.
        gm = gate_inputs(table, Xt, 4)
        i, f, o, g = gm  # (T, B, H) contiguous blocks
        by_step = gm.transpose(1, 0, 2, 3)  # (T, 4, B, H): step t's blocks
        hs, cs, tcs = self.empty(T + 1, B, H), self.empty(T + 1, B, H), self.empty(T, B, H)
        hprev, cprev = hs[:-1], cs[:-1]  # h_{t-1}, c_{t-1} as step t read them
        if keep is not None:
            hprev, cprev = self.empty(T, B, H), self.empty(T, B, H)  # zeroed after a reset
        wh = self.empty(B, 4 * H)  # scratch: W_h h_{t-1}
        terms = self.empty(T, 2, B, H)  # i_t g_t, f_t c_{t-1}: kept for the backward pass
        wh_gm = wh.reshape(B, 4, H).transpose(1, 0, 2)  # (4, B, H): W_h h_{t-1} by gate
        one = self.scalar(1)
        hs[0], cs[0] = state
        # One step's rows: iterating gives them faster than indexing by t.
        steps = zip(by_step, by_step[:, :3], i, f, o, g, hs[:-1], cs[:-1], hprev, cprev,
                    hs[1:], cs[1:], tcs, terms[:, 0], terms[:, 1], keep_rows(keep, T),
                    strict=True)  # fmt: skip
        # exp(-a) of a gate far below 0 overflows to inf: sigmoid(a) = 1 / (1 + inf) = 0, exact.
        with np.errstate(over="ignore"):
            for (a, ifo, i_t, f_t, o_t, g_t, h_last, c_last, h_prev, c_prev, h_t, c_t, tc,
                 ig, fc, kp) in steps:  # fmt: skip
                if kp is not None:  # 0 after a reset
                    np.multiply(h_last, kp, out=h_prev)
                    np.multiply(c_last, kp, out=c_prev)
                np.matmul(h_prev, WhT, out=wh)  # W_h h_{t-1}
                a += wh_gm  # a_t = W_x x_t + W_h h_{t-1} + b: (4, B, H), -a_t for i, f, o
                sigmoid_of_negated(ifo, one)  # i_t, f_t, o_t = sigmoid(a_i, a_f, a_o)
                np.tanh(g_t, out=g_t)  # g_t = tanh(a_g)
                np.multiply(i_t, g_t, out=ig)  # i_t g_t
                np.add(np.multiply(f_t, c_prev, out=fc), ig, out=c_t)  # c_t = f_t c_{t-1} + i_t g_t
                np.tanh(c_t, out=tc)  # tanh(c_t)
                np.multiply(o_t, tc, out=h_t)  # h_t = o_t tanh(c_t)
        gates = gm.transpose(1, 2, 0, 3)  # (T, B, 4, H): i_t, f_t, o_t, g_t
        return LSTMTrace(hs=hs, hprev=hprev, keep=keep, cs=cs, cprev=cprev, gates=gates, tcs=tcs,
                         terms=terms)  # fmt: skip

    def _backward(
        self,
        params: Params,
        tr: LSTMTrace,
        dh_out: np.ndarray,
        profile: bool,
        weights: bool = True,
        by_id: ByInput | None = None,
    ) -> Backward:
        """dh_out: (T, B, H) = W_hy^T dy_t. Returns da_t: (T, B, 4, H) for every step, dW_h,
        and dL/dh_t, dL/dc_t for the profile."""
        Wh = params["Wh"]
        T, B, H = dh_out.shape
        i, f, o, g = (tr.gates[:, :, k] for k in range(4))  # (T, B, H) each
        h, tc = tr.hs[1:], tr.tcs  # h_t, tanh(c_t)

        dh_all = self.dh_rows(T, B, profile)  # (T, k, B, H)
        k = dh_all.shape[1]
        has_out = output_steps(dh_out)  # (T,) the steps with an output gradient
        dc_all = self.empty(T, k, B, H)  # dL/dc_t, both rows
        dc_next = self.empty(k, B, H)  # f_{t+1} dc_{t+1}
        d_in = self.empty(T, B, 4, H)  # row 0's da_t, every step

        # The local derivatives of every step at once, (T, B, H) each: K[:, j] turns dc_t
        # (dh_t for o) into da_j, as in the module docstring. K is gate-major, (T, 4, B, H),
        # like the trace's storage, so every pass below runs over blocks contiguous for all
        # streams (a pass over the (T, B, 4, H) layout's strided blocks is several times slower).
        # Each written from a product the forward pass kept: two passes per block.
        K = self.empty(T, 4, B, H)
        s = tr.gates.transpose(0, 2, 1, 3)[:, :3]  # (T, 3, B, H): i, f, o as stored
        np.subtract(1, s, out=K[:, :3])  # 1 - s; sigmoid'(a) = s (1 - s), so:
        K[:, :2] *= tr.terms  # i g (1 - i) = g_t sigmoid'(a_i), f c (1 - f) = c_{t-1} sigmoid'(a_f)
        K[:, 2] *= h  # o tanh(c) (1 - o) = tanh(c_t) sigmoid'(a_o)
        np.multiply(tr.terms[:, 0], g, out=K[:, 3])  # i g^2
        np.subtract(i, K[:, 3], out=K[:, 3])  # i - i g^2 = i_t tanh'(a_g)
        dc_dh = np.multiply(h, tc, out=self.empty(T, B, H))  # o tanh(c)^2
        np.subtract(o, dc_dh, out=dc_dh)  # o - o tanh(c)^2 = dc_t / dh_t = o_t tanh'(c_t)

        dh2 = dh_all.reshape(T, k * B, H)  # for the matmul
        # One row: each step's da goes straight into d_in. Two, or rows grouped by input id:
        # into a scratch that stays in cache for the matmul, row 0 copied out (faster than a
        # window of both rows).
        rows = d_in.reshape(T * B, 4 * H)  # where a grouped row goes
        if k == 1 and by_id is None:
            da_rows = d_in[::-1, None]  # (T, 1, B, 4, H), newest first
            das = [d_in[::-1, None, :, j] for j in range(4)]  # rows of da_i, da_f, da_o, da_g
        else:
            scratch = self.empty(k, B, 4, H)
            da_rows = repeat(scratch, T)
            das = [repeat(scratch[:, :, j], T) for j in range(4)]
        # Newest step first; iterating gives the rows faster than indexing by t, and the local
        # derivatives get a k axis of 1: a ufunc on operands of equal ndim is twice as fast.
        Ks = (K[::-1, j, None] for j in range(4))  # (1, B, H) rows of K_i, K_f, K_o, K_g
        steps = zip(range(T - 1, -1, -1), dh_all[::-1], dc_all[::-1], dc_dh[::-1, None],
                    f[::-1, None], da_rows, *Ks, *das, strict=True)  # fmt: skip
        for t, dh, dc, dc_dh_t, f_t, da, K_i, K_f, K_o, K_g, da_i, da_f, da_o, da_g in steps:
            if has_out[t]:  # dh holds W_h^T da_{t+1}, from step t+1
                add_output_grad(dh, dh_out[t], profile and t == T - 1, B * T)  # + W_hy^T dy_t
            np.multiply(dh, dc_dh_t, out=dc)  # dc_t = dh_t o_t tanh'(c_t)
            if t < T - 1:
                dc += dc_next  # + f_{t+1} dc_{t+1} (nothing follows the window's last step)
            np.multiply(dc, K_i, out=da_i)  # da_i = dc_t g_t sigmoid'(a_i)
            np.multiply(dc, K_f, out=da_f)  # da_f = dc_t c_{t-1} sigmoid'(a_f)
            np.multiply(dh, K_o, out=da_o)  # da_o = dh_t tanh(c_t) sigmoid'(a_o)
            np.multiply(dc, K_g, out=da_g)  # da_g = dc_t i_t tanh'(a_g)
            if by_id is not None:
                rows[by_id.at[t]] = da[0].reshape(B, 4 * H)  # keep row 0's, grouped by input id
            elif k == 2:
                d_in[t] = da[0]  # keep row 0's
            if t == 0:
                break  # dL/dh_0 and dL/dc_0 are not needed
            np.matmul(da.reshape(k * B, 4 * H), Wh, out=dh2[t - 1])  # W_h^T da_t
            np.multiply(dc, f_t, out=dc_next)  # f_t dc_t, on to c_{t-1}
            if tr.keep is not None:
                dh_all[t - 1] *= tr.keep[t]  # a reset h_{t-1} fed nothing to step t
                dc_next *= tr.keep[t]  # nor did a reset c_{t-1}
        dWh = None
        if weights:  # (4H, H): sum_t da_t h_{t-1}^T, h_{t-1} grouped as d_in's rows are
            dWh = sum_outer(d_in, tr.hprev if by_id is None else by_id.rows(tr.hprev))
        d_out = d_in if by_id is None else rows
        return Backward(d_in=d_out, dWh=dWh, dh_all=dh_all, dc_all=dc_all[:, 0])

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        H = self.H
        h, c = state
        a = params["Wx"].T[x] + h @ params["Wh"].T + params["b"]  # (B, 4H) gate pre-activations
        s = sigmoid(a[:, : 3 * H])  # i, f, o
        i, f, o = s[:, :H], s[:, H : 2 * H], s[:, 2 * H :]
        g = np.tanh(a[:, 3 * H :])  # candidate cell value
        c = f * c + i * g  # c_t = f_t c_{t-1} + i_t g_t
        h = o * np.tanh(c)  # h_t = o_t tanh(c_t)
        return logits_of(params, h), (h, c)  # logits (B, V)
