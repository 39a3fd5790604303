"""The probe pane's side of the app: its keys (open, shade, load a text), what it computes with
each lane's newest weights, how its numbers are shown, and what its input line and views
report. Mixed into `RnnApp`; the keys' table is `actions.py`, the probe's arithmetic is in
`probing.py` and `engine/probe.py`. The neuron keys ([ ] m v), shared with the neuron view,
are in `keys.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from rnn_tui.ui.actions import LOOKING_BACK, NEURON

if TYPE_CHECKING:  # loaded by `RnnApp.boot`, after the first frame
    from textual import events

    from rnn_tui.run.spec import RunSpec
    from rnn_tui.ui.lane import Lane
    from rnn_tui.ui.probing import LaneResult, Prober, Request
    from rnn_tui.ui.widgets.probe_pane import ProbeInput, ProbeView


class ProbeEvents:
    """The probe pane's keys, computations and events, for `RnnApp`."""

    # What the app provides (see RnnApp.__init__ and RnnApp.build).
    spec: RunSpec  # what the run was built from
    lanes: list[Lane]  # one per run, each with its newest weights
    animate: bool  # False in snapshot tests: no timings shown
    prober: Prober  # the probe's text, cursor, shading and worker
    probe_views: list[ProbeView]  # one probe view per lane
    probe_input: ProbeInput  # the probe's input line
    _probe_echo: str  # the input line's value as the app set it (not typed)
    _probe_weights: tuple[int, ...]  # ids of the weights probed last
    say: Callable[[str], None]  # a notice on the status line
    compare: bool  # two runs side by side
    neuron_unit: int  # the hidden unit the neuron view colours by
    set_focus: Callable[[ProbeView | None], None]  # Textual's `App.set_focus`

    # -- its keys --------------------------------------------------------------------------------

    def show_probe(self, on: bool) -> None:
        """Open or close the probe pane: it takes the sample panes' place while open."""
        if on == self.prober.is_open:
            return
        self.prober.is_open = on
        self.probe_input.screen.set_class(on, "-probe")  # the main screen, even under help
        for lane in self.lanes:
            name = f"{lane.cell.name}: " if self.compare else ""  # first: see `_title_panes`
            lane.box.border_title = f"{name}{'probe' if on else 'samples'}"
        if on:
            self.probe_input.focus()  # its hint follows the focus (`show_probe_keys`)
            self.show_probe_keys(typing=True)
            self.probe_compute()
        else:
            self.lanes[0].box.border_subtitle = "i: probe"
            self.set_focus(None)

    def action_toggle_probe(self) -> None:
        self.show_probe(not self.prober.is_open)

    def action_close_probe(self) -> None:
        self.show_probe(False)

    def action_probe_shading(self) -> None:
        """Cycle the probe's shading: surprise, looking back, one hidden unit."""
        self.set_probe_shading(self.prober.next_shading() if self.prober.is_open else None)

    def set_probe_shading(self, shading: str | None) -> None:
        """Open the probe with `shading` (None: the one it has) and say what it shows."""
        self.show_probe(True)
        if shading == NEURON and self.prober.shading != NEURON:
            self.prober.units = [self.neuron_unit] * len(self.lanes)  # the neuron view's unit
        self.prober.shading = shading or self.prober.shading
        self._probe_units(self.prober.units)
        self.probe_compute()
        self.say(
            {
                LOOKING_BACK: "probe: looking back from the cursor (←/→ move it)",
                NEURON: "probe: one hidden unit ([ ] unit, m most varying)",
            }.get(self.prober.shading, "probe: surprise at each character")
        )

    def _probe_neuron_units(self) -> list[int]:
        """The probe's units, one per lane, switching the probe to the neuron shading first."""
        if not self.prober.is_open or self.prober.shading != NEURON:
            self.set_probe_shading(NEURON)
        return list(self.prober.units)

    def _probe_units(self, units: list[int]) -> None:
        """Set each lane's unit (wrapped to its H) and show it in the probe's views, in the
        neuron shading; the first lane's unit is also the neuron view's."""
        units = (units + [self.neuron_unit] * len(self.lanes))[: len(self.lanes)]
        self.prober.units = [u % lane.cell.H for u, lane in zip(units, self.lanes, strict=True)]
        on = self.prober.shading == NEURON
        for unit, lane, view in zip(self.prober.units, self.lanes, self.probe_views, strict=True):
            view.show_unit(unit if on else None, lane.cell.name)
        if on:
            self.neuron_unit = self.prober.units[0]

    def action_probe_held_out(self) -> None:
        self.show_probe(True)
        self.say("probe: reading the held-out text ...")
        self.prober.load_held_out(self.spec, self._held_out_loaded)

    def _held_out_loaded(self, text: str, error: str) -> None:
        if error:
            self.say(error)
            return
        self.set_probe_text(text)
        self.probe_views[0].focus()
        self.say("probe: a random passage of the held-out text (g: another)")

    def action_probe_sample(self) -> None:
        lane = self.lanes[0]
        text = "".join(lane.typing) or (lane.shown[-1][1] if lane.shown else "")
        if not text:
            self.say("probe: no sample typed yet")
            return
        self.show_probe(True)
        self.set_probe_text(text)
        self.probe_views[0].focus()
        self.say("probe: the sample being typed")

    # -- its computations and events ------------------------------------------------------------

    def _weights_ids(self) -> tuple[int, ...]:
        """Which weight copy each lane holds now (a new snapshot's weights are a new object)."""
        return tuple(id(lane.weights[0]) if lane.weights else 0 for lane in self.lanes)

    def probe_compute(self) -> None:
        """Have the prober compute for the text, cursor and shading now, with each lane's
        newest weights, in its worker thread."""
        from rnn_tui.ui.probing import LaneModel

        models = []
        for lane, config in zip(self.lanes, self.spec.configs, strict=False):
            w = lane.weights
            models.append(None if w is None else LaneModel(w[0], w[1], lane.config_of(config)))
        self._probe_weights = self._weights_ids()
        self.prober.request(tuple(models))

    def draw_probe(self, req: Request, out: tuple[LaneResult, ...], ms: float) -> None:
        """Show a computation's numbers in each lane's probe view."""
        from rnn_tui.ui.widgets.probe_pane import ProbeShown

        timing = f" · {ms:.0f} ms" if self.animate else ""
        for view, r in zip(self.probe_views, out, strict=False):
            message = r.error
            if r.step < 0:
                message = "waiting for the trainer's first weights"
            model = f"{r.cell} · step {r.step:,}{timing}" if r.step >= 0 else ""
            view.show(
                ProbeShown(
                    req.text,
                    self.prober.cut,
                    req.cursor,
                    req.looking_back,
                    r.result,
                    r.back,
                    model,
                    message,
                )
            )

    def probe_redraw_cursor(self) -> None:
        """Move the drawn cursor at once where the numbers stay the same (surprise shading)."""
        for view in self.probe_views:
            d = view.data
            if d.text == self.prober.text and d.result is not None:
                view.show(replace(d, cursor=self.prober.cursor))

    def set_probe_text(self, text: str, echo: bool = True) -> None:
        """Probe `text`; `echo` shows it in the input line too (newlines as ↵)."""
        self.prober.set_text(text)
        if echo:
            from rnn_tui.ui.widgets.probe_pane import one_line

            self._probe_echo = one_line(self.prober.text)
            self.probe_input.value = self._probe_echo
        self.probe_compute()

    def on_input_changed(self, event: ProbeInput.Changed) -> None:
        if event.input is self.probe_input and event.value != self._probe_echo:
            self._probe_echo = ""
            self.set_probe_text(event.value.replace("↵", "\n"), echo=False)

    def show_probe_keys(self, typing: bool) -> None:
        """The probe's keys under its first lane: typing in the input line, the letters are
        the text's, so g, y and b work only from the text (Enter or Tab gets there)."""
        from rnn_tui.ui.widgets.probe_pane import KEYS_HINT, TYPING_HINT
        from rnn_tui.ui.widgets.spelled import spelled

        self.lanes[0].box.border_subtitle = spelled(self, TYPING_HINT if typing else KEYS_HINT)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self.prober.is_open and event.widget in (self.probe_input, *self.probe_views):
            self.show_probe_keys(typing=event.widget is self.probe_input)

    def on_input_submitted(self, event: ProbeInput.Submitted) -> None:
        if event.input is self.probe_input:
            self.probe_views[0].focus()

    def on_probe_view_pasted(self, event: ProbeView.Pasted) -> None:
        self.set_probe_text(event.text)
        if self.prober.cut:
            self.say(
                f"pasted {self.prober.cut + len(self.prober.text):,} characters: probing the last {len(self.prober.text):,}"
            )

    def on_probe_view_cursor_to(self, event: ProbeView.CursorTo) -> None:
        for view in self.probe_views:  # one cursor for every lane
            view.cursor = event.index
        if not self.prober.move_to(event.index):
            return
        if self.prober.looking_back:
            self.probe_compute()
        else:
            self.probe_redraw_cursor()
