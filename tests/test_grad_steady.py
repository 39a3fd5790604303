"""The gradient profile as drawn: a wobble finer than the picture can show repaints nothing."""

from __future__ import annotations

import numpy as np

from rnn_tui.ui.widgets.colours import DARK
from rnn_tui.ui.widgets.drawn import changed_rows
from rnn_tui.ui.widgets.grad_pane import GradPane, steady


def test_steady_keeps_values_that_moved_less_than_the_band() -> None:
    """If this fails, the drawn gradient profile either hides real changes (a move of more
    than one braille dot left on screen) or repaints for wobbles the line cannot show."""
    old = np.array([1.0, 1.0, 1e-3, np.nan, 0.0, 2.0])
    new = np.array([1.05, 1.3, 1.2e-3, 1.0, 1.0, np.inf])
    band = 0.05  # decades: a factor of 10 ** 0.05 = 1.122
    got = steady(new, old, band)
    want = np.array([1.0, 1.3, 1.2e-3, 1.0, 1.0, np.inf])  # only the first stays put
    np.testing.assert_allclose(got, want, rtol=0)
    assert steady(new, None, band) is new  # nothing drawn yet: the values as they are
    np.testing.assert_allclose(steady(new, old, 0.0), new, rtol=0)


def test_a_tiny_wobble_of_the_profile_repaints_no_bar_row() -> None:
    """If this fails, the gradient pane repaints its bars for a change of a fraction of a dot
    (bytes over SSH at every redraw), or fails to repaint when the profile really moved."""
    GradPane.colours = property(lambda self: DARK)  # type: ignore[method-assign,assignment]
    try:
        pane = GradPane()
        t = 16
        g = np.logspace(-3, 0, t)
        gl = np.logspace(-4, 0, t)

        def draw(scale: float) -> list[str]:
            pane.set_data(g * scale, gl * scale, np.zeros((0, t)), None, None, 1.0, scale=(-4, 1))
            return pane.build_text(40, 20)

        first = draw(1.0)
        second = draw(1.0)  # the same profile: `_band` now set from this layout
        assert not changed_rows(first, second, 40)
        wobble = draw(1.02)  # 0.009 decades: far below one dot of 5 decades over ~16 rows
        assert not changed_rows(second, wobble, 40)
        moved = draw(3.0)  # half a decade: bars and line move
        assert len([y for y, _ in changed_rows(wobble, moved, 40) if y >= 3]) >= 3
    finally:
        del GradPane.colours
