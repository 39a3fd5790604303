"""Checkpoints: round trip, atomic writes, and refusal of anything that is not ours."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_checkpoint_fuzz import GIB, Entry, drop, members, npy, npy_raw, put, zero_bomb, zip_bytes

from rnn_tui.engine import checkpoint as ck
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.resume import trainer_from_checkpoint
from rnn_tui.engine.sampling import sample_text
from rnn_tui.engine.trainer import Trainer
from rnn_tui.errors import UserError

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
    resumed = trainer_from_checkpoint(tiny, ck.load_checkpoint(path), path)
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

    monkeypatch.setattr(ck, "_write_npz", disk_full)
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
        trainer_from_checkpoint(other, ck.load_checkpoint(path), path)


def test_other_shape_is_refused(tiny, trained, tmp_path: Path) -> None:
    """If this fails, a checkpoint is forced into a model of another size and crashes."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    with pytest.raises(
        UserError, match=r"parameter \w+ is shape \(32, 69\), the model needs \(48, 69\)"
    ):
        trainer_from_checkpoint(tiny, ck.load_checkpoint(path), path, SMALL.with_(hidden=48))


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
    back = trainer_from_checkpoint(tiny, ck.load_checkpoint(path), path)
    assert back.config == trainer.config and back.steps == steps
    for k, v in trainer.params.items():
        assert back.params[k].dtype == v.dtype
        np.testing.assert_array_equal(back.params[k], v)
    for k, v in trainer.optimizer.state.items():
        np.testing.assert_array_equal(back.optimizer.state[k], v)
    a = sample_text(trainer.model, trainer.params, tiny.vocab, 30, seed=seed)
    b = sample_text(back.model, back.params, tiny.vocab, 30, seed=seed)
    assert a == b


# -- one test per way a checkpoint can be wrong ---------------------------------------------------


def _with(path: str, tmp_path: Path, changes: dict[str, bytes | None]) -> Path:
    """A copy of checkpoint `path` with members replaced ({"param.Wxh": bytes}; None drops)."""
    entries = members(Path(path).read_bytes())
    for key, data in changes.items():
        entries = drop(entries, f"{key}.npy") if data is None else put(entries, f"{key}.npy", data)
    out = tmp_path / "bad.npz"
    out.write_bytes(zip_bytes(entries))
    return out


@pytest.mark.parametrize(
    ("field", "value"),
    [("seed", 1.5), ("batch", 2.5), ("seq_len", 8.5), ("eval_every", 2.5), ("eval_chars", 1.5),
     ("reset_at", 5), ("lr", "3"), ("hidden", True), ("clip", False), ("cell", None)],
)  # fmt: skip
def test_config_fields_of_the_wrong_type_are_refused(
    trained, tmp_path: Path, field: str, value: object
) -> None:
    """If this fails, a float seed or a string learning rate passes the range checks and fails
    later with a traceback (or trains with a batch of 2.5)."""
    with pytest.raises(UserError, match=f"setting {field} must be"):
        Config(**{field: value})
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    settings = json.dumps(trained.config.to_json() | {field: value})
    bad = _with(path, tmp_path, {"config": npy(np.array(settings))})
    with pytest.raises(UserError, match=f"settings are invalid: setting {field} must be"):
        ck.load_checkpoint(bad)


@pytest.mark.parametrize("text", ["[1, 2]", "null", "3", '"x"'])
def test_settings_that_are_not_an_object_are_refused(trained, tmp_path: Path, text: str) -> None:
    """If this fails, a checkpoint whose settings are a JSON list gives an AttributeError."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    with pytest.raises(UserError, match="must be a JSON object"):
        ck.load_checkpoint(_with(path, tmp_path, {"config": npy(np.array(text))}))


def test_transposed_recurrent_weights_are_refused(tiny, tmp_path: Path) -> None:
    """If this fails, an LSTM's W_h stored transposed, (H, 4H) instead of (4H, H), loads."""
    trainer = Trainer(tiny, Config(cell="lstm", hidden=8, seq_len=4, batch=2))
    path = ck.save_checkpoint(tmp_path / "m.npz", trainer)
    bad = _with(path, tmp_path, {"param.Wh": npy(trainer.params["Wh"].T.copy())})
    with pytest.raises(UserError, match=r"param.Wh has shape \(8, 32\), the model needs \(32, 8\)"):
        ck.load_checkpoint(bad)


@pytest.mark.parametrize("dtype", ["int8", "bool", "complex64", "float64", ">f4", "<U3"])
def test_weights_of_another_dtype_are_refused_not_cast(trained, tmp_path, dtype) -> None:
    """If this fails, int8 or complex weights are silently cast into the float32 model."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    bad = _with(path, tmp_path, {"param.Why": npy(trained.params["Why"].astype(dtype))})
    with pytest.raises(UserError, match=r"param.Why holds \S+, the model needs float32"):
        ck.load_checkpoint(bad)


@pytest.mark.parametrize("member", ["param.Whh", "opt.v.by"])
def test_nan_weights_and_state_are_refused(trained, tmp_path: Path, member: str) -> None:
    """If this fails, a model with NaN weights loads and every loss is NaN from the first step."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    kind, name = member.split(".", 1)
    value = (trained.params if kind == "param" else trained.optimizer.state)[name].copy()
    value.flat[3] = np.nan
    with pytest.raises(UserError, match="holds NaN or inf"):
        ck.load_checkpoint(_with(path, tmp_path, {member: npy(value)}))


