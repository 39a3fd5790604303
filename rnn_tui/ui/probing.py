"""The probe's state and its worker: what text is probed, where the cursor is, and the engine's
numbers for every lane, computed off the UI thread.

One computation runs at a time, in a thread (`App.run_worker(..., thread=True)`), on the weights
a lane holds (copies the snapshot carried; `probe_model` copies them again). A request made
while one runs waits; only the latest waiting one runs (latest wins), and a result that is
older than the newest request is dropped. The UI thread only sends requests and draws results.
A recompute happens when the text, the cursor, the shading or a lane's weights change.

Three shadings (`b` cycles them): surprise, looking back, and one hidden unit's activation
h_t[unit] after each character (the neuron shading), which the probe's forward pass already
gives (`ProbeResult.hs`). Units are per model, so each lane has its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.config import Config
from rnn_tui.engine.model import Params
from rnn_tui.engine.probe import (
    PROBE_LIMIT,
    ProbeModel,
    ProbeResult,
    looking_back,
    probe,
    probe_model,
)
from rnn_tui.run.build import read_corpus
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.actions import LOOKING_BACK, SHADINGS, SURPRISE

HELD_OUT_CHARS = 320  # characters of a held-out passage (`g`)
HELD_OUT_KEEP = 1_000_000  # held-out characters kept in memory to draw passages from


@dataclass(frozen=True)
class LaneModel:
    """What a lane holds to probe with: its weights, their step, its settings."""

    params: Params  # the lane's weight copy (read only here)
    step: int  # the training step of these weights
    config: Config  # the run's settings, with the lane's cell now


@dataclass(frozen=True)
class Request:
    """One computation: the text, the cursor and the shading, for each lane's weights."""

    number: int  # requests are numbered: a result of an older one is dropped
    text: str  # at most PROBE_LIMIT characters
    cursor: int
    looking_back: bool
    models: tuple[LaneModel | None, ...]  # None: the lane has no weights yet


@dataclass(frozen=True)
class LaneResult:
    """One lane's numbers for a request."""

    result: ProbeResult | None
    back: np.ndarray | None  # (cursor,) gradient norms, or None
    step: int
    cell: str
    error: str = ""


