"""The training loop: batches from the corpus, one BPTT window per `step()`, immutable records out.

Pure NumPy. The app runs a `Trainer` in a worker process and only ever sees the `StepRecord`s
it returns and the parameter copies it hands out, never the live arrays.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rnn_tui.engine.blas import pin_blas_threads
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Corpus, encode
from rnn_tui.engine.model import Cell, Params, State, make_cell
from rnn_tui.engine.model.base import LN2, cross_entropy, last_ratio, power_iteration
from rnn_tui.engine.optim import OPTIMIZERS, Optimizer, clip_grads, global_norm, lr_in_force
from rnn_tui.engine.recall import RecallTask, key_recall, recall_reach, recall_task
from rnn_tui.engine.text import check_fits
from rnn_tui.errors import UserError


@dataclass(frozen=True)
class StepRecord:
    """What one training step did. Arrays are read-only copies: safe to send anywhere."""

    step: int  # optimizer steps taken so far (this one included)
    chars: int  # training characters read so far
    loss: float  # this window's mean loss, nats/char
    smooth_loss: float  # exponential moving average of `loss`
    val_loss: float | None  # latest held-out loss, nats/char; None before the first evaluation
    val_step: int | None  # the step at which `val_loss` was measured
    grad_t: np.ndarray  # (T,) mean_b ||dS_b/dh_t||, S_b = the sum of the stream's T losses
    grad_last_t: np.ndarray  # (T,) mean_b ||dl_bT/dh_t||: the last step's loss carried back
    grad_norm: float  # global gradient norm before clipping
    clipped: bool  # whether clipping changed the gradient
    chars_per_s: float  # training throughput, smoothed over recent steps
    lr: float  # learning rate used for this step
    diverged: bool  # loss, gradient or weights turned NaN/inf: stopped, last finite weights kept
    cell_grad_t: np.ndarray | None = None  # (T,) mean_b ||dS_b/dc_t|| (LSTM only)
    spectral_norm: float | None = None  # largest singular value of W_hh (vanilla RNN only)
    key_recall: float | None = None  # held-out key recall at `val_step` (long-lag corpora only)
    recall_chance: float | None = None  # recall of a guess, 1 / keys (long-lag corpora only)
    recall_reach: float | None = None  # median ||dlog p(key)/dx_key|| / ||.../dx_'='|| at
    # `val_step`: how much of the recall's gradient reaches the key (long-lag corpora only)

    def to_json(self, cell: str) -> dict[str, Any]:
        """One metrics line: every field, arrays as lists, NaN/inf as null."""

        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        def nums(a: np.ndarray | None) -> list[float | None] | None:
            return None if a is None else [num(float(g)) for g in a]

        return {
            "step": self.step,
            "chars": self.chars,
            "cell": cell,
            "time": time.time(),
            "loss": num(self.loss),
            "smooth_loss": num(self.smooth_loss),
            "val_loss": num(self.val_loss),
            "val_bits": num(self.val_bits),
            "val_step": self.val_step,
            "key_recall": num(self.key_recall),
            "recall_chance": self.recall_chance,
            "recall_reach": num(self.recall_reach),
            "chars_per_s": num(self.chars_per_s),
            "grad_t": nums(self.grad_t),
            "grad_last_t": nums(self.grad_last_t),
            "cell_grad_t": nums(self.cell_grad_t),
            "spectral_norm": num(self.spectral_norm),
            "grad_norm": num(self.grad_norm),
            "clipped": self.clipped,
            "lr": self.lr,
            "diverged": self.diverged,
        }

    @classmethod
    def from_json(cls, data: Any) -> StepRecord:
        """A record back from one metrics line (`to_json`): null numbers as NaN, arrays as
        read-only float64. Anything that is not such a line raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("a metrics line must be a JSON object")

        def integer(key: str, optional: bool = False) -> int | None:
            x = data.get(key)
            if x is None and optional:
                return None
            if not isinstance(x, int) or isinstance(x, bool) or x < 0:
                raise ValueError(f"{key} must be a count, not {x!r:.40}")
            return x

        def num(key: str, optional: bool = False) -> float | None:
            if key not in data and not optional:
                raise ValueError(f"{key} is missing")
            x = data.get(key)
            if x is None:
                return None if optional else math.nan  # to_json writes NaN and inf as null
            if not isinstance(x, (int, float)) or isinstance(x, bool):
                raise ValueError(f"{key} must be a number, not {x!r:.40}")
            return float(x)

        def nums(key: str, optional: bool = False) -> np.ndarray | None:
            x = data.get(key)
            if x is None and optional:
                return None
            if not isinstance(x, list) or not all(
                g is None or (isinstance(g, (int, float)) and not isinstance(g, bool)) for g in x
            ):
                raise ValueError(f"{key} must be a list of numbers")
            a = np.array([math.nan if g is None else g for g in x], np.float64)  # (T,)
            a.flags.writeable = False
            return a

        grad_t, grad_last_t = nums("grad_t"), nums("grad_last_t")
        assert grad_t is not None and grad_last_t is not None
        if not 0 < len(grad_t) == len(grad_last_t):
            raise ValueError("grad_t and grad_last_t must be profiles of one window length")
        return cls(
            step=integer("step") or 0,
            chars=integer("chars") or 0,
            loss=num("loss") or 0.0,
            smooth_loss=num("smooth_loss") or 0.0,
            val_loss=num("val_loss", True),
            val_step=integer("val_step", True),
            grad_t=grad_t,
            grad_last_t=grad_last_t,
            grad_norm=num("grad_norm") or 0.0,
            clipped=bool(data.get("clipped")),
            chars_per_s=num("chars_per_s", True) or 0.0,
            lr=num("lr") or 0.0,
            diverged=bool(data.get("diverged")),
            cell_grad_t=nums("cell_grad_t", True),
            spectral_norm=num("spectral_norm", True),
            key_recall=num("key_recall", True),
            recall_chance=num("recall_chance", True),
            recall_reach=num("recall_reach", True),
        )

    @property
    def bits(self) -> float:
        """Smoothed training loss in bits per character."""
        return self.smooth_loss / LN2

    @property
    def val_bits(self) -> float | None:
        return None if self.val_loss is None else self.val_loss / LN2

    @property
    def last_ratio(self) -> float:
        """See `rnn_tui.engine.model.base.last_ratio`."""
        return last_ratio(self.grad_last_t)


