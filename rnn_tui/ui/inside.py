"""The inside views' state and worker: which view the gradient panes' place shows (`w` cycles
gradients, spectrum, gates), and the engine's numbers for every lane, computed off the UI thread.

Each lane has an `InsidePane` next to its gradient pane; one of the two shows. While the
spectrum or the gates show, every new weight copy a snapshot brings (about every 2 s, see
`run.history.WEIGHTS_EVERY`) is sent to a thread worker, which computes every lane's spectrum
and gate statistics (`engine.inside`: a few ms for H = 128, on private copies of the weights)
and hands them back to the UI thread to draw. One computation runs at a time; while it runs
only the newest request waits (latest wins), so the UI thread never waits for the engine and
never piles up work. Nothing is computed while the gradients show. The first computation
pins the app process's BLAS to one thread: with two, an eigendecomposition competes with the
UI thread for this machine's two cores (measured several times slower, see engine/blas.py).

The gates are measured over one fixed passage of the held-out text (its first GATE_CHARS
characters from a line's start), read once in the worker, so that what changes on screen is
the weights, not the text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnn_tui.engine.blas import pin_blas_threads
from rnn_tui.engine.config import Config
from rnn_tui.engine.inside import GATES, GateStats, Spectrum, cell_spectrum, gate_stats
from rnn_tui.engine.model import Params
from rnn_tui.engine.probe import probe_model
from rnn_tui.run.build import read_corpus
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.lane import Lane
from rnn_tui.ui.widgets.inside_pane import GATES as GATES_VIEW
from rnn_tui.ui.widgets.inside_pane import MATRIX, SPECTRUM, InsidePane, InsideShown

GRADIENTS = "gradients"
VIEWS = (GRADIENTS, SPECTRUM, GATES_VIEW)  # what `w` cycles through, in this order
GATE_CHARS = 512  # held-out characters the gates are measured over
HINT = {GRADIENTS: "w: spectrum", SPECTRUM: "w: gates", GATES_VIEW: "w: gradients"}


@dataclass(frozen=True)
class Job:
    """One lane's weights to look inside."""

    params: Params  # the lane's weight copy (read only here)
    step: int
    config: Config  # the run's settings, with the lane's cell now


@dataclass(frozen=True)
class Found:
    """One lane's numbers."""

    cell: str
    step: int
    spectrum: Spectrum | None
    gates: GateStats | None
    error: str = ""


