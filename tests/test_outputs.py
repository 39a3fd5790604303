"""Output files checked at start and written without ever stopping training (rnn_tui.run.outputs)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from rnn_tui.errors import UserError
from rnn_tui.run.outputs import MetricsLog, cell_paths, check_output


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_metrics_log_appends_flushed_lines(tmp_path: Path) -> None:
    """If this fails, a metrics file lags behind the run (or is lost in a crash)."""
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 0}\n')
    log = MetricsLog(str(path), log_every=5)
    assert log.write({"step": 5}) and log.write({"step": 10})
    assert [r["step"] for r in lines(path)] == [0, 5, 10]  # on disk before close
    assert log.due(10) and not log.due(11) and log.due(11, diverged=True)
    assert log.take_error() is None and log.error == ""
    log.close()
    log.close()
    assert not log.write({"step": 15}) and log.take_error() is None


def test_write_error_is_told_once_and_writing_stops() -> None:
    """If this fails, a full disk kills training, or floods the terminal with one error per
    line, or keeps trying to write after the disk said no."""
    log = MetricsLog("/dev/full", log_every=1)
    assert log.take_error() is None  # opening works: only writing fails
    assert not log.write({"step": 1})
    message = log.take_error()
    assert message is not None and "\n" not in message
    assert message.startswith("metrics: cannot write to /dev/full: No space left on device")
    assert "training goes on" in message
    assert log.stopped and log.take_error() is None  # once
    assert not log.write({"step": 2}) and log.take_error() is None  # ignored, silently
    assert log.error == message  # still there to read
    assert not log.ensure()


def test_open_error_is_reported_not_raised(tmp_path: Path) -> None:
    """If this fails, the app's trainer process dies when its metrics file cannot be opened."""
    log = MetricsLog(str(tmp_path / "gone" / "m.jsonl"))
    assert log.stopped and not log.write({"step": 1})
    assert "No such file or directory" in (log.take_error() or "")


def test_path_with_escapes_is_shown_safely(tmp_path: Path) -> None:
    """If this fails, a file name with terminal escapes is replayed on the user's terminal."""
    log = MetricsLog(str(tmp_path / "\x1b[2Jgone" / "m.jsonl"))
    message = log.take_error() or ""
    assert "\x1b" not in message and "\u241b[2Jgone" in message


def test_ensure_recreates_a_removed_folder(tmp_path: Path) -> None:
    """If this fails, deleting the export folder while the app runs makes every later metrics
    line vanish into a file nobody can see, and export writes a folder without metrics."""
    folder = tmp_path / "export"
    folder.mkdir()
    path = folder / "metrics.jsonl"
    log = MetricsLog(str(path))
    log.write({"step": 1})
    assert not log.ensure()  # nothing to do
    shutil.rmtree(folder)
    assert log.write({"step": 2})  # into the unlinked file: no error, just lost
    assert log.ensure()
    assert log.write({"step": 3})
    assert [r["step"] for r in lines(path)] == [3]
    assert not log.ensure()
    log.close()


def test_ensure_reopens_a_deleted_or_replaced_file(tmp_path: Path) -> None:
    """If this fails, `rm metrics.jsonl` (or a log rotation) during a run loses its lines."""
    path = tmp_path / "m.jsonl"
    with MetricsLog(str(path)) as log:
        log.write({"step": 1})
        path.unlink()
        assert log.ensure()
        log.write({"step": 2})
        path.rename(tmp_path / "old.jsonl")
        path.write_text("")
        assert log.ensure()
        log.write({"step": 3})
    assert [r["step"] for r in lines(path)] == [3]
    assert [r["step"] for r in lines(tmp_path / "old.jsonl")] == [2]


def test_wrapped_file_is_left_to_its_owner(tmp_path: Path) -> None:
    """If this fails, run_headless closes a file its caller still writes to."""
    with open(tmp_path / "m.jsonl", "w") as f:
        log = MetricsLog.wrap(f, log_every=10)
        log.write({"step": 10})
        log.close()
        assert not f.closed
    assert lines(tmp_path / "m.jsonl") == [{"step": 10}]


def test_cell_paths() -> None:
    assert cell_paths("runs/x.npz", ["rnn"]) == ["runs/x.npz"]
    assert cell_paths("runs/x.npz", ["rnn", "lstm"]) == ["runs/x-rnn.npz", "runs/x-lstm.npz"]
    assert cell_paths("runs/x", ["rnn", "gru"]) == ["runs/x-rnn.npz", "runs/x-gru.npz"]


def test_check_output_accepts_writable_places(tmp_path: Path, monkeypatch) -> None:
    """If this fails, good paths are refused, or the check leaves files behind."""
    check_output("--save", str(tmp_path / "run.npz"))
    check_output("--metrics", str(tmp_path / "m.jsonl"))
    check_output("--metrics", "/dev/full")  # opens fine; MetricsLog handles the full disk
    assert sorted(os.listdir(tmp_path)) == ["m.jsonl"]  # the metrics file exists from now on
    monkeypatch.chdir(tmp_path)
    check_output("--autosave", "bare.npz")  # the current folder


@pytest.mark.parametrize(
    ("flag", "make", "message"),
    [
        (
            "--save",
            lambda d: str(d / "no" / "x.npz"),
            "--save {d}/no/x.npz: folder {d}/no does not exist",
        ),
        ("--metrics", lambda d: str(d / "no" / "m.jsonl"), "folder {d}/no does not exist"),
        ("--autosave", lambda d: str(d), "--autosave {d} is a folder"),
        ("--metrics", lambda d: str(d), "--metrics {d} is a folder"),
        (
            "--save",
            lambda d: (d / "f").write_text("") or str(d / "f" / "x.npz"),
            "{d}/f is not a folder",
        ),
        ("--save", lambda d: "", "--save needs a file name"),
    ],
    ids=[
        "save missing folder",
        "metrics missing folder",
        "autosave folder",
        "metrics folder",
        "folder is a file",
        "empty",
    ],
)
def test_check_output_refusals(tmp_path: Path, flag: str, make, message: str) -> None:
    """If this fails, a path that cannot be written is found out only at the end of a run."""
    with pytest.raises(UserError) as caught:
        check_output(flag, make(tmp_path))
    assert message.format(d=tmp_path) in str(caught.value)


def test_check_output_tries_a_real_file_as_root_would_be_fooled(
    tmp_path: Path, monkeypatch
) -> None:
    """If this fails, a read-only folder passes the check (os.access says yes to root) and the
    checkpoint fails at the end. A read-only folder is simulated: creating a file there fails."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert os.access(tmp_path, os.W_OK | os.X_OK)
    with pytest.raises(UserError, match="--save .*: cannot write in folder .*: Permission denied"):
        check_output("--save", str(tmp_path / "run.npz"))


def test_check_output_refuses_a_metrics_file_it_cannot_open(tmp_path: Path, monkeypatch) -> None:
    """If this fails, a read-only metrics file is found out only by the trainer."""
    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        if str(path).endswith("ro.jsonl") and "a" in mode:
            raise PermissionError(13, "Permission denied")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(UserError, match=r"--metrics .*ro.jsonl: cannot write: Permission denied"):
        check_output("--metrics", str(tmp_path / "ro.jsonl"))


def test_check_output_shows_paths_safely(tmp_path: Path) -> None:
    """If this fails, an error about a hostile file name writes escapes to the terminal."""
    with pytest.raises(UserError) as caught:
        check_output("--save", str(tmp_path / "\x1b]0;pwned\x07" / "x.npz"))
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)
