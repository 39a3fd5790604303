"""Garbage collection while the program starts (a leaf helper: the standard library only).

Start-up makes some 70,000 objects the collector tracks (Textual's modules and ours, the
first screen, then NumPy and the panes), about 1,600 of them garbage, and Python's collector
walks them again and again as they are made: some 35 ms of the time to the first frame. So
the command line turns collection off as it starts (`hold`) and back on (`resume`) once the
app has built its panes, or at once on a path that shows no app (a headless run, a server,
an error).

`resume(freeze=True)` first moves every object into the permanent generation (`gc.freeze`):
later collections, on the UI's thread, skip what start-up made. The little garbage among it
stays, as the price. (The trainer is a new interpreter, `run/spawned.py`: none of this
reaches it.)"""

from __future__ import annotations

import gc


def hold() -> None:
    """No garbage collection until `resume`."""
    gc.disable()


def resume(freeze: bool = False) -> None:
    """Collect garbage again (nothing to do if it was never held); with `freeze`, after moving
    every object alive now out of the collector's sight for good."""
    if gc.isenabled():
        return
    if freeze:
        gc.freeze()
    gc.enable()
