"""What the training benchmark times: the plain reference and the real `Trainer`, each a
`Timed` configuration run in short interleaved rounds by `rnn_tui.bench.train` (the matmul-only
bound of every cell is in `rnn_tui.bench.bound`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus
from rnn_tui.engine.model import reference
from rnn_tui.engine.model.rnn import RNN
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError

REF_SEQ_LEN = 25  # min-char-rnn's window
REF_LR = 0.1  # min-char-rnn's Adagrad learning rate
REF_CLIP = 5.0  # min-char-rnn clips every gradient entry to [-5, 5]


@dataclass
class Timed:
    """One configuration: a label, its per-round rates, and how to run it for a while."""

    label: str
    rates: list[float] = field(default_factory=list)  # chars/s of each round

    def warm(self, steps: int) -> None:
        """Untimed steps: first-touch allocations, caches, lazy imports."""
        raise NotImplementedError

    def run(self, seconds: float) -> tuple[int, float]:
        """Train (or multiply) for about `seconds`; return (chars, timed seconds)."""
        raise NotImplementedError

    def round(self, seconds: float) -> None:
        """Run one timing round and keep its rate."""
        chars, dt = self.run(seconds)
        if dt > 0 and chars > 0:
            self.rates.append(chars / dt)

    @property
    def rate(self) -> float:
        """Median chars/s over the rounds (NaN before any round)."""
        return statistics.median(self.rates) if self.rates else float("nan")

    @property
    def spread(self) -> float:
        """Interquartile range / median of the round rates: how noisy this configuration was."""
        if len(self.rates) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.rates, n=4, method="inclusive")
        return (q3 - q1) / self.rate


class ReferenceBench(Timed):
    """The plain reference model trained the min-char-rnn way: one stream, float64, Adagrad."""

    def __init__(self, corpus: Corpus, hidden: int, seed: int = 1234) -> None:
        super().__init__(f"reference H={hidden} B=1 T={REF_SEQ_LEN} float64")
        model = RNN(corpus.vocab.size, hidden, "float64")  # only for its parameter shapes and init
        self.params = model.init_params(np.random.default_rng(seed))
        self.mem = {k: np.zeros_like(v) for k, v in self.params.items()}  # Adagrad memory
        self.data: list[int] = corpus.train.tolist()  # min-char-rnn reads ids from a list
        if len(self.data) < REF_SEQ_LEN + 2:
            raise UserError(
                f"corpus {corpus.path} has {len(self.data)} training characters; the reference"
                f" needs {REF_SEQ_LEN + 2}"
            )
        self.hidden = hidden
        self.hprev = np.zeros((hidden, 1))
        self.p = 0  # position of the next window

    def _step(self) -> int:
        """One window: loss and gradients, clip each entry, Adagrad update. Returns chars."""
        T = REF_SEQ_LEN
        if self.p + T + 1 >= len(self.data):  # end of the text: start over with a zero state
            self.p = 0
            self.hprev = np.zeros((self.hidden, 1))
        inputs = self.data[self.p : self.p + T]
        targets = self.data[self.p + 1 : self.p + T + 1]
        _, grads, self.hprev = reference.loss_and_grads(self.params, inputs, targets, self.hprev)
        for k, param in self.params.items():
            dparam, mem = grads[k], self.mem[k]
            np.clip(dparam, -REF_CLIP, REF_CLIP, out=dparam)  # mitigate exploding gradients
            mem += dparam * dparam
            param += -REF_LR * dparam / np.sqrt(mem + 1e-8)  # Adagrad update
        self.p += T
        return T

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._step()

    def run(self, seconds: float) -> tuple[int, float]:
        chars = 0
        t0 = time.perf_counter()
        while True:
            chars += self._step()
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return chars, dt


class TrainerBench(Timed):
    """The real `Trainer`, timed over whole `step()` calls.

    A step that also ran the periodic held-out evaluation is left out of the rates (the reference
    does no evaluation); its cost is measured apart, by `eval_seconds`, and shown amortized.
    """

    def __init__(self, corpus: Corpus, config: Config) -> None:
        c = config
        super().__init__(f"{c.cell} H={c.hidden} B={c.batch} T={c.seq_len} {c.dtype}")
        self.config = config
        self.trainer = Trainer(corpus, config)
        self.eval_steps = 0  # timed steps skipped because they evaluated
        self.eval_seconds: float | None = None  # one `evaluate()` call, if measured

    def _step(self) -> tuple[int, float, bool]:
        """One `trainer.step()`: (chars, seconds, whether it evaluated)."""
        if self.trainer.diverged:  # a diverged trainer refuses to step: start over, untimed
            self.trainer.reset()
        t0 = time.perf_counter()
        rec = self.trainer.step()
        dt = time.perf_counter() - t0
        return self.config.batch * self.config.seq_len, dt, rec.val_step == rec.step

    def warm(self, steps: int) -> None:
        for _ in range(steps):
            self._step()

    def run(self, seconds: float) -> tuple[int, float]:
        chars, timed = 0, 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            n, dt, evaluated = self._step()
            if evaluated:
                self.eval_steps += 1
                continue
            chars += n
            timed += dt
        return chars, timed

    def measure_eval(self) -> None:
        """Time one held-out evaluation, as `step()` runs it every `eval_every` steps."""
        t0 = time.perf_counter()
        self.trainer.evaluate()
        self.eval_seconds = time.perf_counter() - t0

    @property
    def rate_with_eval(self) -> float:
        """chars/s with the evaluation's cost spread over its `eval_every` steps."""
        if self.eval_seconds is None:
            return self.rate
        chars = self.config.batch * self.config.seq_len
        per_step = chars / self.rate + self.eval_seconds / self.config.eval_every
        return chars / per_step
