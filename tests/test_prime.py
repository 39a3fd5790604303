"""Priming samples: `--prime TEXT` and the P key; every sample continues the prime, drawn dimmed."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from test_snapshots import TINY, FixedSource, show_fixed
from textual.widgets import Input

from rnn_tui.cli import main
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import Vocab
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.sample_settings import MAX_PRIME, SampleSettings, read_prime
from rnn_tui.engine.sampling import distribution
from rnn_tui.run.spec import RunSpec
from rnn_tui.ui.app import RnnApp, make_app
from rnn_tui.ui.lane import Lane
from rnn_tui.ui.widgets.prime_input import PrimeScreen, typed_form

CORPUS_CHARS = set(TINY.read_text(encoding="utf-8"))


# -- the command line ----------------------------------------------------------------------------


def test_prime_with_characters_the_corpus_lacks_is_one_line_naming_them(capsys) -> None:
    """If this fails, a typo in --prime starts the app anyway (or crashes with a traceback), and
    the user cannot tell which character the model cannot read."""
    assert "{" not in CORPUS_CHARS and "Z" not in CORPUS_CHARS  # the test's own premise
    assert main([str(TINY), "--prime", "The Zoo{"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--prime" in err and "'Z'" in err and "'{'" in err
    assert "'T'" not in err  # the characters it has are not named


def test_prime_longer_than_the_limit_is_refused(capsys) -> None:
    """If this fails, a pasted page becomes a prime the sampler reads before every sample."""
    assert main([str(TINY), "--headless", "--prime", "a" * (MAX_PRIME + 1)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--prime must be at most {MAX_PRIME} characters (got {MAX_PRIME + 1})" in err


@pytest.mark.functional
def test_headless_sample_continues_the_prime(capsys) -> None:
    """If this fails, --headless ignores --prime: its sample does not start with it."""
    args = [str(TINY), "--headless", "--steps", "2", "--hidden", "16", "--seq-len", "8"]
    assert main([*args, "--prime", "The baker\\n" + "a" * (MAX_PRIME - 10)]) == 0
    out = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(out) if line.startswith("sample at step 2"))
    assert out[at + 1] == "The baker"  # the escape '\n' became a newline
    assert out[at + 2].startswith("a" * (MAX_PRIME - 10))


def test_prime_escapes_are_read_and_other_characters_kept() -> None:
    """If this fails, '\\n' cannot put a newline in a prime, or a non-ASCII prime is garbled."""
    assert read_prime("a\\nb\\tc") == "a\nb\tc"
    assert read_prime("café € привет") == "café € привет"
    assert read_prime("back\\\\slash") == "back\\slash"
    with pytest.raises(ValueError):
        read_prime("ends in \\")
    for prime in ("The baker\n", "tab\there", "back\\slash", "café €", ""):
        assert read_prime(typed_form(prime)) == prime


def test_changing_the_temperature_keeps_the_prime() -> None:
    s = SampleSettings(prime="The ").with_(temperature=1.2)
    assert (s.prime, s.temperature) == ("The ", 1.2)


# -- the sampler ---------------------------------------------------------------------------------


def manual_sample(cell, params, vocab: Vocab, prime: str, reset_at: str, n: int, seed: int):
    """`n` characters after `prime`, by stepping the model by hand: the prime read into a zero
    state (zeroed again after each `reset_at` character, as in training), then each character
    drawn from softmax(logits / 0.8) with a generator seeded `seed`. Also the state the prime
    left, (H,)."""
    state = cell.init_state(1)
    for ch in prime:
        logits, state = cell.step(params, np.array([vocab.chars.index(ch)]), state)
        after_prime = state[0][0].copy()
        if ch in reset_at:
            state = cell.init_state(1)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = distribution(logits[0], 0.8)
        i = int(rng.choice(len(p), p=p))
        out.append(vocab.chars[i])
        logits, state = cell.step(params, np.array([i]), state)
        if vocab.chars[i] in reset_at:
            state = cell.init_state(1)
    return "".join(out), after_prime


@pytest.mark.parametrize("cell_name", ["rnn", "lstm"])
def test_lane_continues_the_prime_as_the_model_reads_it(cell_name: str) -> None:
    """If this fails, the sample pane's text is not what the model writes after the prime: the
    prime is not read into the state, or read differently from training (no reset at a
    newline)."""
    vocab = Vocab.from_text(TINY.read_text(encoding="utf-8"))
    cell = make_cell(cell_name, vocab.size, 24, "float64")
    params = cell.init_params(np.random.default_rng(3), rec_gain=1.5)
    prime, n, seed = "the fish\nand the bread ", 60, 7
    lane = Lane(cell, 0, sample_len=n, seed=seed, reset_at="\n")
    lane.weights = (params, 10)
    lane.type(n, vocab, SampleSettings(prime=prime), paused=False)

    expected, after_prime = manual_sample(cell, params, vocab, prime, "\n", n, seed + 1)
    unreset, _ = manual_sample(cell, params, vocab, prime, "", n, seed + 1)
    assert unreset != expected  # the premise: here the reset at the newline changes the text
    header, text = lane.samples_so_far()[-1]
    assert text == prime + expected
    assert "prime 23 chars" in header
    assert lane.sample_pane.samples[-1][1] == prime + expected
    # The first character was chosen from the state the prime left, not from a zero state.
    assert np.abs(after_prime).max() > 1e-3
    np.testing.assert_allclose(lane.recent[0][1], after_prime, rtol=0, atol=1e-12)
    assert "".join(ch for ch, _ in lane.recent) == expected  # the neuron view: generated only


# -- the app -------------------------------------------------------------------------------------


def fed_app() -> RnnApp:
    """The app of one run, fed by hand: weights given, samples typed on demand."""
    app = make_app(RunSpec(str(TINY), (Config(hidden=32),)), source=FixedSource())
    app.animate = False
    return app


async def show_fed(pilot) -> None:
    """The fixed screen, then weights for the sampler (once the lanes exist)."""
    await show_fixed(pilot)
    lane = pilot.app.lanes[0]
    lane.weights = (lane.cell.init_params(np.random.default_rng(0)), 1200)


def prime_row_styles(app: RnnApp) -> list[tuple[str, bool]]:
    """(text, dim) of each segment of the rendered row after the newest sample's header."""
    pane = app.sample_pane
    rows = pane.visual_rows()
    header_at = max(i for i, row in enumerate(rows) if row.startswith("──"))
    strip = pane.render_line(header_at + 1 - pane.scroll_offset.y)
    return [(seg.text, bool(seg.style and seg.style.dim)) for seg in strip if seg.text.strip()]


