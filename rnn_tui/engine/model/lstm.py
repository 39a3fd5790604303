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
    each_step,
    gate_inputs,
    logits_of,
    output_steps,
    sigmoid,
    sigmoid_of_negated,
    squared_norms,
    sum_outer,
)


@dataclass(frozen=True)
class LSTMTrace(Trace):
    cs: np.ndarray  # (T+1, B, H): cs[0] = c_0, cs[t] = c_t
    cprev: np.ndarray  # (T, B, H): c_{t-1} as step t read it, 0 after a reset
    gates: np.ndarray  # (T, B, 4, H): i_t, f_t, o_t, g_t
    # The local derivatives the backward pass needs, written by the forward loop while each
    # step's values are still in cache (None when the trace is for a forward pass alone):
    K: np.ndarray | None  # (T, 4, B, H): K[:, j] turns dc_t (dh_t for o) into da_j, see below
    dc_dh: np.ndarray | None  # (T, B, H): o_t tanh'(c_t), what dh_t gives dc_t

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
    keeps_products = False  # W_h h_{t-1} goes into a scratch, added into the gates at once

    def init_params(
        self, rng: np.random.Generator, rec_gain: float = 1.0, forget_bias: float = 1.0
    ) -> Params:
        """As for every cell, but the forget gate's bias starts at `forget_bias` (1: f = 0.73),
        so the cell remembers from the first step."""
        p = super().init_params(rng, rec_gain)
        p["b"][self.H : 2 * self.H] = forget_bias  # forget gate open at the start
        return p

    def _run(
        self,
        params: Params,
        Xt: np.ndarray,
        state: State,
        keep: np.ndarray | None = None,
        backward: bool = True,
    ) -> LSTMTrace:
        """A window's forward pass. Xt: (T, B) ids; keep: (T, B, 1) or None, 0 where the state
        is reset before step t. With `backward`, each step also writes the local derivatives
        `_backward` needs (K and dc_dh), while its values are still in cache: about 0.8 ms
        less per window at H=256, B=32, T=32 than a pass over the window's arrays afterwards."""
        T, B = Xt.shape
        H = self.H
        table, WhT = self.loop_weights(params)  # i, f, o columns negated: -a there
        # Gate-major storage, (4, T, B, H): each step's i, f, o, g blocks are contiguous for
        # all streams (passes over strided blocks are several times slower); the trace shows
        # it as (T, B, 4, H). Filled with W_x x_t + b, turned into i, f, o, g in place.
        gm = gate_inputs(table, Xt, 4)
        i, f, o, g = gm  # (T, B, H) contiguous blocks
        by_step = gm.transpose(1, 0, 2, 3)  # (T, 4, B, H): step t's blocks
        hs, cs = self.empty(T + 1, B, H), self.empty(T + 1, B, H)
        hprev, cprev = hs[:-1], cs[:-1]  # h_{t-1}, c_{t-1} as step t read them
        if keep is not None:
            hprev, cprev = self.empty(T, B, H), self.empty(T, B, H)  # zeroed after a reset
        wh = self.empty(4, B, H)  # scratch: W_h h_{t-1}, gate-major
        terms = self.empty(2, B, H)  # scratch: i_t g_t and f_t c_{t-1}, the two terms of c_t
        ig, fc = terms
        tc = self.empty(B, H)  # scratch: tanh(c_t)
        # K[t, j] turns dc_t (dh_t for o) into da_j, as in the module docstring; gate-major
        # like the trace's storage, so every pass runs over blocks contiguous for all streams.
        K = self.empty(T, 4, B, H) if backward else None
        dc_dh = self.empty(T, B, H) if backward else None  # o_t tanh'(c_t) = dc_t / dh_t
        one = self.scalar(1)
        hs[0], cs[0] = state
        # One step's rows: iterating gives them faster than indexing by t.
        steps = zip(by_step, by_step[:, :3], i, f, o, g, hs[:-1], cs[:-1], hprev, cprev,
                    hs[1:], cs[1:], each_step(keep, T), each_step(K, T), each_step(dc_dh, T),
                    strict=True)  # fmt: skip
        # exp(-a) of a gate far below 0 overflows to inf: sigmoid(a) = 1 / (1 + inf) = 0, exact.
        with np.errstate(over="ignore"):
            for (a, ifo, i_t, f_t, o_t, g_t, h_last, c_last, h_prev, c_prev, h_t, c_t, kp,
                 k, dcdh) in steps:  # fmt: skip
                if kp is not None:  # 0 after a reset
                    np.multiply(h_last, kp, out=h_prev)
                    np.multiply(c_last, kp, out=c_prev)
                np.matmul(h_prev, WhT, out=wh)  # W_h h_{t-1}, one product per gate
                a += wh  # a_t = W_x x_t + W_h h_{t-1} + b: (4, B, H), -a_t for i, f, o
                sigmoid_of_negated(ifo, one)  # i_t, f_t, o_t = sigmoid(a_i, a_f, a_o)
                np.tanh(g_t, out=g_t)  # g_t = tanh(a_g)
                np.multiply(i_t, g_t, out=ig)  # i_t g_t
                np.add(np.multiply(f_t, c_prev, out=fc), ig, out=c_t)  # c_t = f_t c_{t-1} + i_t g_t
                np.tanh(c_t, out=tc)  # tanh(c_t)
                np.multiply(o_t, tc, out=h_t)  # h_t = o_t tanh(c_t)
                if k is None:
                    continue
                np.subtract(one, ifo, out=k[:3])  # 1 - s for s = i, f, o; sigmoid' = s (1 - s):
                k[:2] *= terms  # i g (1-i) = g_t sigmoid'(a_i), f c (1-f) = c_{t-1} sigmoid'(a_f)
                k[2] *= h_t  # o tanh(c) (1 - o) = tanh(c_t) sigmoid'(a_o)
                np.multiply(ig, g_t, out=k[3])  # i g^2
                np.subtract(i_t, k[3], out=k[3])  # i - i g^2 = i_t tanh'(a_g)
                np.multiply(h_t, tc, out=dcdh)  # o tanh(c)^2
                np.subtract(o_t, dcdh, out=dcdh)  # o - o tanh(c)^2 = o_t tanh'(c_t)
        gates = gm.transpose(1, 2, 0, 3)  # (T, B, 4, H): i_t, f_t, o_t, g_t
        return LSTMTrace(hs=hs, hprev=hprev, keep=keep, cs=cs, cprev=cprev, gates=gates, K=K,
                         dc_dh=dc_dh)  # fmt: skip

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
        and the squared norms of dL/dh_t and dL/dc_t for the profile."""
        Wh = params["Wh"]
        T, B, H = dh_out.shape
        f = tr.gates[:, :, 1]  # (T, B, H): f_t, which carries dc_t back to c_{t-1}
        K, dc_dh = tr.K, tr.dc_dh  # the local derivatives, written by the forward loop
        if K is None or dc_dh is None:
            raise ValueError("the trace is from a forward pass without backward=True")
        dh_two = self.dh_rows(T, B, profile)  # (2, k, B, H): dL/dh_t, buffers used in turn
        k = dh_two.shape[1]
        has_out = output_steps(dh_out)  # (T,) the steps with an output gradient
        dc, dc_next = self.empty(k, B, H), self.empty(k, B, H)  # dL/dc_t; f_{t+1} dc_{t+1}
        d_in = self.empty(T, B, 4, H)  # row 0's da_t, every step
        dh_sq = self.empty(T, k, B) if profile else None  # ||dL/dh_t||^2 for the profile
        dc_sq = self.empty(T, B) if profile else None  # ||dL/dc_t||^2 of row 0

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
        sqs = each_step(dh_sq, T, newest_first=True)
        csqs = each_step(dc_sq, T, newest_first=True)
        steps = zip(range(T - 1, -1, -1), dc_dh[::-1, None], f[::-1, None], da_rows, *Ks,
                    *das, sqs, csqs, strict=True)  # fmt: skip
        for t, dc_dh_t, f_t, da, K_i, K_f, K_o, K_g, da_i, da_f, da_o, da_g, sq, csq in steps:
            dh, dh_prev = dh_two[t % 2], dh_two[1 - t % 2]  # dh holds W_h^T da_{t+1}
            if has_out[t]:
                add_output_grad(dh, dh_out[t], profile and t == T - 1, B * T)  # + W_hy^T dy_t
            np.multiply(dh, dc_dh_t, out=dc)  # dc_t = dh_t o_t tanh'(c_t)
            if t < T - 1:
                dc += dc_next  # + f_{t+1} dc_{t+1} (nothing follows the window's last step)
            if sq is not None:
                squared_norms(dh, out=sq)  # ||dL/dh_t||^2 of each row and stream: (k, B)
                squared_norms(dc[0], out=csq)  # ||dL/dc_t||^2 of each stream: (B,)
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
            np.matmul(da.reshape(k * B, 4 * H), Wh, out=dh_prev.reshape(k * B, H))  # W_h^T da_t
            np.multiply(dc, f_t, out=dc_next)  # f_t dc_t, on to c_{t-1}
            if tr.keep is not None:
                dh_prev *= tr.keep[t]  # a reset h_{t-1} fed nothing to step t
                dc_next *= tr.keep[t]  # nor did a reset c_{t-1}
        dWh = None
        if weights:  # (4H, H): sum_t da_t h_{t-1}^T, h_{t-1} grouped as d_in's rows are
            dWh = sum_outer(d_in, tr.hprev if by_id is None else by_id.rows(tr.hprev))
        d_out = d_in if by_id is None else rows
        return Backward(d_in=d_out, dWh=dWh, dh_sq=dh_sq, dc_sq=dc_sq)

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
