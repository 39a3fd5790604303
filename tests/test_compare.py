"""Compare mode and the long-lag lesson: two cells, the same batches, different gradients."""

from __future__ import annotations

import asyncio
import io
import json
import math

import numpy as np
import pytest
from conftest import TINY

from rnn_tui.cli import _typed, build_parser, make_spec
from rnn_tui.engine.longlag import line_length, make_lines
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError
from rnn_tui.run.build import build_trainers
from rnn_tui.run.headless import run_headless
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import make_app


def spec_for_argv(argv: list[str]) -> RunSpec:
    parser = build_parser()
    args = parser.parse_args(argv)
    return make_spec(args, _typed(argv, parser))


def trainers_for(argv: list[str]) -> list[Trainer]:
    return build_trainers(spec_for_argv(argv))


def test_compare_feeds_both_models_identical_batches() -> None:
    """If this fails, the side-by-side comparison is unfair: the two cells learn from
    different text, so their curves cannot be compared."""
    trainers = trainers_for(
        [str(TINY), "--compare", "rnn,lstm", "--hidden", "16", "--seq-len", "64"]
    )
    assert [t.config.cell for t in trainers] == ["rnn", "lstm"]
    seen: dict[str, list[tuple[np.ndarray, ...]]] = {"rnn": [], "lstm": []}
    for t in trainers:
        original = t._batch

        def recording(original=original, cell=t.config.cell):
            batch = original()
            seen[cell].append(tuple(b.copy() for b in batch if b is not None))
            return batch

        t._batch = recording  # type: ignore[method-assign]
    steps = trainers[0].segment // 64 + 3  # past the end of the segments: the wrap too
    run_headless(trainers, steps, out=io.StringIO())
    assert len(seen["rnn"]) == len(seen["lstm"]) == steps
    for a, b in zip(seen["rnn"], seen["lstm"], strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_headless_compare_tags_metrics_by_cell(tmp_path) -> None:
    """If this fails, a metrics file from --compare cannot tell the two runs apart."""
    trainers = trainers_for([str(TINY), "--compare", "rnn,gru", "--hidden", "16"])
    out = io.StringIO()
    with open(tmp_path / "m.jsonl", "w") as f:
        run_headless(trainers, 20, f, log_every=10, out=out)
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [(r["cell"], r["step"]) for r in lines] == [
        ("rnn", 10),
        ("gru", 10),
        ("rnn", 20),
        ("gru", 20),
    ]
    assert " rnn sample at step 20" in out.getvalue() and " gru sample at step 20" in out.getvalue()


@pytest.mark.parametrize(
    "value", ["rnn", "rnn,rnn", "rnn,lstm,gru", "rnn,transformer"], ids=lambda v: v
)
def test_compare_needs_two_different_known_cells(value: str) -> None:
    """If this fails, a typo in --compare starts something unexpected or crashes."""
    with pytest.raises(UserError, match="--compare takes two different cells"):
        trainers_for([str(TINY), "--compare", value])


def test_vanishing_gradient_lesson_on_long_lag_text(tmp_path) -> None:
    """If this fails, the lesson of the project does not show: on text whose only long-range
    dependency spans a whole line, the RNN's gradient from the last step must fade to almost
    nothing by the first step, while the LSTM's survives, many orders of magnitude stronger."""
    lag = 40
    path = tmp_path / "longlag.txt"
    path.write_text(make_lines(300, lag=lag))
    trainers = trainers_for(
        [
            str(path),
            "--compare",
            "rnn,lstm",
            "--hidden",
            "24",
            "--seq-len",
            str(line_length(lag)),
            "--reset-at",
            "\\n",
            "--clip",
            "1",
            "--batch",
            "16",
            "--lr-boost",
            "1",  # as the lessons' presets: their steps were measured without the boost
        ]
    )
    run_headless(trainers, 150, out=io.StringIO())
    rnn, lstm = (t.last.last_ratio for t in trainers)
    assert rnn < 1e-6, rnn
    assert lstm > 1e4 * rnn, (rnn, lstm)


@pytest.mark.functional
def test_vanishing_preset_keeps_its_lesson_past_its_first_seconds() -> None:
    """If this fails, `rnn-tui --preset vanishing` soon shows a gradient that reaches the key
    (g[key]/g[=] well above 0) under a banner saying it never does: with 32 streams at lr
    0.003 it did from step ~7,000, some 15 s into the lesson, the RNN still at chance."""
    (trainer,) = trainers_for(["--preset", "vanishing"])
    reaches = []
    for _ in range(8_000):  # about 10 s: the RNN of this preset takes ~1 ms a step
        record = trainer.step()
        if record.val_step == record.step and trainer.recall_reach is not None:
            reaches.append(trainer.recall_reach)
    assert len(reaches) >= 70 and max(reaches[-20:]) < 1e-6, reaches[-20:]
    assert record.last_ratio < 1e-6, record.last_ratio


def test_lstm_rescue_preset_is_one_command() -> None:
    """If this fails, `rnn-tui --preset lstm-rescue` needs more than one command to teach."""
    trainers = trainers_for(["--preset", "lstm-rescue"])
    assert [t.config.cell for t in trainers] == ["rnn", "lstm"]
    c = trainers[0].config
    assert c.seq_len == line_length() and c.reset_at == "\n"
    assert trainers[0].corpus.path == "long-lag (generated)"
    typed = trainers_for(["--preset", "vanishing", "--hidden", "48"])
    assert typed[0].config.hidden == 48 and typed[0].config.cell == "rnn"


@pytest.mark.functional
def test_app_compare_mode_shows_both_runs_on_one_scale() -> None:
    """If this fails, the side-by-side panes are missing, or each uses its own scale, which
    would hide the difference between the cells."""
    spec = spec_for_argv([str(TINY), "--compare", "rnn,lstm", "--hidden", "32", "--seq-len", "24"])
    app = make_app(spec)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            loop = asyncio.get_running_loop()
            end = loop.time() + 30
            while not app.booted or not all(
                lane.snapshot and lane.snapshot.record for lane in app.lanes
            ):
                assert loop.time() < end
                await pilot.pause(0.1)
            await pilot.pause(0.5)
            app._draw_charts(force=True)
            panes = [lane.grad_pane for lane in app.lanes]
            assert [lane.snapshot.cell for lane in app.lanes] == ["rnn", "lstm"]
            assert panes[0]._scale is not None and panes[0]._scale == panes[1]._scale
            # Each names its run first, so a narrow window (80 columns) cuts the rest, not that.
            assert panes[0].border_title.startswith("rnn: ")
            assert panes[1].border_title.startswith("lstm: ")
            steps = [lane.snapshot.record.step for lane in app.lanes]
            assert abs(steps[0] - steps[1]) <= 2  # they take turns
            assert math.isfinite(app.snapshot.record.loss)
            # The cells are fixed side by side: l is dimmed, the other training keys work.
            shown = app.screen.active_bindings
            assert not shown["l"].enabled and shown["r"].enabled and shown["c"].enabled

    asyncio.run(main())