class TrainerDiverged(RuntimeError):
    """Raised by `step()` once training has diverged; `reset()` clears it."""


class Trainer:
    """Trains one model on one corpus.

    Batching: the training ids are cut into B equal segments, one per stream; every step reads
    the next T characters of each segment, and the hidden state carries over between windows
    (truncated BPTT). At the end of the segments every stream starts over with a zero state.
    """

    def __init__(self, corpus: Corpus, config: Config) -> None:
        pin_blas_threads(1)  # a process that trains also tunes its allocator (keep_freed_memory)
        self.corpus = corpus  # the text being learned
        self.config = config  # settings; lr and clipping may be changed while running
        self.model: Cell = make_cell(config.cell, corpus.vocab.size, config.hidden, config.dtype)
        self.reset_ids = np.array(
            [corpus.vocab.chars.index(ch) for ch in config.reset_at if ch in corpus.vocab.chars],
            np.int32,
        )  # ids after which a stream's state is reset (e.g. the newline)
        check_fits(len(corpus.train), config, corpus.path)
        self.recall_task: RecallTask | None = recall_task(corpus)  # None: not a long-lag corpus
        self.starts, self.segment = self._streams(corpus.train, config.batch, config.seq_len + 1)
        self.reset()

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Fresh weights from the seed, fresh optimizer, back to the start of the text."""
        c = self.config
        rng = np.random.default_rng(c.seed)
        self.params: Params = self.model.init_params(rng, c.rec_gain, c.forget_bias)  # live
        self.optimizer: Optimizer = OPTIMIZERS[c.optimizer](self.params)
        self.state: State = self.model.init_state(c.batch)  # hidden state per stream
        self.pos = 0  # offset of the next window inside each segment
        self.steps = 0  # optimizer steps taken
        self.chars = 0  # training characters consumed
        self.smooth: float | None = None  # smoothed loss
        self.val_loss: float | None = None
        self.val_step: int | None = None
        self.key_recall: float | None = None  # measured with val_loss, on long-lag corpora
        self.recall_reach: float | None = None  # likewise
        self.rate: float | None = None  # smoothed chars/s
        self.diverged = False
        self.last: StepRecord | None = None
        # What `_update` writes the next update into: weights and optimizer state.
        self._spare: tuple[Params, dict[str, np.ndarray]] | None = None
        H = self.model.H
        v = rng.standard_normal(H).astype(self.model.dtype)  # power-iteration vector for W_hh
        self._spec_v = v / np.linalg.norm(v)  # unit length, as power_iteration assumes

    def _update(self, grads: Params, lr: float, norm: float) -> bool:
        """One optimizer update, taken only if every weight and state entry it gives is finite.

        The update is written into a spare set of arrays (`Optimizer.update_into`) while the
        live weights and state stay as they were; a finite result trades places with them (the
        dicts keep their identity, their arrays swap), anything else is dropped. Nothing is
        copied: the old set becomes the next update's spare. The state is checked unless the
        optimizer shows that finite weights imply it is finite for gradients of global norm
        `norm` (`Optimizer.state_follows_weights`). Returns whether the update was taken."""
        if self._spare is None:
            params, state = self.params, self.optimizer.state
            self._spare = (
                {k: np.empty_like(v) for k, v in params.items()},
                {k: np.empty_like(v) for k, v in state.items()},
            )
        new, new_state = self._spare
        self.optimizer.update_into(self.params, grads, lr, new, new_state)
        arrays = list(new.values())
        if not self.optimizer.state_follows_weights(norm):
            arrays += new_state.values()
        if not all(bool(np.isfinite(a).all()) for a in arrays):
            return False  # never keep (or hand out) non-finite weights or state
        for live, spare in ((self.params, new), (self.optimizer.state, new_state)):
            for k in live:
                live[k], spare[k] = spare[k], live[k]
        return True

    def exact_spectral_norm(self) -> float | None:
        """‖W_hh‖₂ exactly (an SVD), or None for a gated cell (no W_hh). The last step's record
        takes it in place of its tracked estimate, and tracking goes on from the top singular
        vector.

        Each step moves the tracking estimate one power iteration on from the previous step's
        vector: cheap, and right while the weights drift, but a step that throws W_hh far
        leaves it lagging for a few steps (6.7 for an exact 28). Where the screen holds still on
        one step, as at the pause after a blow-up, the exact value is what it should show."""
        if self.model.recurrent is None:
            return None
        W = self.params[self.model.recurrent].astype(np.float64)  # (H, H)
        _, s, vt = np.linalg.svd(W)  # s: (H,) largest first; vt[0]: the direction it stretches
        self._spec_v = vt[0].astype(self.model.dtype)  # unit length, as power_iteration assumes
        sigma = float(s[0])
        if self.last is not None:
            self.last = replace(self.last, spectral_norm=sigma)
        return sigma

    def set_config(self, config: Config) -> None:
        """Change settings that need no new weights (lr, clipping, sampling, evaluation)."""
        fixed = ("cell", "hidden", "batch", "dtype", "optimizer")
        for name in fixed:
            if getattr(config, name) != getattr(self.config, name):
                raise ValueError(f"{name} cannot change while training; make a new Trainer")
        self.config = config

    def snapshot(self) -> Params:
        """Copies of the weights, safe to read while training goes on."""
        return {k: v.copy() for k, v in self.params.items()}

    # -- training ----------------------------------------------------------------------------

    def _streams(self, ids: np.ndarray, B: int, need: int) -> tuple[np.ndarray, int]:
        """Start of each of B streams over `ids`, and the segment length they all share.

        Segments are equal cuts of the text; with reset characters, each start moves forward
        to just after one, so windows of a line's length stay aligned with the lines, unless
        that leaves some stream fewer than `need` characters (lines longer than a cut): then
        the cuts stay equal and resets still happen, only not at window starts."""

        def shortest(starts: np.ndarray) -> int:
            return int(max(0, (np.append(starts[1:], len(ids)) - starts).min()))

        starts = np.arange(B) * (len(ids) // B)
        if len(self.reset_ids):
            after = np.flatnonzero(np.isin(ids[:-1], self.reset_ids)) + 1
            if len(after):
                snapped = after[np.minimum(np.searchsorted(after, starts), len(after) - 1)]
                snapped = np.where(snapped >= starts, snapped, starts)
                if shortest(snapped) >= need:
                    starts = snapped
        return starts, shortest(starts)

    def _batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The next window: X, Y: (B, T) int ids, Y one ahead of X, and reset: (B, T) bool
        (True where the state is zeroed before step t) or None without reset characters."""
        c = self.config
        if self.pos + c.seq_len + 1 > self.segment:  # end of the segments: start over
            self.pos = 0
            self.state = self.model.init_state(c.batch)
        idx = (self.starts + self.pos)[:, None] + np.arange(c.seq_len + 1)  # (B, T+1)
        window = self.corpus.train[idx]
        reset = None
        if len(self.reset_ids):
            prev = self.corpus.train[
                np.maximum(idx[:, :-1] - 1, 0)
            ]  # the character before each input
            reset = np.isin(prev, self.reset_ids)
        self.pos += c.seq_len
        return window[:, :-1], window[:, 1:], reset

    def step(self) -> StepRecord:
        """Advance one window: forward, backward, clip, update. Returns what happened."""
        if self.diverged:
            raise TrainerDiverged("training diverged; reset the weights to go on")
        c = self.config
        lr = lr_in_force(c.lr, self.steps + 1, c.lr_boost, c.boost_steps)  # this step's rate
        t0 = time.perf_counter()
        X, Y, reset = self._batch()
        with np.errstate(all="ignore"):  # overflow is detected below, not warned about
            out = self.model.loss_and_grads(self.params, X, Y, self.state, True, reset)
            norm = global_norm(out.grads)
            finite = math.isfinite(out.loss) and math.isfinite(norm)
            clipped = False
            if finite:
                clipped = clip_grads(out.grads, c.clip_mode, c.clip, norm)
                finite = self._update(out.grads, lr, norm)  # one that overflows is dropped
        self.state = out.state
        self.steps += 1
        self.chars += X.size
        self.diverged = not finite
        if finite:
            s = c.smoothing
            self.smooth = out.loss if self.smooth is None else s * self.smooth + (1 - s) * out.loss
            if self.steps % c.eval_every == 0:
                self.val_loss, self.val_step = self.evaluate(), self.steps
                self.key_recall, self.recall_reach = self.recall(), self.reach()
        dt = time.perf_counter() - t0
        if dt > 0:
            rate = X.size / dt
            self.rate = rate if self.rate is None else 0.9 * self.rate + 0.1 * rate
        prof = out.profile
        assert prof is not None
        sigma = None
        if self.model.recurrent is not None and finite:
            W = self.params[self.model.recurrent]
            sigma, self._spec_v = power_iteration(W, self._spec_v)
        self.last = StepRecord(
            step=self.steps,
            chars=self.chars,
            loss=out.loss,
            smooth_loss=self.smooth if self.smooth is not None else out.loss,
            val_loss=self.val_loss,
            val_step=self.val_step,
            grad_t=prof.grad_t,
            grad_last_t=prof.grad_last_t,
            grad_norm=norm,
            clipped=clipped,
            chars_per_s=self.rate or 0.0,
            lr=lr,
            diverged=self.diverged,
            cell_grad_t=prof.cell_grad_t,
            spectral_norm=sigma,
            key_recall=self.key_recall,
            recall_reach=self.recall_reach,
            recall_chance=None if self.recall_task is None else self.recall_task.chance,
        )
        return self.last

    def loss_on(self, text: str) -> float:
        """Mean loss of the current weights on `text` read from a zero state, nats/char."""
        ids = encode(self.corpus.vocab, text)  # a character outside the vocabulary: UserError
        if len(ids) < 2:
            raise UserError("give at least two characters to evaluate")
        state = self.model.init_state(1)
        with np.errstate(all="ignore"):  # a diverged model gives NaN, not warnings
            logits, _ = self.model.forward(self.params, ids[None, :-1], state, None)
            return cross_entropy(logits, ids[None, 1:])

    def recall(self) -> float | None:
        """Key recall of the current weights on the held-out lines (see `recall.py`), or None
        when the corpus is not a long-lag one. One batched forward pass; weights unchanged."""
        if self.recall_task is None:
            return None
        return key_recall(self.recall_task, self.model, self.params)

    def reach(self) -> float | None:
        """How much of the recall's gradient reaches the key on held-out lines (see
        `recall.recall_reach`), or None when the corpus is not a long-lag one."""
        if self.recall_task is None:
            return None
        return recall_reach(self.recall_task, self.model, self.params)

    def evaluate(self) -> float | None:
        """Mean loss on (up to `eval_chars` of) the held-out text, nats/char; None if too short.

        The held-out ids are cut into streams like the training ids and read in windows of T
        with the state carried over, as the model is used when sampling.
        """
        c = self.config
        val = self.corpus.val[: c.eval_chars + 1] if c.eval_chars else self.corpus.val[:0]
        n = len(val) - 1  # predictions available
        if n < 1:
            return None
        B = max(1, min(c.batch, n // c.seq_len))  # streams of at least one window each
        starts, seg = self._streams(val[:-1], B, c.seq_len)  # lines aligned as in training
        state = self.model.init_state(B)
        total, count = 0.0, 0
        for pos in range(0, seg, c.seq_len):
            T = min(c.seq_len, seg - pos)
            idx = (starts + pos)[:, None] + np.arange(T + 1)  # (B, T+1)
            window = val[idx]
            reset = None
            if len(self.reset_ids):  # the character before each input decides a reset
                reset = np.isin(val[np.maximum(idx[:, :-1] - 1, 0)], self.reset_ids)
                reset[:, 0] |= pos == 0  # a stream's first window starts afresh
            with np.errstate(all="ignore"):  # a diverged model gives NaN, not warnings
                logits, state = self.model.forward(self.params, window[:, :-1], state, reset)
                total += cross_entropy(logits, window[:, 1:]) * B * T
            count += B * T
        return total / count if count else None
