"""Each cell's own defaults (`CELL_DEFAULTS`), as `--cell` and `--compare` apply them: what
the user typed wins, and presets and checkpoints keep their own settings."""

from __future__ import annotations

from dataclasses import fields

import pytest
from conftest import TINY

from rnn_tui.cli import _typed, build_parser, make_spec
from rnn_tui.engine.checkpoint import save_checkpoint
from rnn_tui.engine.config import (
    CELL_DEFAULTS,
    CELL_NAMES,
    Config,
    SettingError,
    defaults_for,
    for_cell,
)
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.longlag import line_length
from rnn_tui.engine.trainer import Trainer

# The chosen values, written out: a change to CELL_DEFAULTS must be a change made on purpose.
LSTM = Config(cell="lstm", hidden=256, lr=5e-3)
GRU = Config(cell="gru", hidden=256)


def configs(*argv: str) -> tuple[Config, ...]:
    """The configs the command line `rnn-tui ARGV` trains."""
    parser = build_parser()
    return make_spec(parser.parse_args(list(argv)), _typed(list(argv), parser)).configs


def test_each_cell_has_its_measured_defaults_and_the_rnn_the_lecture_s() -> None:
    """If this fails, `--cell lstm` or `--cell gru` no longer starts from the settings measured
    to learn fastest, or the vanilla RNN of the lecture has lost its textbook defaults."""
    assert defaults_for("rnn") == Config()
    assert defaults_for("lstm") == LSTM
    assert defaults_for("gru") == GRU
    for cell in CELL_NAMES:  # every other field is the RNN's
        own = defaults_for(cell)
        for f in fields(Config):
            if f.name not in CELL_DEFAULTS[cell] and f.name != "cell":
                assert getattr(own, f.name) == getattr(Config(), f.name), (cell, f.name)


def test_an_unknown_cell_is_refused() -> None:
    """If this fails, a misspelt cell gives a KeyError traceback instead of the setting's message."""
    with pytest.raises(SettingError, match="cell"):
        defaults_for("transformer")


def test_the_cell_flag_brings_the_cell_s_defaults() -> None:
    """If this fails, `rnn-tui FILE --cell lstm` trains the LSTM with the RNN's settings."""
    assert configs(str(TINY)) == (Config(),)
    assert configs(str(TINY), "--cell", "rnn") == (Config(),)
    assert configs(str(TINY), "--cell", "lstm") == (LSTM,)
    assert configs(str(TINY), "--cell", "gru", "--headless") == (GRU,)


def test_typed_flags_win_over_the_cell_s_defaults() -> None:
    """If this fails, a flag the user typed is silently replaced by the cell's default, even
    one typed at the RNN's default value."""
    (c,) = configs(str(TINY), "--cell", "lstm", "--hidden", "16", "--lr", "0.003")
    assert c == LSTM.with_(hidden=16, lr=0.003, lr_boost=1.0)  # --lr alone: no start-up boost
    (c,) = configs(str(TINY), "--batch", "8", "--cell", "gru", "--seed", "7")
    assert c == GRU.with_(batch=8, seed=7)


def test_compare_gives_each_cell_its_own_defaults_unless_typed() -> None:
    """If this fails, `--compare rnn,lstm` handicaps one of the two cells with the other's
    settings, or overrides what the user typed for both."""
    assert configs(str(TINY), "--compare", "rnn,lstm") == (Config(), LSTM)
    assert configs(str(TINY), "--compare", "gru,lstm") == (GRU, LSTM)
    typed = configs(str(TINY), "--compare", "lstm,rnn", "--lr", "0.02", "--hidden", "8")
    alone = {"lr": 0.02, "lr_boost": 1.0, "hidden": 8}  # --lr alone: no start-up boost
    assert typed == (LSTM.with_(**alone), Config(**alone))