@pytest.mark.parametrize(
    ("step", "chars", "message"),
    [(-1, 100, "step is negative"), (5, -3, "chars is negative"), (10, 9, "only 9 characters")],
)
def test_impossible_counters_are_refused(trained, tmp_path, step, chars, message) -> None:
    """If this fails, a negative step count loads and the charts start below zero."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    step_, chars_ = npy(np.array(step, np.int64)), npy(np.array(chars, np.int64))
    with pytest.raises(UserError, match=message):
        ck.load_checkpoint(_with(path, tmp_path, {"step": step_, "chars": chars_}))


def test_oversized_header_is_not_called_pickled(trained, tmp_path: Path) -> None:
    """If this fails, a file with a long `.npy` header is reported as holding pickled objects
    (numpy's message mentions allow_pickle), which sends the user looking for the wrong thing."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (32, 69), }" + " " * 20000
    bad = _with(path, tmp_path, {"param.Wxh": npy_raw(header + "\n")})
    with pytest.raises(UserError, match="oversized .npy header") as info:
        ck.load_checkpoint(bad)
    assert "pickle" not in str(info.value)


# 1 GiB declared in a 1 MB file: refused from the sizes alone; 32 MiB: refused from its header;
# the right header but 32 MiB of data after it: refused from the declared size.
@pytest.mark.parametrize(
    ("shape", "zeros", "message"),
    [((2**28,), GIB, r"declares 1,024 MiB in 1.1 MiB \(a bomb\?\)"),
     ((2**23,), 2**25, r"param.Wxh has shape \(8388608,\)"),
     ((32, 69), 2**25, r"param.Wxh declares 33,554,560 bytes, not 8,960")],
)  # fmt: skip
def test_decompression_bomb_is_refused_in_bounded_memory(trained, tmp_path, shape, zeros, message):
    """If this fails, a small file declaring a gigabyte of zeros is inflated into memory."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    entries = [*drop(members(Path(path).read_bytes()), "param.Wxh.npy"), zero_bomb(shape, zeros)]
    bad = tmp_path / "bomb.npz"
    bad.write_bytes(zip_bytes(entries))
    tracemalloc.start()
    try:
        with pytest.raises(UserError, match=message):
            ck.load_checkpoint(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**21  # measured ~0.2 MiB, whatever the bomb declares


def test_encrypted_and_unknown_compression_are_refused(trained, tmp_path: Path) -> None:
    """If this fails, an encrypted member gives RuntimeError and bzip2 NotImplementedError."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    entries = members(Path(path).read_bytes())
    for changes, message in [({"flags": 1}, "is encrypted"), ({"method": 99}, "method 99")]:
        bad = tmp_path / "bad.npz"
        bad.write_bytes(zip_bytes(put(entries, "vocab.npy", entries[2].data, **changes)))
        with pytest.raises(UserError, match=message):
            ck.load_checkpoint(bad)


@pytest.mark.parametrize(
    ("extra", "message"),
    [(Entry("param.extra.npy", npy(np.zeros(3, np.float32))), "holds param.extra.npy"),
     (Entry("notes.txt", b"hi"), "member notes.txt is not a .npy array")],
)  # fmt: skip
def test_extra_members_are_refused(trained, tmp_path: Path, extra: Entry, message: str) -> None:
    """If this fails, an unknown member is loaded along (or gives a KeyError in restore)."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(zip_bytes([*members(Path(path).read_bytes()), extra]))
    with pytest.raises(UserError, match=message):
        ck.load_checkpoint(bad)


def test_checkpoint_without_optimizer_state_resumes_with_a_fresh_one(
    tiny, trained, tmp_path
) -> None:
    """If this fails, weights saved without the trainer (e.g. after its process died) cannot be
    loaded, or half an optimizer state is accepted."""
    t = trained
    weights_only = ck.Checkpoint(t.config, t.corpus.vocab.chars, t.params, {}, t.steps, t.chars)
    path = ck.write_checkpoint(tmp_path / "weights", weights_only)
    assert path.endswith("weights.npz")
    back = ck.load_checkpoint(path)
    assert back.opt_state == {} and back.step == t.steps
    resumed = trainer_from_checkpoint(tiny, back, path)
    for k, v in t.params.items():
        np.testing.assert_array_equal(resumed.params[k], v)
    fresh = Trainer(tiny, t.config).optimizer.state
    for k, v in resumed.optimizer.state.items():
        np.testing.assert_array_equal(v, fresh[k])
    resumed.step()  # trains on
    partial = _with(ck.save_checkpoint(tmp_path / "full", t), tmp_path, {"opt.m.Wxh": None})
    with pytest.raises(UserError, match=r"member opt.m.Wxh.npy is missing"):
        ck.load_checkpoint(partial)


def test_write_checkpoint_round_trip(tiny, trained, tmp_path: Path, monkeypatch) -> None:
    """If this fails, a checkpoint written from a `Checkpoint` (the app's way, no trainer) does
    not read back as written, or the file is created by changing the process umask."""

    def no_umask(mask: int) -> int:
        raise AssertionError("os.umask changes the whole process's umask, even other threads'")

    monkeypatch.setattr(os, "umask", no_umask)
    t = trained
    state = {k: v.copy() for k, v in t.optimizer.state.items()}
    ckpt = ck.Checkpoint(t.config, tuple(tiny.vocab.chars), t.params, state, t.steps, t.chars)
    path = ck.write_checkpoint(tmp_path / "w.npz", ckpt)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left
    mode = os.stat(path).st_mode & 0o777
    assert mode == 0o666 & ~_umask(), oct(mode)
    back = ck.load_checkpoint(path)
    assert (back.config, back.vocab, back.step, back.chars) == (
        ckpt.config, ckpt.vocab, ckpt.step, ckpt.chars,
    )  # fmt: skip
    for k, v in ckpt.params.items():
        assert back.params[k].dtype == v.dtype
        np.testing.assert_array_equal(back.params[k], v)
    for k, v in ckpt.opt_state.items():
        np.testing.assert_array_equal(back.opt_state[k], v)
    t.params["Why"][0, 0] = np.inf
    with pytest.raises(UserError, match="param.Why holds NaN or inf"):
        ck.write_checkpoint(
            tmp_path / "w.npz", ck.Checkpoint(t.config, ckpt.vocab, t.params, {}, 1, 1)
        )


def _umask() -> int:
    """The process umask, read without changing it (Linux), else the usual 0o022."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration):
        return 0o022


def test_float32_checkpoint_into_a_float64_trainer(tiny, trained, tmp_path: Path) -> None:
    """If this fails, --dtype float64 can no longer resume a float32 run; and a float64 value
    too large for float32 would silently become inf the other way."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    wide = trainer_from_checkpoint(
        tiny, ck.load_checkpoint(path), path, SMALL.with_(dtype="float64")
    )
    assert wide.params["Why"].dtype == np.float64
    np.testing.assert_array_equal(wide.params["Why"], trained.params["Why"])
    wide.params["Why"][0, 0] = 1e300
    huge = ck.save_checkpoint(tmp_path / "huge.npz", wide)
    with pytest.raises(UserError, match="parameter Why holds float64, which does not fit float32"):
        trainer_from_checkpoint(tiny, ck.load_checkpoint(huge), huge, SMALL)


def test_control_characters_in_the_path_stay_out_of_the_message(tmp_path: Path) -> None:
    """If this fails, a file name with an escape sequence reaches the terminal through --load."""
    with pytest.raises(UserError) as info:
        ck.load_checkpoint(tmp_path / "evil\x1b[2J\nname.npz")
    assert "does not exist" in str(info.value)
    assert not any(ord(c) < 32 for c in str(info.value))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("top_k", 2.5),
        ("sample_len", 1.5),
        ("top_k", True),
        ("temperature", "1"),
        ("temperature", 0),
    ],
)
def test_sample_settings_of_the_wrong_type_are_refused(field: str, value: object) -> None:
    """If this fails, a top-k of 2.5 or a sample length of 1.5 is taken as given and fails later
    with a traceback (these are the viewer's settings now, not the checkpoint's)."""
    from rnn_tui.engine.sample_settings import SampleSettings

    with pytest.raises(UserError, match=f"setting {field} must be"):
        SampleSettings(**{field: value})


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        ("opt.t", np.array(2**63 - 1, np.int64), "t = 9223372036854775807 does not fit"),
        ("opt.t", np.array(-1, np.int64), "opt.t is negative"),
        ("opt.v.Whh", None, "v.Whh holds negative values"),
    ],
)
def test_impossible_optimizer_state_is_refused(
    tiny, trained, tmp_path: Path, member: str, value: np.ndarray | None, message: str
) -> None:
    """If this fails, an Adam step count near 2**63 overflows in the first update (a traceback),
    or a negative second moment turns the first step into NaN after a 'successful' load."""
    path = ck.save_checkpoint(tmp_path / "m.npz", trained)
    if value is None:  # a negative squared-gradient average
        value = -np.abs(trained.optimizer.state["v.Whh"]) - 1e-3
    bad = _with(path, tmp_path, {member: npy(value)})
    with pytest.raises(UserError, match=message):
        trainer_from_checkpoint(tiny, ck.load_checkpoint(bad), str(bad))
