"""Headless runs that end badly: a full disk, a missing folder, a signal, a closed pipe.

Each runs `python -m rnn_tui corpora/tiny.txt --headless ...` as a real process, as a user or a
job scheduler would, and waits for what it prints rather than for fixed times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, TINY

from rnn_tui.engine.checkpoint import load_checkpoint

FAST = ["--hidden", "16", "--seq-len", "16", "--batch", "8"]
WAIT = 30.0  # seconds; generous for a loaded machine


def rnn_tui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rnn_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.functional
def test_metrics_to_a_full_disk_keeps_training_and_saves(tmp_path: Path) -> None:
    """If this fails, a full disk under --metrics kills the run with a traceback and the model
    asked for with --save is never written."""
    ckpt = tmp_path / "run.npz"
    out = rnn_tui(
        str(TINY),
        "--headless",
        "--steps",
        "40",
        "--metrics",
        "/dev/full",
        "--save",
        str(ckpt),
        *FAST,
    )
    assert out.returncode == 0, out.stderr
    line = one_line(out.stderr)
    assert "metrics" in line and "/dev/full" in line and "No space left" in line
    assert load_checkpoint(ckpt).step == 40
    assert f"saved {ckpt}" in out.stdout and "sample at step 40" in out.stdout


@pytest.mark.functional
@pytest.mark.parametrize("mode", ["headless", "app"])
def test_metrics_into_a_missing_folder_is_refused_before_training(
    tmp_path: Path, mode: str
) -> None:
    """If this fails, --metrics into a folder that does not exist is found out only when the
    first line is written: a traceback in headless mode, a dead trainer in the app."""
    path = tmp_path / "missing" / "m.jsonl"
    extra = ["--headless"] if mode == "headless" else []
    out = rnn_tui(str(TINY), *extra, "--metrics", str(path), *FAST, timeout=60)
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert line.startswith("rnn-tui: --metrics ") and "does not exist" in line
    assert str(tmp_path / "missing") in line
    assert "training" not in out.stdout
    assert not (tmp_path / "missing").exists()


@pytest.mark.functional
@pytest.mark.parametrize("flag", ["--save", "--autosave"])
@pytest.mark.parametrize("mode", ["headless", "app"])
def test_checkpoint_that_cannot_be_written_is_refused_before_training(
    tmp_path: Path, flag: str, mode: str
) -> None:
    """If this fails, a long run learns for hours and then cannot write its checkpoint.

    The tests run as root, for whom permissions do not stop a write, so the read-only folder is
    /sys/kernel (sysfs: root may not create files there, yet os.access says it may)."""
    extra = ["--headless", "--steps", "100000"] if mode == "headless" else []
    out = rnn_tui(str(TINY), *extra, flag, "/sys/kernel/run.npz", *FAST, timeout=60)
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert line.startswith(f"rnn-tui: {flag} /sys/kernel/run.npz: cannot write in folder")
    assert out.stdout == ""


@pytest.mark.functional
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "file").write_text("x") and str(d / "file" / "run.npz"), "is not a folder"),
        (lambda d: str(d / "nowhere" / "run.npz"), "does not exist"),
        (lambda d: (d / "sub").mkdir() or str(d / "sub"), "is a folder"),
    ],
    ids=["folder is a file", "missing folder", "path is a folder"],
)
def test_save_path_mistakes_are_one_line(tmp_path: Path, make, message: str) -> None:
    """If this fails, a mistyped --save path is found out only at the end of the run."""
    out = rnn_tui(str(TINY), "--headless", "--steps", "5", "--save", make(tmp_path), *FAST)
    assert out.returncode == 2 and message in one_line(out.stderr)
    assert out.stdout == ""


@pytest.mark.functional
def test_headless_autosave_is_written_at_the_end(tmp_path: Path) -> None:
    """If this fails, --autosave is silently ignored without the UI."""
    auto = tmp_path / "auto.npz"
    out = rnn_tui(str(TINY), "--headless", "--steps", "12", "--autosave", str(auto), *FAST)
    assert out.returncode == 0, out.stderr
    assert f"saved {auto}" in out.stdout
    assert load_checkpoint(auto).step == 12


@pytest.mark.functional
def test_compare_autosave_writes_one_file_per_cell(tmp_path: Path) -> None:
    """If this fails, --autosave in compare mode keeps only one of the two models."""
    out = rnn_tui(
        str(TINY),
        "--headless",
        "--steps",
        "6",
        "--compare",
        "rnn,gru",
        "--autosave",
        str(tmp_path / "auto.npz"),
        *FAST,
    )
    assert out.returncode == 0, out.stderr
    for cell in ("rnn", "gru"):
        ckpt = load_checkpoint(tmp_path / f"auto-{cell}.npz")
        assert ckpt.config.cell == cell and ckpt.step == 6


class Running:
    """A headless run in the background whose stdout lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnn_tui", str(TINY), "--headless", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, f"ended early: {self.lines}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s: {self.lines}"
            time.sleep(0.05)

    def finish(self, timeout: float = WAIT) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        assert self.proc.stderr is not None
        return code, "".join(self.lines), self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.functional