def held_out_passage(text: str, n: int = GATE_CHARS) -> str:
    """The first `n` characters of `text` from its first line start (the text's own start
    when no newline comes within the first quarter of it)."""
    newline = text.find("\n", 0, max(1, len(text) // 4))
    start = newline + 1 if 0 <= newline < len(text) - 1 else 0
    return text[start : start + n]


class Insider:
    """The inside views of every lane. `run_thread(fn)` starts `fn` in a thread;
    `call_back(fn, *args)` runs `fn` on the UI thread (an app's `call_from_thread`)."""

    def __init__(
        self,
        lanes: list[Lane],
        spec: Callable[[], RunSpec],
        vocab: tuple[str, ...],
        run_thread: Callable[[Callable[[], None]], object],
        call_back: Callable[..., object],
    ) -> None:
        self.lanes = lanes
        self.spec = spec  # the run's spec now (a restarted trainer brings a new one)
        self.vocab = vocab
        self.run_thread = run_thread
        self.call_back = call_back
        self.panes = [
            InsidePane(id=f"inside{i}", classes="grads inside") for i in range(len(lanes))
        ]
        self.view = GRADIENTS  # one of VIEWS
        self.computed = 0  # computations finished (for tests)
        self.found: tuple[Found, ...] = ()  # the last numbers, every lane
        self._weights: tuple[int, ...] = ()  # ids of the weight copies asked for last
        self._busy = False
        self._waiting: tuple[Job | None, ...] | None = None
        self._passage: str | None = None  # the held-out passage, once read
        self._lock = threading.Lock()
        self._pinned = False  # BLAS pinned to one thread in this process

    # -- the view ------------------------------------------------------------------------------

    @property
    def compare(self) -> bool:
        return len(self.lanes) > 1

    def views(self) -> tuple[str, ...]:
        """The views `w` goes through: the gates only if some lane's cell has gates."""
        gated = any(GATES.get(lane.cell.name) for lane in self.lanes)
        return VIEWS if gated else (GRADIENTS, SPECTRUM)

    def mount(self) -> None:
        """Once the panes are mounted: hide them, and say on each gradient pane that `w` leads
        on to the spectrum."""
        for lane, pane in zip(self.lanes, self.panes, strict=True):
            pane.display = False
            lane.grad_pane.border_subtitle = HINT[GRADIENTS]

    def cycle(self) -> str:
        """Go on to the next view (after the last, the first) and return it."""
        views = self.views()
        at = views.index(self.view) if self.view in views else -1
        self.show_view(views[(at + 1) % len(views)])
        return self.view

    def show_view(self, view: str) -> None:
        """Show `view` in every lane's gradient place, and compute for it if it needs it."""
        self.view = view
        inside = view != GRADIENTS
        for lane, pane in zip(self.lanes, self.panes, strict=True):
            lane.grad_pane.display = not inside
            pane.display = inside
            pane.border_title = self.title(lane)
            pane.border_subtitle = self.hint(view)
        if inside:
            self.redraw()
            self.request(force=True)

    def hint(self, view: str) -> str:
        """What `w` leads to from `view`: the next of `views()` (no gates view for a lone RNN)."""
        views = self.views()
        if view not in views:
            return HINT[view]
        return "w: " + views[(views.index(view) + 1) % len(views)]

    def title(self, lane: Lane) -> str:
        """The pane's title: what it shows, for which cell in compare mode (named first, as
        a narrow window cuts a title's end)."""
        name = f"{lane.cell.name}: " if self.compare else ""
        if self.view == GATES_VIEW:
            return f"{name}gates"
        return f"{name}spectrum of {MATRIX.get(lane.cell.name, 'W')}"

    def status(self) -> str:
        """What the status line says after `w`: what the view is, in `NOTICE_ROOM` (the pane
        says how to read it)."""
        return {
            GRADIENTS: "gradient through time",
            SPECTRUM: "eigenvalues of the recurrent matrix vs the unit circle",
            GATES_VIEW: "gates: how often shut (<0.1) or open (>0.9)",
        }[self.view]

    # -- computing -----------------------------------------------------------------------------

    def take(self) -> None:
        """After new snapshots: compute again if a view shows and a lane has new weights."""
        if self.view != GRADIENTS:
            for lane, pane in zip(self.lanes, self.panes, strict=True):
                title = self.title(lane)  # the cell may have switched
                if pane.border_title != title:
                    pane.border_title = title
            self.request()

    def _weight_ids(self) -> tuple[int, ...]:
        return tuple(id(lane.weights[0]) if lane.weights else 0 for lane in self.lanes)

    def request(self, force: bool = False) -> None:
        """Compute with each lane's newest weights, unless they were asked for already
        (`force`: even then); latest wins."""
        ids = self._weight_ids()
        if ids == self._weights and not force:
            return
        self._weights = ids
        jobs: list[Job | None] = []
        spec = self.spec()
        for lane, config in zip(self.lanes, spec.configs, strict=False):
            w = lane.weights
            jobs.append(None if w is None else Job(w[0], w[1], lane.config_of(config)))
        if self._busy:
            self._waiting = tuple(jobs)
            return
        self._start(tuple(jobs))

    def _start(self, jobs: tuple[Job | None, ...]) -> None:
        self._busy = True
        spec = self.spec()
        self.run_thread(lambda: self._compute(jobs, spec))

    def _compute(self, jobs: tuple[Job | None, ...], spec: RunSpec) -> None:
        """In the worker thread: every lane's numbers, then back to the UI thread."""
        if not self._pinned:
            pin_blas_threads(1)
            self._pinned = True
        out = tuple(self._one(job, spec) for job in jobs)
        self.call_back(self._done, out)

    def _one(self, job: Job | None, spec: RunSpec) -> Found:
        if job is None:
            return Found("", -1, None, None)
        cell = job.config.cell
        try:
            spectrum = cell_spectrum(job.params, cell)  # from a float64 copy of the block
            gates = None
            if GATES.get(cell):
                pm = probe_model(job.params, job.config, self.vocab)  # copies the weights
                gates = gate_stats(pm, self.passage(spec))
            return Found(cell, job.step, spectrum, gates)
        except Exception as exc:  # never crash the app over a picture
            return Found(cell, job.step, None, None, f"cannot look inside: {exc}")

    def passage(self, spec: RunSpec) -> str:
        """The held-out passage the gates are measured over, read once (in the worker)."""
        with self._lock:
            if self._passage is None:
                corpus = read_corpus(spec)
                ids = np.asarray(corpus.val[: 4 * GATE_CHARS])
                text = "".join(corpus.vocab.chars[i] for i in ids.tolist())
                self._passage = held_out_passage(text)
            return self._passage

    def _done(self, out: tuple[Found, ...]) -> None:
        """On the UI thread: keep and draw the numbers; start the request that waited."""
        self._busy = False
        self.computed += 1
        self.found = out
        self.redraw()
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            self._start(waiting)

    def redraw(self) -> None:
        """Draw the last numbers in the view now; two lanes' scatters share one scale."""
        if self.view == GRADIENTS:
            return
        radii = [f.spectrum.radius for f in self.found if f.spectrum is not None]
        lim = 1.1 * max(radii) if self.compare and radii and np.isfinite(radii).all() else 0.0
        for i, pane in enumerate(self.panes):
            f = self.found[i] if i < len(self.found) else None
            if f is None or f.step < 0:
                pane.show(InsideShown(message="waiting for the trainer's first weights"))
                continue
            pane.show(InsideShown(self.view, f.cell, f.step, f.spectrum, f.gates, lim, f.error))
