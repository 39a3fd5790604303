"""Checkpoints: round trip, atomic writes, and refusal of anything that is not ours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn_tui import checkpoint as ck
from rnn_tui.config import Config
from rnn_tui.data import load_corpus
from rnn_tui.errors import UserError
from rnn_tui.sampling import sample_text
from rnn_tui.trainer import Trainer

SMALL = Config(hidden=32, seq_len=16, batch=8)


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


@pytest.fixture
def trained(tiny):
    trainer = Trainer(tiny, SMALL)
    for _ in range(10):
        trainer.step()
    return trainer


def test_round_trip_resumes_exactly(tiny, trained, tmp_path: Path) -> None:
    """If this fails, a resumed run is not the run that was saved: losses jump after --load."""
    path = ck.save_checkpoint(tmp_path / "model", trained)
    assert path.endswith(".npz")
    resumed = ck.trainer_from_checkpoint(tiny, ck.load_checkpoint(path), path)
    assert resumed.steps == 10 and resumed.chars == trained.chars
    for k, v in trained.params.items():
        np.testing.assert_array_equal(resumed.params[k], v)
    for k, v in trained.optimizer.state.items():
        np.testing.assert_array_equal(resumed.optimizer.state[k], v)
    a = sample_text(trained.model, trained.params, tiny.vocab, 40, seed=1)
    b = sample_text(resumed.model, resumed.params, tiny.vocab, 40, seed=1)
    assert a == b


def test_failed_write_keeps_the_previous_checkpoint(trained, tmp_path: Path, monkeypatch) -> None:
    """If this fails, a full disk during a save destroys the model saved before."""
    path = ck.save_checkpoint(tmp_path / "model.npz", trained)
    before = Path(path).read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(UserError, match="No space left"):
        ck.save_checkpoint(path, trained)
    assert Path(path).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left


def test_pickled_objects_are_refused_not_run(tmp_path: Path) -> None:
    """If this fails, opening a stranger's checkpoint could execute their code."""
    path = tmp_path / "evil.npz"
    np.savez(path, format=np.array(ck.FORMAT), config=np.array([{"x": 1}], dtype=object))
    with pytest.raises(UserError, match="pickled objects"):
        ck.load_checkpoint(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "not"), (b"\x00garbage\xff" * 50, "not"), ("trunc", "not")],
    ids=["missing", "empty", "random bytes", "truncated"],
)
def test_broken_files_are_refused(trained, tmp_path: Path, content, message) -> None:
    """If this fails, --load on a broken file prints a traceback instead of one line."""
    path = tmp_path / "x.npz"
    if content == "trunc":
        good = Path(ck.save_checkpoint(tmp_path / "good.npz", trained)).read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as info:
        ck.load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_other_vocabulary_is_refused(trained, tmp_path: Path, text_file) -> None:
    """If this fails, a model is resumed on a corpus whose character ids mean other letters."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    other = load_corpus(text_file("completely different text! " * 200))
    with pytest.raises(UserError, match="another vocabulary"):
        ck.trainer_from_checkpoint(other, ck.load_checkpoint(path), path)


def test_other_shape_is_refused(tiny, trained, tmp_path: Path) -> None:
    """If this fails, a checkpoint is forced into a model of another size and crashes."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    with pytest.raises(
        UserError, match=r"parameter \w+ is shape \(32, 69\), the model needs \(48, 69\)"
    ):
        ck.trainer_from_checkpoint(tiny, ck.load_checkpoint(path), path, SMALL.with_(hidden=48))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    hidden=st.integers(1, 12),
    optimizer=st.sampled_from(["adam", "adagrad", "sgd"]),
    dtype=st.sampled_from(["float32", "float64"]),
    steps=st.integers(0, 3),
    seed=st.integers(0, 2**32),
)
def test_round_trip_property(
    tiny, tmp_path_factory, cell, hidden, optimizer, dtype, steps, seed
) -> None:
    """If this fails, some model, optimizer or precision does not survive a save and a load:
    weights, optimizer state or the text sampled with a fixed seed come back different."""
    config = Config(
        cell=cell,
        hidden=hidden,
        optimizer=optimizer,
        dtype=dtype,
        seq_len=8,
        batch=4,
        seed=seed % 2**32,
    )
    trainer = Trainer(tiny, config)
    for _ in range(steps):
        trainer.step()
    path = ck.save_checkpoint(tmp_path_factory.mktemp("ck") / "m.npz", trainer)
    back = ck.trainer_from_checkpoint(tiny, ck.load_checkpoint(path), path)
    assert back.config == trainer.config and back.steps == steps
    for k, v in trainer.params.items():
        assert back.params[k].dtype == v.dtype
        np.testing.assert_array_equal(back.params[k], v)
    for k, v in trainer.optimizer.state.items():
        np.testing.assert_array_equal(back.optimizer.state[k], v)
    a = sample_text(trainer.model, trainer.params, tiny.vocab, 30, seed=seed)
    b = sample_text(back.model, back.params, tiny.vocab, 30, seed=seed)
    assert a == b
