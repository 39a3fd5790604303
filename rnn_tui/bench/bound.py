"""The matmul-only bound of a training step, for every cell: what a step would cost if it did
nothing but its matrix products.

One `Trainer.step()` at (cell, H, B, T) with G gate blocks (RNN 1, GRU 3, LSTM 4), V characters
and profiling on (the trainer always profiles, so the backward products carry k = 2 gradient
rows per stream) performs these products, and `CellMatmulBound` times exactly these, alone:

    forward   T   x (B, H) @ (G, H, H)       W_h h_{t-1} per step, gate-major (`Cell.loop_weights`)
    readout   1   x (B*T, H) @ (H, V)        the logits of the whole window
    dWhy      1   x (V, B*T) @ (B*T, H)      the readout's weight gradient
    dh_out    1   x (B*T, V) @ (V, H)        W_hy^T dy_t for every step
    backward  T-1 x (k*B, G*H) @ (G*H, H)    W_h^T da_t per step (none is needed at t = 1)
    dWh       1   x (G*H, B*T) @ (B*T, H)    sum_t da_t h_{t-1}^T
    spectral  2   x (H, H) @ (H,)            the power iteration on W_hh (RNN only)

Operands have the step's shapes, dtype and memory layouts (W_h^T is built by the cell's own
`loop_weights`), and each product reads and writes where the loops do:
- the forward product writes a per-step slice of a window-sized array where the cell keeps
  it (`Cell.keeps_products`: the RNN's h_t, the GRU's U h_{t-1}), else one scratch reused
  every step (the LSTM's);
- the backward product reads one (k*B, G*H) scratch, which the loop rewrites every step, and
  writes two (k*B, H) buffers taken in turn (`Cell.dh_rows`).
A buffer reused every step stays in cache: the same products on window-sized arrays take
5-10% longer at H=256, so a bound that used them would flatter the share.

Everything is preallocated and every product writes into a preallocated output, so the bound
contains no allocation, no elementwise work, no lookup (dW_x is a scatter, not a product), no
optimizer and no Python beyond one call per product. The step does all of these products and
more, so its time is at least the bound's. `share = bound / step` (both per step) says how
much of a step is matrix products; 1 would mean everything else is free.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from rnn_tui.bench.timed import Timed
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.trainer import Trainer

PROFILE_ROWS = 2  # k: the trainer profiles every step (mean loss + last step's loss)


class CellMatmulBound(Timed):
    """Only the matrix products of one `Trainer.step()` of `cell` at (H, B, T), nothing else
    (see the module docstring for the list)."""

    def __init__(self, cell: str, H: int, B: int, T: int, V: int, dtype: str, seed: int = 0):
        super().__init__(f"matmul bound {cell} H={H} B={B} T={T} {dtype}")
        self.cell, self.H, self.B, self.T = cell, H, B, T
        model = make_cell(cell, V, H, dtype)
        params = model.init_params(np.random.default_rng(seed))
        _, self.WhT = model.loop_weights(params)  # (G, H, H), laid out as the forward loop has it
        self.Wh = params[model.names[1]]  # (G*H, H)
        self.Why = params["Why"]  # (V, H)
        self.W = params[model.recurrent] if model.recurrent else None  # as `power_iteration`
        GH, k = model.gates * H, PROFILE_ROWS
        rng = np.random.default_rng(seed + 1)

        def rand(*shape: int) -> np.ndarray:
            return rng.standard_normal(shape).astype(dtype)

        self.hs = rand(T + 1, B, H)  # hidden states h_0..h_T, time-major as the cells keep them
        # W_h h_{t-1}: every step's, or one scratch, as the cell's loop keeps it
        pre = np.empty((T if model.keeps_products else 1, model.gates, B, H), dtype)
        self.pre = list(pre) if model.keeps_products else [pre[0]] * T
        self.h2 = rand(T * B, H)  # h_1..h_T (and h_0..h_{T-1}) as (B*T) rows
        self.logits = np.empty((T * B, V), dtype)
        self.dlogits = rand(T * B, V)
        self.dWhy = np.empty((V, H), dtype)
        self.dh_out = np.empty((T * B, H), dtype)
        self.da = rand(k * B, GH)  # da_t of both rows: one scratch, rewritten every step
        self.dh = np.empty((2, k * B, H), dtype)  # W_h^T da_t, both rows: two buffers in turn
        self.da_all = rand(T * B, GH)  # row 0's pre-activation gradients, every step
        self.dWh = np.empty((GH, H), dtype)
        self.v = rand(H)
        mm = np.matmul
        self.groups: list[tuple[str, Callable[[], None]]] = [
            (f"forward   {T} x ({B},{H})@({model.gates},{H},{H})", self._forward),
            (f"readout   ({T * B},{H})@({H},{V})", lambda: mm(self.h2, self.Why.T, self.logits)),
            (f"dWhy      ({V},{T * B})@({T * B},{H})", self._dwhy),
            (f"dh_out    ({T * B},{V})@({V},{H})", lambda: mm(self.dlogits, self.Why, self.dh_out)),
            (f"backward  {T - 1} x ({k * B},{GH})@({GH},{H})", self._backward),
            (
                f"dWh       ({GH},{T * B})@({T * B},{H})",
                lambda: mm(self.da_all.T, self.h2, self.dWh),
            ),
        ]
        if model.recurrent is not None:
            self.groups.append((f"spectral  2 x ({H},{H})@({H},)", self._spectral))
        self.group_seconds = [0.0] * len(self.groups)  # summed over every timed pass
        self.calls = 0  # timed passes over all groups

    def _forward(self) -> None:
        """T products h_{t-1} @ W_h^T, each (B, H)@(G, H, H): G products of (B, H)@(H, H)."""
        for h, out in zip(self.hs[:-1], self.pre, strict=True):
            np.matmul(h, self.WhT, out=out)

    def _dwhy(self) -> None:
        np.matmul(self.dlogits.T, self.h2, out=self.dWhy)

    def _backward(self) -> None:
        """T-1 products da_t @ W_h, each (k*B, G*H)@(G*H, H): both gradient rows at once."""
        for t in range(self.T - 1, 0, -1):  # newest first, as the loops go
            np.matmul(self.da, self.Wh, out=self.dh[1 - t % 2])

    def _spectral(self) -> None:
        """One power-iteration step on W_hh: W v, then W^T u."""
        u = self.W @ self.v
        self.W.T @ u

    def _pass(self, record: bool) -> float:
        """All the products of one step once; return their seconds (timed product by product)."""
        total = 0.0
        for i, (_, fn) in enumerate(self.groups):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            total += dt
            if record:
                self.group_seconds[i] += dt
        return total

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._pass(record=False)

    def run(self, seconds: float) -> tuple[int, float]:
        chars, timed = 0, 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            timed += self._pass(record=True)
            chars += self.B * self.T  # one step's worth of characters
            self.calls += 1
        return chars, timed

    @property
    def step_ms(self) -> float:
        """Milliseconds of products per step, from the median round."""
        return self.B * self.T / self.rate * 1e3

    def breakdown(self) -> list[tuple[str, float]]:
        """(product, mean milliseconds per step over every timed pass) for each group."""
        n = max(self.calls, 1)
        return [
            (name, s / n * 1e3)
            for (name, _), s in zip(self.groups, self.group_seconds, strict=True)
        ]


class StepVsBound(Timed):
    """A real `Trainer.step()` of `config` and its `CellMatmulBound`, run one for one so that
    both see the same machine at the same moments. Each is timed in wall time and in this
    thread's CPU time; CPU time leaves out the moments another process held the core, so on
    a shared machine its ratio is the steadier one (on a quiet one the two agree). A step
    that ran the held-out evaluation is left out, as in `TrainerBench`."""

    def __init__(self, corpus: Corpus, config: Config) -> None:
        c = config
        super().__init__(f"{c.cell} H={c.hidden} B={c.batch} T={c.seq_len} {c.dtype}")
        self.config = config
        self.trainer = Trainer(corpus, config)
        self.bound = CellMatmulBound(
            c.cell, c.hidden, c.batch, c.seq_len, corpus.vocab.size, c.dtype
        )
        self.step_wall: list[float] = []  # seconds of each timed step
        self.step_cpu: list[float] = []
        self.bound_wall: list[float] = []  # seconds of each pass over the bound's products
        self.bound_cpu: list[float] = []

    def _step(self) -> tuple[float, float, bool]:
        """One `trainer.step()`: (wall seconds, CPU seconds, whether it evaluated)."""
        if self.trainer.diverged:  # a diverged trainer refuses to step: start over, untimed
            self.trainer.reset()
        w0, c0 = time.perf_counter(), time.thread_time()
        rec = self.trainer.step()
        return time.perf_counter() - w0, time.thread_time() - c0, rec.val_step == rec.step

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._step()
            self.bound._pass(record=False)

    def run(self, seconds: float) -> tuple[int, float]:
        chars, timed = 0, 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            wall, cpu, evaluated = self._step()
            if not evaluated:
                self.step_wall.append(wall)
                self.step_cpu.append(cpu)
                chars += self.config.batch * self.config.seq_len
                timed += wall
            c0 = time.thread_time()
            self.bound_wall.append(self.bound._pass(record=True))
            self.bound_cpu.append(time.thread_time() - c0)
            self.bound.calls += 1
        return chars, timed

    def medians_ms(self) -> tuple[float, float, float, float]:
        """Median milliseconds: (bound wall, step wall, bound CPU, step CPU)."""

        def ms(x: list[float]) -> float:
            return 1e3 * statistics.median(x) if x else float("nan")

        return ms(self.bound_wall), ms(self.step_wall), ms(self.bound_cpu), ms(self.step_cpu)