def test_switching_cells_brings_the_new_cell_s_defaults_and_keeps_what_was_set() -> None:
    """If this fails, the l key trains the LSTM with the RNN's H and lr (not what `--cell
    lstm` gives), drops a setting the user chose, or a round of l does not come back to the
    settings it left."""
    assert for_cell(Config(), "lstm") == LSTM
    assert for_cell(LSTM, "gru") == GRU
    assert for_cell(GRU, "rnn") == Config()
    mine = Config(hidden=64, lr=0.01, batch=8, seed=7, clip_mode="value")
    assert for_cell(mine, "lstm") == mine.with_(cell="lstm")  # H and lr set by hand: kept
    half = for_cell(Config(lr=0.02, seq_len=64), "lstm")  # H at its default, lr set by key
    assert half == LSTM.with_(lr=0.02, seq_len=64)
    trip = Config(batch=16)
    for cell in ("lstm", "gru", "rnn"):
        trip = for_cell(trip, cell)
    assert trip == Config(batch=16)


# The presets' settings as they were before the cells had defaults of their own (and a
# start-up boost: the lessons' steps were measured without one).
LONG_LAG = {"hidden": 32, "seq_len": line_length(80), "reset_at": "\n", "clip": 1.0}
LONG_LAG["lr_boost"] = 1.0
RESCUE = {**LONG_LAG, "batch": 4, "forget_bias": 8.0}
RESCUE_RNN = {**LONG_LAG, "batch": 4}  # vanishing: lstm-rescue's RNN, alone


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["--preset", "vanishing"], (Config(cell="rnn", lr=0.03, **RESCUE_RNN),)),
        (
            ["--preset", "vanishing", "--cell", "lstm"],
            (Config(cell="lstm", lr=0.03, **RESCUE_RNN),),
        ),
        (
            ["--preset", "lstm-rescue"],
            (Config(cell="rnn", lr=0.03, **RESCUE), Config(cell="lstm", lr=0.1, **RESCUE)),
        ),
        (["--preset", "lstm-rescue", "--cell", "lstm"], (Config(cell="lstm", lr=0.1, **RESCUE),)),
        (
            ["--preset", "lstm-rescue", "--compare", "gru,lstm"],
            (Config(cell="gru", lr=0.1, **RESCUE), Config(cell="lstm", lr=0.1, **RESCUE)),
        ),
        (
            [str(TINY), "--preset", "exploding", "--cell", "gru"],
            (
                Config(
                    cell="gru",
                    rec_gain=3.0,
                    optimizer="sgd",
                    lr=1e-3,
                    clip_mode="off",
                    clip=1.0,
                    lr_boost=1.0,
                ),
            ),
        ),
    ],
)
def test_presets_keep_their_own_settings(argv: list[str], want: tuple[Config, ...]) -> None:
    """If this fails, a lesson no longer runs as measured: a cell's defaults (its hidden size,
    its step) replace what the preset chose, and the LSTM may not rescue the recall in time."""
    assert configs(*argv) == want


def test_a_checkpoint_keeps_its_settings(tmp_path) -> None:
    """If this fails, `--load` resumes an LSTM with the LSTM's defaults instead of the settings
    it was trained with (a different hidden size cannot even load its weights)."""
    saved = Config(cell="lstm", hidden=16, seq_len=8, batch=4, lr=0.02, eval_every=1000)
    path = save_checkpoint(tmp_path / "m.npz", Trainer(load_corpus(TINY), saved))
    assert configs(str(TINY), "--load", path) == (saved,)
    assert configs(str(TINY), "--load", path, "--cell", "lstm") == (saved,)
    assert configs(str(TINY), "--load", path, "--lr", "0.001") == (
        saved.with_(lr=0.001, lr_boost=1.0),
    )


def test_lr_alone_trains_at_that_rate_from_the_first_step() -> None:
    """If this fails, `--lr 0.01` starts at three times 0.01 (the start-up boost the defaults
    have), or `--lr-boost` typed beside it is not honoured."""
    assert configs(str(TINY)) == (Config(lr_boost=3.0),)
    (c,) = configs(str(TINY), "--lr", "0.01")
    assert (c.lr, c.lr_boost) == (0.01, 1.0)
    (c,) = configs(str(TINY), "--lr", "0.01", "--lr-boost", "2")
    assert (c.lr, c.lr_boost) == (0.01, 2.0)
    (c,) = configs(str(TINY), "--lr-boost", "1")
    assert (c.lr, c.lr_boost) == (Config().lr, 1.0)