@pytest.mark.functional
def test_p_key_sets_the_prime_and_the_next_sample_shows_it_dimmed() -> None:
    """If this fails, P does not open the prime box, keys typed into it reach the app (q quits,
    space pauses), or the sample after Enter does not begin with the prime drawn dimmed."""

    async def main() -> None:
        app = fed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await show_fed(pilot)
            app.lanes[0].type(30, app.vocab, app.sampling, paused=False)
            await pilot.press("P")
            assert isinstance(app.screen, PrimeScreen)
            await pilot.press(*"q The baker ", "space")  # q and space belong to the box now
            assert app.is_running and app.notice == ""
            assert app.screen.query_one(Input).value == "q The baker  "
            await pilot.press("enter")
            assert not isinstance(app.screen, PrimeScreen)
            assert app.sampling.prime == "q The baker  "
            assert app.notice == "samples now continue: q The baker  "
            app.lanes[0].type(40, app.vocab, app.sampling, paused=True)  # starts at once
            await pilot.pause()
            header, text = app.sample_pane.samples[-1]
            assert "prime 13 chars" in header and text.startswith("q The baker  ")
            assert len(text) == 13 + 40
            segments = prime_row_styles(app)
            dim = "".join(t for t, d in segments if d)
            plain = "".join(t for t, d in segments if not d)
            assert dim.strip() == "q The baker" and plain and not plain.startswith(" ")
            assert segments[0][1] and not segments[-1][1]

    asyncio.run(main())


@pytest.mark.functional
def test_prime_box_refuses_unknown_characters_and_esc_cancels() -> None:
    """If this fails, the box takes a prime the model cannot read, or Esc changes the prime."""

    async def main() -> None:
        app = fed_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await show_fed(pilot)
            await pilot.press("P", *"The Zoo", "enter")
            assert isinstance(app.screen, PrimeScreen)  # still open, saying why
            error = str(app.screen.query_one("#prime-error").render())
            assert "'Z'" in error
            await pilot.press("escape")
            assert not isinstance(app.screen, PrimeScreen)
            assert app.sampling.prime == ""
            await pilot.press("P", "ctrl+u", "enter")  # empty: no prime
            assert app.notice.startswith("prime cleared")

    asyncio.run(main())
