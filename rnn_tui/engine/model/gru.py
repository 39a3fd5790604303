"""The GRU (gated recurrent unit), batched, with exact truncated BPTT.

    z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)          update gate
    r_t = sigmoid(W_r x_t + U_r h_{t-1} + b_r)          reset gate
    n_t = tanh(W_n x_t + r_t * (U_n h_{t-1}) + b_n)     candidate state
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}               keep a z_t share of the old state
    y_t = W_hy h_t + b_y                                logits over the next character

This is the cuDNN / PyTorch form: r_t multiplies U_n h_{t-1} after the product, so the three
recurrent products are one fused matmul h_{t-1} @ Wh.T with Wh = [U_z; U_r; U_n]: (3H, H).
The gates are stacked in the order (z, r, n) in Wx, Wh and b.

Backward, one step (dh_t already holds W_hy^T dy_t + what step t+1 sent back), with a_n the
pre-activation inside n_t's tanh:

    da_n = dh_t * (1 - z_t) * tanh'(a_n)
    da_z = dh_t * (h_{t-1} - n_t) * sigmoid'(a_z)
    da_r = da_n * (U_n h_{t-1}) * sigmoid'(a_r)
    dU_t = (da_z, da_r, r_t * da_n)                     the gradients of U_z h, U_r h, U_n h
    dh_{t-1} = W_h^T dU_t + z_t * dh_t,  dW_h = sum_t dU_t h_{t-1}^T
    db = sum_t (da_z, da_r, da_n),  column x_t of dW_x += (da_z, da_r, da_n)

The direct path h_{t-1} -> z_t * h_{t-1} carries the gradient back with a factor z_t and no
weight matrix, the GRU's counterpart of the LSTM's cell.

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
    dtanh_into,
    each_step,
    gate_inputs,
    logits_of,
    output_steps,
    sigmoid,
    sigmoid_of_negated,
    squared_norms,
    sum_outer,
)

K_STEPS = 4  # steps whose local derivatives the backward pass builds together (in cache)


@dataclass(frozen=True)
class GRUTrace(Trace):
    gates: np.ndarray  # (T, B, 3, H): z_t, r_t, n_t
    un: np.ndarray  # (T, B, H): U_n h_{t-1}
    rn: np.ndarray  # (T, B, H): r_t U_n h_{t-1}
    dz: np.ndarray  # (T, B, H): h_{t-1} - n_t


class GRU(Cell):
    """GRU cell. Parameters: Wx (3H, V), Wh (3H, H), b (3H,), Why (V, H), by (V,);
    gate blocks of Wx, Wh, b in the order z, r, n. State (h,), (B, H)."""

    name = "gru"
    gates = 3  # z, r, n
    sigmoid_gates = 2  # z, r

    def _run(
        self,
        params: Params,
        Xt: np.ndarray,
        state: State,
        keep: np.ndarray | None = None,
        backward: bool = True,
    ) -> GRUTrace:
        """A window's forward pass. Xt: (T, B) ids; keep: (T, B, 1) or None, 0 where the state
        is reset before step t. `backward` changes nothing here: the backward pass builds its
        local derivatives from what the trace keeps, a few steps at a time (writing them in
        this loop instead, as the LSTM's does, was 1% slower at H=128)."""
        T, B = Xt.shape
        H = self.H
        table, WhT = self.loop_weights(params)  # z, r columns negated: -a there
        # Gate-major storage, (3, T, B, H): each step's z, r and n blocks are contiguous for
        # all streams (passes over strided blocks are several times slower); the trace shows
        # it as (T, B, 3, H). Filled with W_x x_t + b, turned into z, r, n in place.
        gm = gate_inputs(table, Xt, 3)
        z, r, n = gm  # (T, B, H) contiguous blocks
        uh_all = self.empty(T, 3, B, H)  # U h_{t-1} of every step: -U_z h, -U_r h, U_n h
        uh_zr = uh_all[:, :2]  # (T, 2, B, H): -U_z h, -U_r h
        un = uh_all[:, 2]  # (T, B, H): U_n h_{t-1}
        hs = self.empty(T + 1, B, H)
        hs[0] = state[0]
        hprev = hs[:-1] if keep is None else self.empty(T, B, H)  # h_{t-1} as step t read it
        rn, dz = self.empty(T, B, H), self.empty(T, B, H)  # r_t U_n h, h_{t-1} - n_t: kept
        one = self.scalar(1)
        # One step's rows: iterating gives them faster than indexing by t.
        zr_rows = gm[:2].transpose(1, 0, 2, 3)  # (T, 2, B, H): step t's z and r blocks
        steps = zip(zr_rows, z, r, n, uh_all, uh_zr, un, rn, dz, hs[:-1], hprev, hs[1:],
                    each_step(keep, T), strict=True)  # fmt: skip
        # exp(-a) of a gate far below 0 overflows to inf: sigmoid(a) = 1 / (1 + inf) = 0, exact.
        with np.errstate(over="ignore"):
            for zr, z_t, r_t, n_t, uh, uh_zr_t, un_t, rn_t, dz_t, h_last, h_prev, h_t, kp in steps:
                if kp is not None:
                    np.multiply(h_last, kp, out=h_prev)  # h_{t-1}, 0 after a reset
                np.matmul(h_prev, WhT, out=uh)  # -U_z h, -U_r h, U_n h: one product per gate
                zr += uh_zr_t  # -a_z, -a_r: (2, B, H)
                sigmoid_of_negated(zr, one)  # z_t, r_t
                n_t += np.multiply(r_t, un_t, out=rn_t)  # a_n = W_n x_t + b_n + r_t U_n h
                np.tanh(n_t, out=n_t)  # n_t = tanh(a_n)
                np.subtract(h_prev, n_t, out=dz_t)  # h_{t-1} - n_t
                np.multiply(dz_t, z_t, out=h_t)
                h_t += n_t  # h_t = n_t + z_t (h_{t-1} - n_t) = (1 - z_t) n_t + z_t h_{t-1}
        gates = gm.transpose(1, 2, 0, 3)  # (T, B, 3, H): z_t, r_t, n_t
        return GRUTrace(hs=hs, hprev=hprev, keep=keep, gates=gates, un=un, rn=rn, dz=dz)

    def _backward(
        self,
        params: Params,
        tr: GRUTrace,
        dh_out: np.ndarray,
        profile: bool,
        weights: bool = True,
        by_id: ByInput | None = None,
    ) -> Backward:
        """dh_out: (T, B, H) = W_hy^T dy_t. Returns (da_z, da_r, da_n): (T, B, 3, H) for every
        step, dW_h, and the squared norms of dL/dh_t for the profile."""
        Wh = params["Wh"]
        T, B, H = dh_out.shape
        z, r, n = tr.gates[:, :, 0], tr.gates[:, :, 1], tr.gates[:, :, 2]  # (T, B, H) each

        # The local derivatives of every step: K[:, :, k] turns dh_t into dU_t's block k. (Built
        # in contiguous scratch, each block written once into K: in-place passes over K's
        # strided blocks are several times slower.) A few steps at a time, so that the ten
        # passes find their operands in cache: 0.2 ms less a step at H=256, B=32, T=32 than
        # ten passes over the window's 1 MB arrays.
        Kn, K = self.empty(T, B, H), self.empty(T, B, 3, H)
        scratch = self.empty(K_STEPS, B, H)
        one = self.scalar(1)
        for s in range(0, T, K_STEPS):
            e = min(T, s + K_STEPS)
            z_s, r_s, kn, tmp = z[s:e], r[s:e], Kn[s:e], scratch[: e - s]
            dtanh_into(n[s:e], out=kn)  # tanh'(a_n)
            kn *= np.subtract(one, z_s, out=tmp)  # da_n / dh_t = (1 - z_t) tanh'(a_n)
            tmp *= z_s  # sigmoid'(a_z) = z_t (1 - z_t)
            np.multiply(tr.dz[s:e], tmp, out=K[s:e, :, 0])  # (h_{t-1} - n_t) sigmoid'(a_z)
            np.subtract(one, r_s, out=tmp)
            tmp *= tr.rn[s:e]  # (1 - r_t) r_t U_n h_{t-1} = sigmoid'(a_r) U_n h_{t-1}
            np.multiply(tmp, kn, out=K[s:e, :, 1])  # Kn (U_n h_{t-1}) sigmoid'(a_r)
            np.multiply(kn, r_s, out=K[s:e, :, 2])  # Kn r_t

        dh_two = self.dh_rows(T, B, profile)  # (2, k, B, H): dL/dh_t, buffers used in turn
        k = dh_two.shape[1]
        has_out = output_steps(dh_out)  # (T,) the steps with an output gradient
        d_in = self.empty(T, B, 3, H)  # row 0's dU_t, every step
        da_n = self.empty(T, B, H)  # row 0's da_n = dh_t Kn, for the input side
        dh_sq = self.empty(T, k, B) if profile else None  # ||dL/dh_t||^2 for the profile
        # One row (k = 1): each step's dU goes straight into d_in. Two, or rows grouped by
        # input id: into a scratch that stays in cache for the matmul, row 0 copied out
        # (faster than a window of both rows).
        direct = k == 1 and by_id is None
        dU_rows = d_in[::-1, None] if direct else repeat(self.empty(k, B, 3, H), T)
        rows = d_in.reshape(T * B, 3 * H)  # where a grouped row goes
        dh_direct = self.empty(k, B, H)  # scratch: z_t dh_t
        # Newest step first; iterating gives the rows faster than indexing by t, and the local
        # derivatives get a k axis of 1: a ufunc on operands of equal ndim is twice as fast.
        sqs = each_step(dh_sq, T, newest_first=True)
        steps = zip(range(T - 1, -1, -1), dU_rows, K[::-1, None], Kn[::-1], z[::-1, None],
                    da_n[::-1], sqs, strict=True)  # fmt: skip
        for t, dU, K_t, Kn_t, z_t, da_n_t, sq in steps:
            dh, dh_prev = dh_two[t % 2], dh_two[1 - t % 2]  # dh holds what step t+1 sent back
            if has_out[t]:
                add_output_grad(dh, dh_out[t], profile and t == T - 1, B * T)  # + W_hy^T dy_t
            if sq is not None:
                squared_norms(dh, out=sq)  # ||dL/dh_t||^2 of each row and stream: (k, B)
            np.multiply(dh[:, :, None], K_t, out=dU)  # dU_t = (da_z, da_r, r_t da_n)
            np.multiply(dh[0], Kn_t, out=da_n_t)  # da_n = dh_t Kn
            if by_id is not None:
                rows[by_id.at[t]] = dU[0].reshape(B, 3 * H)  # keep row 0's, grouped by input
            elif k == 2:
                d_in[t] = dU[0]  # keep row 0's
            if t == 0:
                break  # dL/dh_0 is not needed
            np.matmul(dU.reshape(k * B, 3 * H), Wh, out=dh_prev.reshape(k * B, H))  # W_h^T dU_t
            dh_prev += np.multiply(dh, z_t, out=dh_direct)  # + z_t dh_t, the direct path
            if tr.keep is not None:
                dh_prev *= tr.keep[t]  # a reset h_{t-1} fed nothing to step t

        dWh = None
        if weights:  # (3H, H): sum_t dU_t h_{t-1}^T, h_{t-1} grouped as d_in's rows are
            dWh = sum_outer(d_in, tr.hprev if by_id is None else by_id.rows(tr.hprev))
        # The input side of n sits outside r_t: it gets da_n, not r_t da_n. Overwriting that
        # block (after dW_h used it) turns d_in into (da_z, da_r, da_n).
        if by_id is None:
            d_in[:, :, 2] = da_n
            return Backward(d_in=d_in, dWh=dWh, dh_sq=dh_sq)
        rows[:, 2 * H :] = by_id.rows(da_n)  # da_n, grouped
        return Backward(d_in=rows, dWh=dWh, dh_sq=dh_sq)

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        H = self.H
        h = state[0]
        ax = params["Wx"].T[x] + params["b"]  # (B, 3H): W x_t + b
        uh = h @ params["Wh"].T  # (B, 3H): U h_{t-1}
        zr = sigmoid(ax[:, : 2 * H] + uh[:, : 2 * H])  # z, r
        z, r = zr[:, :H], zr[:, H:]
        n = np.tanh(ax[:, 2 * H :] + r * uh[:, 2 * H :])  # candidate state
        h = n + z * (h - n)  # h_t = (1 - z_t) n_t + z_t h_{t-1}
        return logits_of(params, h), (h,)  # logits (B, V)