@pytest.mark.parametrize(
    ("sig", "code"),
    [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)],
)
def test_signal_stops_headless_run_saves_and_exits_by_convention(
    tmp_path: Path, sig: str, code: int
) -> None:
    """If this fails, `kill`, a dropped SSH link or Ctrl-C loses a headless run's model, or the
    exit code does not tell a scheduler that the run was stopped."""
    auto, save = tmp_path / "auto.npz", tmp_path / "run.npz"
    run = Running(
        "--steps",
        "100000000",
        "--autosave",
        str(auto),
        "--save",
        str(save),
        *FAST,
    )
    try:
        run.wait_for("step ")  # the first progress line: it has trained
        run.proc.send_signal(getattr(signal, sig))
        got, stdout, stderr = run.finish()
    finally:
        run.kill()
    assert got == code, (stdout, stderr)
    assert "Traceback" not in stderr and stderr == ""
    assert f"saved {auto}" in stdout and f"saved {save}" in stdout
    for path in (auto, save):
        assert load_checkpoint(path).step > 0
    assert load_checkpoint(auto).step == load_checkpoint(save).step


@pytest.mark.functional
def test_signal_during_save_does_not_cut_the_file(tmp_path: Path) -> None:
    """If this fails, an impatient second `kill` while the checkpoint is written leaves a
    truncated file or no file at all."""
    auto = tmp_path / "auto.npz"
    run = Running("--steps", "100000000", "--autosave", str(auto), "--hidden", "512")
    try:
        run.wait_for("training ")
        time.sleep(0.5)
        run.proc.send_signal(signal.SIGTERM)
        for _ in range(20):  # a burst of further signals, some landing during the save
            if run.proc.poll() is not None:
                break
            run.proc.send_signal(signal.SIGTERM)
            time.sleep(0.01)
        got, stdout, stderr = run.finish()
    finally:
        run.kill()
    # Signals during the save are absorbed; once it is written the usual dispositions are back,
    # so a late one may end the process by SIGTERM itself: a shell shows 143 either way.
    assert got in (143, -signal.SIGTERM) and "Traceback" not in stderr, stderr
    assert load_checkpoint(auto).config.hidden == 512
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.functional
def test_ignored_hangup_is_kept_ignored(tmp_path: Path) -> None:
    """If this fails, `nohup rnn-tui --headless ...` stops when the terminal closes."""
    auto = tmp_path / "auto.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            str(TINY),
            "--headless",
            "--steps",
            "300",
            "--autosave",
            str(auto),
            *FAST,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "training ...": the handlers are in place
        proc.send_signal(signal.SIGHUP)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert load_checkpoint(auto).step == 300


@pytest.mark.functional
def test_closed_output_pipe_stops_quietly_and_saves(tmp_path: Path) -> None:
    """If this fails, `rnn-tui --headless --save run.npz | head -3` ends without the model."""
    save = tmp_path / "run.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnn_tui",
            str(TINY),
            "--headless",
            "--steps",
            "100000000",
            "--save",
            str(save),
            *FAST,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # as `head -1` does after its line
        assert proc.wait(WAIT) == 0
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stderr == ""
    assert load_checkpoint(save).step > 0


def _headless_args(*argv: str):
    """The trainers and the plan `rnn-tui TINY --headless ARGV` runs with."""
    from rnn_tui.cli import _typed, build_parser, make_spec, sampling_from_args
    from rnn_tui.run.build import build_trainers
    from rnn_tui.run.headless import HeadlessPlan

    parser = build_parser()
    args = parser.parse_args([str(TINY), "--headless", *argv])
    trainers = build_trainers(make_spec(args, _typed(argv, parser)))
    saves = (args.save, args.autosave)
    plan = HeadlessPlan(args.steps, sampling_from_args(args), args.metrics, args.log_every, saves)
    return trainers, plan


def test_signal_while_saving_waits_for_the_save(tmp_path: Path, monkeypatch) -> None:
    """If this fails, a SIGTERM that lands while the checkpoint is written cuts the save short
    (or is lost, and the run reports success). Deterministic: the signal is sent from inside
    the save, in this process."""
    import io

    import rnn_tui.run.headless as headless

    real = headless.save_checkpoint
    calls = []

    def save_with_a_signal(path, trainer):
        calls.append(path)
        os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode: mid-save
        time.sleep(0.05)
        return real(path, trainer)

    monkeypatch.setattr(headless, "save_checkpoint", save_with_a_signal)
    auto = tmp_path / "auto.npz"
    trainers, args = _headless_args("--steps", "5", "--autosave", str(auto), *FAST)
    before = signal.getsignal(signal.SIGTERM)
    out = io.StringIO()
    code = headless.run_headless_cli(trainers, args, out=out, err=out)
    assert code == 143 and calls == [str(auto)]
    assert load_checkpoint(auto).step == 5
    assert f"saved {auto}" in out.getvalue() and "sample at" not in out.getvalue()
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are put back


def test_run_headless_still_takes_an_open_file(tmp_path: Path) -> None:
    """If this fails, callers that hand run_headless a file object (tests, notebooks) break."""
    import io
    import json

    from rnn_tui.run.headless import run_headless

    trainers, _ = _headless_args(*FAST)
    with open(tmp_path / "m.jsonl", "w") as f:
        assert run_headless(trainers, 20, f, log_every=10, out=io.StringIO()) == 0
        assert not f.closed
    assert [json.loads(x)["step"] for x in (tmp_path / "m.jsonl").read_text().splitlines()] == [
        10,
        20,
    ]
