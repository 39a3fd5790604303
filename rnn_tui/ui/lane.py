"""One trained model's share of the screen: its panes, and the sampler typing from its weights.

A lane owns the text of its samples (the pane only draws them) and the newest snapshot and
weight copy of its run. Compare mode has two lanes side by side.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator

import numpy as np
from textual.containers import Vertical

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import Cell, Params, make_cell
from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.engine.sampling import SampledChar, sample_chars, top_chars
from rnn_tui.engine.text import Vocab
from rnn_tui.run.protocol import Snapshot
from rnn_tui.ui.widgets import GradPane, NeuronView, NextChars, SamplePane
from rnn_tui.ui.widgets.grad_scale import format_sci

MAX_KEPT_SAMPLES = 2000  # samples kept for --export-dir (about 0.5 MB of text at most)
NEXT_EVERY = 0.2  # seconds between two redraws of the next-character line (nobody reads faster)
# A sample being typed is cut short when weights this much better (smoothed training loss,
# nats/char) arrive: early in a run each weight copy is far better than the last, and a sample
# from nearly random weights would hold the pane for seconds; later copies differ by less. The
# trainer sends a copy as soon as its loss has fallen by WEIGHTS_GAIN (less than this).
RESTART_GAIN = 0.25
# ... but only once it has shown MIN_SHOWN characters (room for a few words: two thirds of a
# second of typing early in a run, a second and a third later), or MIN_SHOWN * RESTART_GAIN /
# gain for weights better by `gain`: early in a run better weights come every few tenths of a
# second, and cut at once no sample would ever hold a line of words; yet weights a whole nat
# better write words where the sample on screen writes noise, and 20 characters of that noise
# are enough to see it.
MIN_SHOWN = 80
# While a run is young its samples type faster (rnn_tui.ui.mirror.START_CHARS_PER_S): in its first
# START_STEPS steps each weight copy is far better than the last, and noise typed at reading pace
# holds the pane while the words wait (on tiny.txt the first words come at step 150-300).
START_STEPS = 500
NEAR_UNIFORM = 0.9  # ... and at once if its weights' loss is this share of ln V (uniform) or more


class Lane:
    """One run's panes and sampler. `cell` follows the run: the snapshot says which it is."""

    def __init__(self, cell: Cell, index: int, sample_len: int, seed: int, reset_at: str) -> None:
        self.cell = cell  # a model object of the run's shape: the sampler's arithmetic
        self.n_params = cell.n_params()  # its size, for the status line (read at every tick)
        self.grad_pane = GradPane(id=f"grads{index}", classes="grads")
        self.sample_pane = SamplePane(id=f"samples{index}", classes="samples")
        self.neurons = NeuronView(id=f"neurons{index}", classes="neurons")
        self.next_chars = NextChars(id=f"next{index}", classes="next-chars")
        self.box = Vertical(id=f"lane{index}", classes="lane")  # border around the three
        # (character, hidden state (H,)) of the sample being typed, for the neuron view; the
        # (V,) distributions are not kept: with thousands of characters they would be megabytes.
        self.recent: deque[tuple[str, np.ndarray]] = deque(maxlen=sample_len)
        self.last: SampledChar | None = None  # the character typed last, distribution and all
        self.header = ""  # the header of the sample being typed
        self.sample_len = sample_len  # characters per sample before a new one starts
        self.seed = seed
        self.reset_at = reset_at  # the sampler resets its state after these, as training does
        self.snapshot: Snapshot | None = None  # the newest snapshot of this lane's run
        self.weights: tuple[Params, int] | None = None  # newest weight copy and its step
        self.sampler: Iterator[SampledChar] | None = None
        self.typed = 0  # characters typed in the current sample
        self.sample_no = 0
        self.shown: deque[tuple[str, str]] = deque(maxlen=MAX_KEPT_SAMPLES)  # finished samples
        self.typing: list[str] = []  # pieces of the sample being typed, joined when it ends
        self.restart = False  # start a new sample at the next tick, even while paused
        self.better = False  # much better weights came: a new sample once MIN_SHOWN are typed
        self._next_at = 0.0  # monotonic time of the next redraw of the next-character line
        self.next_shown: tuple[SampledChar, int] | None = None  # the character whose guesses
        # that line shows, and how many characters of its sample were typed then
        self.weights_loss = -math.inf  # smoothed training loss when `weights` were copied
        self.sample_loss = -math.inf  # the same for the weights of the sample being typed

    def take(self, snap: Snapshot) -> None:
        """Mirror the run: its newest snapshot, its weights, and its cell if that changed."""
        H = snap.hidden or self.cell.H  # a new cell may come with its own H
        if snap.cell != self.cell.name or H != self.cell.H:  # a model of the run's new shape
            self.cell = make_cell(snap.cell, self.cell.V, H, self.cell.dtype)
            self.n_params = self.cell.n_params()
            self.forget_sample()
        self.snapshot = snap
        if snap.weights is not None and self._fits(snap.weights):
            self.weights = (snap.weights, snap.weights_step)
            loss = snap.record.smooth_loss if snap.record is not None else -math.inf
            self.weights_loss = loss
            if self.sample_loss - loss >= RESTART_GAIN:
                self.better = True  # much better weights: show what they write soon

    def config_of(self, config: Config) -> Config:
        """The run's starting `config` with the model this lane mirrors now: its cell and H
        (a cell switch, `l`, may have changed both)."""
        return config.with_(cell=self.cell.name, hidden=self.cell.H)

    def young(self) -> bool:
        """Whether the newest weights come from the run's first START_STEPS steps."""
        return self.weights is not None and self.weights[1] < START_STEPS

    def _fits(self, params: Params) -> bool:
        """Whether `params` are weights of this lane's cell (a source that carried a copy over
        a cell switch must not have the sampler run one cell's equations on another's)."""
        shapes = self.cell.param_shapes()
        return params.keys() == shapes.keys() and all(
            params[k].shape == s for k, s in shapes.items()
        )

    def grad_profiles(self) -> list[np.ndarray]:
        """The (T,) gradient profiles the gradient pane draws now, for a log scale that two
        lanes share: grad_t, grad_last_t and, for the LSTM, the cell-state gradient."""
        r = self.snapshot.record if self.snapshot is not None else None
        if r is None:
            return []
        return [r.grad_t, r.grad_last_t, *([] if r.cell_grad_t is None else [r.cell_grad_t])]

    def draw_grads(self, scale: tuple[int, int] | None) -> None:
        """Show the newest gradient profile; `scale` (lo, hi decades) is shared in compare mode."""
        s = self.snapshot
        if s is None:
            return
        r = s.record
        if r is None:  # no step since a reset: the last profile was the old weights'
            self.grad_pane.clear()
            return
        clip = None if s.clip_mode == "off" else s.clip
        extra = [] if s.clip_mode != "value" else ["clip per entry"]
        if r.spectral_norm is not None:
            extra.append(f"‖W_hh‖₂ {r.spectral_norm:.2f}")
        if r.recall_reach is not None:  # long-lag: the recall's own gradient, key over '='
            extra.append(f"g[key]/g[=] {format_sci(r.recall_reach)}")  # as the ratio: 0, 4.3
        self.grad_pane.set_data(
            r.grad_t,
            r.grad_last_t,
            s.grad_history,
            clip,
            s.clip_share,
            r.grad_norm,
            "  ".join(extra),
            scale=scale,
            clip_steps=s.clip_steps,
            history_steps=s.grad_history_steps,
            cell_grad=r.cell_grad_t,
            reset_at=self.reset_at,
        )

    def start_over(self) -> None:
        """End the sample being typed where it is: the next tick starts one with the settings
        of then (a new prime, say), even while training is paused."""
        self.restart = True

    def forget_sample(self) -> None:
        self.weights, self.sampler = None, None
        self.recent.clear()
        self.sample_pane.clear()
        self.next_chars.clear()  # the old weights' guesses

    def type(self, n: int, vocab: Vocab, sampling: SampleSettings, paused: bool) -> None:
        """Type up to `n` characters; start a new sample (from the newest weights) when done."""
        if self.weights is None:
            return
        # Paused, better weights wait: the sample being typed is finished first.
        cut = self.restart or (self.better and not paused and self._shown_enough())
        if self.sampler is None or self.typed >= self.sample_len or cut:
            if paused and self.sampler is not None and not self.restart:
                return  # paused: finish the current sample, then rest (no idle CPU)
            self._start_sample(vocab, sampling)
        n = min(n, self.sample_len - self.typed)
        if n > 0:
            assert self.sampler is not None
            drawn = [next(self.sampler) for _ in range(n)]
            text = "".join(c.char for c in drawn)
            self.sample_pane.append_chars(text)
            self.typing.append(text)
            self.recent.extend((c.char, c.hidden) for c in drawn)
            self.typed += n
            self.last = last = drawn[-1]
            now = time.monotonic()
            if now >= self._next_at or self.typed >= self.sample_len:  # the last one stays
                self._next_at = now + NEXT_EVERY
                self.next_chars.show(top_chars(last.probs, vocab.chars), chosen=last.char)
                self.next_shown = (last, self.typed)

    def _shown_enough(self) -> bool:
        """Whether the sample being typed may give way to better weights: it has shown a line's
        worth, less the better the new weights are, or its weights knew next to nothing (a loss
        near the uniform guess ln V)."""
        if self.sample_loss >= NEAR_UNIFORM * math.log(self.cell.V):
            return True
        gain = self.sample_loss - self.weights_loss  # nats/char: RESTART_GAIN or more
        if not gain >= RESTART_GAIN:  # the run lost ground since (a reset, a blow-up): no less
            gain = RESTART_GAIN
        return self.typed >= MIN_SHOWN * RESTART_GAIN / gain

    def _start_sample(self, vocab: Vocab, sampling: SampleSettings) -> None:
        assert self.weights is not None
        params, step = self.weights
        self.sample_no += 1
        prime = sampling.prime
        self.sampler = sample_chars(
            self.cell,
            params,
            vocab,
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            prime=prime,  # read into the state first, resetting at `reset_at` as training does
            seed=self.seed + self.sample_no,
            reset_at=self.reset_at,
        )
        self.typed, self.restart, self.better = 0, False, False
        self.sample_loss = self.weights_loss
        self.recent.clear()  # each sample starts from a fresh state: never join two in the view
        header = f"step {step:,} · temperature {sampling.temperature:.1f}"
        if prime:  # the kept text starts with the prime: the header says how much of it
            header += f" · prime {len(prime)} chars"
        self.sample_pane.start_sample(header, prime)
        if self.typing:  # the previous sample is done: keep it as one string
            self.shown.append((self.header, "".join(self.typing)))
        self.header, self.typing = header, [prime] if prime else []

    def samples_so_far(self) -> list[tuple[str, str]]:
        """Every kept sample as (header, text), the one being typed last."""
        current = [(self.header, "".join(self.typing))] if self.typing else []
        return [*self.shown, *current]

    def hidden_values(self) -> np.ndarray:
        """(N, H): the state that chose each character typed so far in this sample."""
        if not self.recent:
            return np.zeros((0, self.cell.H))
        return np.array([hidden for _, hidden in self.recent])
