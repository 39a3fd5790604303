"""The vanilla (Elman) RNN, batched, with exact truncated BPTT.

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      x_t one-hot, so W_xh x_t is column x_t of W_xh
    y_t = W_hy h_t + b_y                           logits over the next character
    L   = mean_t,b  -log softmax(y_t)[target]      nats per character

Backward, with a_t the pre-activation inside the tanh:

    dh_t = W_hy^T dy_t + W_hh^T da_{t+1}           from h_t's own output, and from step t+1
    da_t = dh_t * (1 - h_t^2)                      tanh'(a_t) = 1 - tanh(a_t)^2
    dW_hh = sum_t da_t h_{t-1}^T,  db_h = sum_t da_t,  column x_t of dW_xh += da_t

Arrays hold one row per stream: h: (B, H), so W_hh h is written `h @ Whh.T`. The output layer,
the input lookup and the gradient profile are shared with the other cells (see `base.py`).
"""

from __future__ import annotations

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
    logits_of,
    output_steps,
    squared_norms,
    sum_outer,
)


class RNN(Cell):
    """Vanilla tanh RNN. Parameters: Wxh (H, V), Whh (H, H), bh (H,), Why (V, H), by (V,)."""

    name = "rnn"
    recurrent = "Whh"
    names = ("Wxh", "Whh", "bh")

    def _run(
        self,
        params: Params,
        Xt: np.ndarray,
        state: State,
        keep: np.ndarray | None = None,
        backward: bool = True,
    ) -> Trace:
        """Hidden states for a window. Xt: (T, B) ids; keep: (T, B, 1) or None, 0 where the
        state is reset before step t. Returns hs: (T+1, B, H) and hprev: (T, B, H), all the
        backward pass needs, so `backward` changes nothing here (tanh' = 1 - h_t^2 written in
        the loop was no faster than one pass after it)."""
        T, B = Xt.shape
        table, (WhhT,) = self.loop_weights(params)  # (V, H) = (W_xh + b_h)^T, (H, H) = W_hh^T
        xin = table[Xt]  # (T, B, H): W_xh x_t + b_h for every step
        hs = self.empty(T + 1, B, self.H)
        hs[0] = state[0]
        hprev = hs[:-1] if keep is None else self.empty(T, B, self.H)  # h_{t-1} as read
        # One step's rows, (B, H) each: iterating gives them faster than indexing by t.
        steps = zip(xin, hs[:-1], hprev, hs[1:], each_step(keep, T), strict=True)
        for x_t, h_last, h_prev, h_t, keep_t in steps:
            if keep_t is not None:
                np.multiply(h_last, keep_t, out=h_prev)  # h_{t-1}, 0 after a reset
            a = np.matmul(h_prev, WhhT, out=h_t)  # W_hh h_{t-1}
            a += x_t  # a_t = W_xh x_t + W_hh h_{t-1} + b_h
            np.tanh(a, out=a)  # h_t = tanh(a_t)
        return Trace(hs=hs, hprev=hprev, keep=keep)

    def _backward(
        self,
        params: Params,
        tr: Trace,
        dh_out: np.ndarray,
        profile: bool,
        weights: bool = True,
        by_id: ByInput | None = None,
    ) -> Backward:
        """dh_out: (T, B, H) = W_hy^T dy_t. Returns da_t: (T, B, H) for every step, dW_hh, and
        the squared norms of dL/dh_t for the profile."""
        Whh = params["Whh"]
        T, B, H = dh_out.shape
        dh_two = self.dh_rows(T, B, profile)  # (2, k, B, H): dL/dh_t, buffers used in turn
        k = dh_two.shape[1]
        has_out = output_steps(dh_out)  # (T,) the steps with an output gradient
        tanh_d = dtanh_into(tr.hs[1:], out=self.empty(T, B, H))  # tanh'(a_t) = 1 - h_t^2
        d_in = self.empty(T, B, H)  # row 0's da_t, every step (grouped rows with by_id)
        dh_sq = self.empty(T, k, B) if profile else None  # ||dL/dh_t||^2 for the profile
        # One row (k = 1): each step's da goes straight into d_in. Two, or grouped rows: into a
        # scratch that stays in cache for the matmul, row 0 copied out (faster than a window
        # of both rows).
        direct = k == 1 and by_id is None
        da_rows = d_in[::-1, None] if direct else repeat(self.empty(k, B, H), T)
        rows = d_in.reshape(T * B, H)  # where a grouped row goes
        # Newest step first; iterating gives the (k, B, H) rows faster than indexing by t, and
        # a (1, B, H) row of tanh_d multiplies a (k, B, H) one twice as fast as a (B, H) row.
        sqs = each_step(dh_sq, T, newest_first=True)
        steps = zip(range(T - 1, -1, -1), da_rows, tanh_d[::-1, None], sqs, strict=True)
        for t, da, tanh_d_t, sq in steps:
            dh, dh_prev = dh_two[t % 2], dh_two[1 - t % 2]  # dh holds W_hh^T da_{t+1}
            if has_out[t]:
                add_output_grad(dh, dh_out[t], profile and t == T - 1, B * T)  # + W_hy^T dy_t
            if sq is not None:
                squared_norms(dh, out=sq)  # ||dL/dh_t||^2 of each row and stream: (k, B)
            np.multiply(dh, tanh_d_t, out=da)  # da_t = dh_t * tanh'(a_t)
            if by_id is not None:
                rows[by_id.at[t]] = da[0]  # keep row 0's, grouped by input id
            elif k == 2:
                d_in[t] = da[0]  # keep row 0's
            if t == 0:
                break  # dL/dh_0 is not needed
            np.matmul(da.reshape(k * B, H), Whh, out=dh_prev.reshape(k * B, H))  # W_hh^T da_t
            if tr.keep is not None:
                dh_prev *= tr.keep[t]  # a reset h_{t-1} fed nothing to step t
        dWh = None
        if weights:  # (H, H): sum_t da_t h_{t-1}^T, h_{t-1} grouped as d_in's rows are
            dWh = sum_outer(d_in, tr.hprev if by_id is None else by_id.rows(tr.hprev))
        return Backward(d_in=d_in if by_id is None else rows, dWh=dWh, dh_sq=dh_sq)

    def step(self, params: Params, x: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        h = np.tanh(params["Wxh"].T[x] + state[0] @ params["Whh"].T + params["bh"])  # (B, H)
        return logits_of(params, h), (h,)  # logits (B, V)