class Prober:
    """The probe's state, and its computations in a worker thread. `run_thread(fn)` starts `fn`
    in a thread; `call_back(fn, *args)` runs `fn` on the UI thread (an app's `call_from_thread`);
    `draw(request, results, ms)` shows a result."""

    def __init__(
        self,
        vocab: tuple[str, ...],
        run_thread: Callable[[Callable[[], None]], object],
        call_back: Callable[..., object],
        draw: Callable[[Request, tuple[LaneResult, ...], float], None],
    ) -> None:
        self.vocab = vocab
        self.run_thread = run_thread
        self.call_back = call_back
        self.draw = draw
        self.is_open = False  # the pane shows
        self.text = ""  # the text probed: at most PROBE_LIMIT characters
        self.cut = 0  # characters dropped from the start of the text given
        self.cursor = 0  # position under the cursor
        self.shading = SURPRISE  # one of SHADINGS
        self.units: list[int] = []  # the neuron shading's hidden unit, one per lane
        self.last_ms = float("nan")  # how long the last computation took, milliseconds
        self.computed = 0  # computations finished (for tests and timing)
        self._number = 0
        self._busy = False
        self._waiting: Request | None = None
        self._models: dict[int, tuple[int, int, str, ProbeModel]] = {}  # lane -> (id, step, ..)
        self._results: dict[int, tuple[int, str, ProbeResult]] = {}  # lane -> (model id, text, ..)
        self._held_out: str | None = None  # the held-out text, once read
        self._lock = threading.Lock()

    # -- the state -----------------------------------------------------------------------------

    @property
    def looking_back(self) -> bool:
        """The shading is looking back: the only one that needs a computation per cursor."""
        return self.shading == LOOKING_BACK

    def next_shading(self) -> str:
        """Go on to the next shading of SHADINGS (after the last, the first) and return it."""
        self.shading = SHADINGS[(SHADINGS.index(self.shading) + 1) % len(SHADINGS)]
        return self.shading

    def set_text(self, text: str, cursor: int | None = None) -> None:
        """Probe `text` (its last PROBE_LIMIT characters); the cursor goes to its end."""
        self.cut = max(0, len(text) - PROBE_LIMIT)
        self.text = text[self.cut :]
        self.cursor = max(0, len(self.text) - 1 if cursor is None else cursor - self.cut)
        self.cursor = min(self.cursor, max(0, len(self.text) - 1))

    def move_to(self, index: int) -> bool:
        """Put the cursor on `index` (clamped to the text); True if it moved."""
        index = max(0, min(index, len(self.text) - 1))
        moved = index != self.cursor
        self.cursor = index
        return moved

    # -- computing -----------------------------------------------------------------------------

    def request(self, models: tuple[LaneModel | None, ...]) -> None:
        """Compute for the state now; latest wins."""
        self._number += 1
        req = Request(self._number, self.text, self.cursor, self.looking_back, models)
        if self._busy:
            self._waiting = req
            return
        self._start(req)

    def _start(self, req: Request) -> None:
        self._busy = True
        self.run_thread(lambda: self._compute(req))

    def _compute(self, req: Request) -> None:
        """In the worker thread: every lane's numbers, then back to the UI thread."""
        t0 = time.perf_counter()
        out = tuple(self._one(i, m, req) for i, m in enumerate(req.models))
        ms = (time.perf_counter() - t0) * 1000
        self.call_back(self._done, req, out, ms)

    def _one(self, lane: int, m: LaneModel | None, req: Request) -> LaneResult:
        if m is None:
            return LaneResult(None, None, -1, "")
        try:
            key = (id(m.params), m.step, m.config.cell)
            have = self._models.get(lane)
            if have is None or have[:3] != key:
                have = (*key, probe_model(m.params, m.config, self.vocab))
                self._models[lane] = have
            pm = have[3]
            if not req.text:
                return LaneResult(None, None, m.step, m.config.cell)
            seen = self._results.get(lane)
            if seen is not None and seen[:2] == (id(pm), req.text):
                result = seen[2]
            else:
                result = probe(pm, req.text)
                self._results[lane] = (id(pm), req.text, result)
            back = None
            if req.looking_back and result.scored[req.cursor]:
                back = looking_back(pm, result.ids, req.cursor, result.trace)
            return LaneResult(result, back, m.step, m.config.cell)
        except Exception as exc:  # never crash the app over a probe
            return LaneResult(None, None, m.step, m.config.cell, f"probe failed: {exc}")

    def _done(self, req: Request, out: tuple[LaneResult, ...], ms: float) -> None:
        """On the UI thread: draw the result unless a newer request is on its way."""
        self._busy = False
        self.computed += 1
        self.last_ms = ms
        if self._waiting is None:
            self.draw(req, out, ms)
        else:
            waiting, self._waiting = self._waiting, None
            self._start(waiting)

    # -- held-out text -------------------------------------------------------------------------

    def load_held_out(self, spec: RunSpec, done: Callable[[str], None]) -> None:
        """Pick a random passage of the held-out text and hand it to `done` on the UI thread;
        the corpus is read once, in a thread."""

        def work() -> None:
            try:
                with self._lock:
                    if self._held_out is None:
                        corpus = read_corpus(spec)
                        ids = np.asarray(corpus.val[:HELD_OUT_KEEP])
                        self._held_out = "".join(corpus.vocab.chars[i] for i in ids.tolist())
                text = passage(self._held_out, np.random.default_rng())
            except Exception as exc:  # a corpus that changed or vanished: say so
                text = ""
                self.call_back(done, "", f"cannot read the held-out text: {exc}")
                return
            self.call_back(done, text, "")

        self.run_thread(work)


def passage(held_out: str, rng: np.random.Generator, n: int = HELD_OUT_CHARS) -> str:
    """A random stretch of about `n` characters of `held_out`, starting at a line's start when
    one begins within the first quarter of it."""
    if len(held_out) <= n:
        return held_out
    start = int(rng.integers(0, len(held_out) - n + 1))
    newline = held_out.find("\n", start, start + n // 4)
    if newline >= 0 and newline + 1 < len(held_out):
        start = newline + 1
    return held_out[start : start + n]
