"""The heat strip under the gradient profile: what changes on screen when a row is added."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from rnn_tui.ui.widgets.colours import DARK
from rnn_tui.ui.widgets.grad_heat import group_size, heat_rows, stable_merge
from rnn_tui.ui.widgets.grad_scale import merge_rows


def test_heat_strip_groups_stay_put_while_rows_are_added() -> None:
    """If this fails, every new history row regroups the whole heat strip, so all its lines
    are repainted at every snapshot (tens of KB/s more over SSH), or a merged line no longer
    holds the weighted geometric mean of its rows."""
    rng = np.random.default_rng(3)
    hist = 10.0 ** rng.uniform(-6, 1, (40, 6))
    weights = rng.integers(1, 9, 40)
    before = stable_merge(hist[:37], weights[:37], 14)  # g = 3: 13 rows
    after = stable_merge(hist[:38], weights[:38], 14)  # one row more, same groups
    assert before.shape == (13, 6) and after.shape == (13, 6)
    np.testing.assert_allclose(after[:-1], before[:-1], rtol=1e-12)  # only the newest changed
    w = weights[36:38].astype(np.float64)[:, None]
    expected = 10.0 ** ((np.log10(hist[36:38]) * w).sum(axis=0) / w.sum())  # the last group
    np.testing.assert_allclose(after[-1], expected, rtol=1e-10)
    np.testing.assert_allclose(stable_merge(hist[:14], weights[:14], 14), hist[:14], rtol=0)


def test_heat_strip_merges_every_group_as_merge_rows_merges_it_alone() -> None:
    """If this fails, the strip's groups, merged in one pass, differ from the weighted geometric
    mean of each group taken alone: zeros, NaN or inf come out otherwise, or a short last group
    (one row) is not that row."""
    rng = np.random.default_rng(11)
    for k in (29, 30, 31, 57, 200):  # last groups of every length, one row among them
        hist = 10.0 ** rng.uniform(-6, 2, (k, 7))
        hist[rng.random(hist.shape) < 0.1] = 0.0  # a gradient that vanished
        hist[rng.random(hist.shape) < 0.03] = np.nan
        hist[rng.random(hist.shape) < 0.03] = np.inf
        weights = rng.integers(1, 40, k)
        shown = stable_merge(hist, weights, 14)
        g = group_size(k / 14)  # the group size the strip chose
        for i, a in enumerate(range(0, k, g)):
            alone = merge_rows(hist[a : a + g], weights[a : a + g], 1)[0]
            np.testing.assert_array_equal(shown[i], alone, err_msg=f"K={k} group {i}")


def test_heat_strip_stays_put_when_the_history_merges_its_rows_in_pairs() -> None:
    """If this fails, each time the run's gradient history halves its resolution (it merges
    neighbouring rows in pairs when full) the whole heat strip changes colour and is sent to
    the terminal again, although every line stands for the same steps as before."""
    rng = np.random.default_rng(7)
    hist = 10.0 ** rng.uniform(-6, 1, (120, 5))
    weights = np.full(120, 2.0)  # steps per row, as the history keeps them before it merges
    # The history's merge: a pair's geometric mean, weighted by its steps (each row's count).
    merged = np.sqrt(hist[:70:2] * hist[1:70:2])
    before = stable_merge(hist[:70], weights[:70], 14)  # 70 rows: g = 6, 12 lines
    after = stable_merge(merged, 2 * weights[:35], 14)  # 35 rows: g = 3, the same 12 lines
    assert before.shape == after.shape == (12, 5)
    np.testing.assert_allclose(after, before, rtol=1e-9)
    for k, g in ((14, 1), (15, 2), (29, 3), (43, 4), (57, 6), (85, 8), (113, 12)):
        assert stable_merge(hist[:k], weights[:k], 14).shape[0] == -(-k // g), k


def test_heat_strip_keeps_its_older_lines_when_a_row_is_added() -> None:
    """If this fails, adding one history row changes the colours of older lines of the strip
    (rows paired anew), and the terminal repaints the whole strip for one new row."""
    rng = np.random.default_rng(5)
    hist = 10.0 ** rng.uniform(-4, 0, (9, 8))
    steps = np.repeat(np.arange(1, 10)[:, None], 2, axis=1)
    widths = np.ones(8, np.int64)

    def strip(k: int) -> list[Text]:
        return heat_rows(hist[:k], steps[:k], 1, 5, 4, widths, (-4, 0), DARK)[1:-1]

    odd, even = strip(7), strip(8)  # 7 rows: 4 lines, the last half empty; 8 rows: 4 lines
    assert len(odd) == len(even) == 4
    for a, b in zip(odd[:3], even[:3], strict=True):
        assert a.plain == b.plain and a.spans == b.spans
    assert odd[3].spans != even[3].spans  # the newest line took the new row


def test_a_group_of_one_row_is_that_row_exactly() -> None:
    """If this fails, merging leaves a row that has no neighbour in its group changed by the
    round trip through a logarithm (10 ** log10 v is not always v), or turns its inf into NaN."""
    rng = np.random.default_rng(5)
    hist = 10.0 ** rng.uniform(-6, 2, (5, 9))
    hist[0, 3], hist[4, 1] = np.inf, 0.0
    merged = merge_rows(hist, np.ones(5), 4)  # rows 0, 1, 4 alone, rows 2 and 3 together
    np.testing.assert_array_equal(merged[[0, 1, 3]], hist[[0, 1, 4]])
    expected = np.sqrt(hist[2] * hist[3])  # the geometric mean of the pair
    np.testing.assert_allclose(merged[2], expected, rtol=1e-12)
