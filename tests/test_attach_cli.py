"""`rnn-tui attach` and `--listen` as a user types them: one clear line and exit 2 for every
mistake, and, end to end in tmux, a headless run with --listen that an app attaches to, leaves
(q) and attaches to again."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, wait_until
from terminal import new_session, tmux

from rnn_tui.cli import main

TOKEN = "class-token-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnn-tui"), err
    return err


def test_attach_without_a_token_says_so_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, attach without a token hangs, opens an empty app, or prints a traceback."""
    monkeypatch.delenv("RNN_TUI_TOKEN", raising=False)
    assert main(["attach", "127.0.0.1:5000"]) == 2
    assert "--token-file FILE or $RNN_TUI_TOKEN" in one_line(capsys)


def test_attach_to_nothing_says_so_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, attaching to a run that is not there gives a traceback or a blank app."""
    monkeypatch.setenv("RNN_TUI_TOKEN", TOKEN)
    port = free_port()
    assert main(["attach", str(port)]) == 2
    assert f"cannot attach to 127.0.0.1:{port}" in one_line(capsys)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["corpora/tiny.txt", "--headless", "--token-file", "t"],
            "--token-file goes with --listen",
        ),
        (["corpora/tiny.txt", "--listen", "80:"], "[HOST:]PORT"),
        (["corpora/tiny.txt", "--serve", "--listen", "5000"], "with --serve every session"),
        (["corpora/tiny.txt", "--listen", "5000", "--token-file", "/nonexistent"], "token file"),
        (["attach", "nowhere"], "[HOST:]PORT"),
    ],
)
def test_listen_mistakes_are_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a mistake in --listen or attach starts a run or a traceback instead."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("RNN_TUI_TOKEN", TOKEN)
    assert main(argv) == 2
    assert says in one_line(capsys)


# -- a real headless run with --listen -------------------------------------------------------------


def rnn_tui(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("rnn-tui")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "rnn_tui", *args]


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[tuple[int, Path, Path, subprocess.Popen[bytes]]]:
    """A headless run publishing on a free port: (port, token file, its output file, it)."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    out = tmp_path / "out.txt"
    port = free_port()
    argv = rnn_tui(
        "corpora/tiny.txt", "--headless", "--steps", "100000", "--listen",
        f"127.0.0.1:{port}", "--token-file", str(token_file),
    )  # fmt: skip
    with open(out, "wb") as f:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "listening on" in out.read_text() or proc.poll() is not None)
        assert proc.poll() is None, out.read_text()
        yield port, token_file, out, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)


@pytest.mark.functional
def test_attach_with_a_wrong_token_exits_2_and_the_run_goes_on(
    listening: tuple[int, Path, Path, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """If this fails, a wrong token is let in, or turned away without saying why, or it
    disturbs the run."""
    port, _, out, _ = listening
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    done = subprocess.run(
        rnn_tui("attach", f"127.0.0.1:{port}", "--token-file", str(wrong)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert done.stderr == f"rnn-tui: cannot attach to 127.0.0.1:{port}: wrong token\n"
    assert "listening on 127.0.0.1:" in out.read_text()
    steps = wait_until(lambda: re.findall(r"step\s+(\d+)", out.read_text()), what="progress")
    assert steps, out.read_text()


def watch_steps(session: str, more_than: int = 2) -> list[int]:
    """The step counter of the app in `session`, read until it has shown `more_than` values,
    each higher than the one before."""
    seen: list[int] = []
    screen = ""

    def moved() -> bool:
        nonlocal screen
        screen = tmux("capture-pane", "-p", "-t", session)
        found = re.findall(r"step ([\d,]+)  ", screen)  # the status line is the last
        if found:
            step = int(found[-1].replace(",", ""))
            if not seen or step > seen[-1]:
                seen.append(step)
        return len(seen) > more_than

    try:
        wait_until(moved, what="the step counter moving")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {seen}\n{screen}") from None
    return seen


@pytest.mark.functional
@pytest.mark.needs("tmux")
def test_attach_in_tmux_sees_steps_leaves_and_comes_back(
    listening: tuple[int, Path, Path, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """If this fails, a student cannot look at a run on a server from a terminal, leave with
    q, and look again later, or is not told when the run ends: the end-to-end path of
    `rnn-tui attach`."""
    port, token_file, _, trainer = listening
    session = f"rnn-tui-attach-{uuid.uuid4().hex[:8]}"
    attach = " ".join(rnn_tui("attach", f"127.0.0.1:{port}", "--token-file", str(token_file)))
    for visit in range(2):
        done = tmp_path / f"exit-{visit}"
        new_session(session, 120, 40, str(ROOT), f"{attach}; echo $? > {done}; sleep 60")
        try:
            steps = watch_steps(session)
            assert steps == sorted(steps)
            screen = tmux("capture-pane", "-p", "-t", session)
            assert "attached to 127.0.0.1" in screen, screen
            assert "read-only: attach with --control to steer it" in screen, screen
            tmux("send-keys", "-t", session, "space")  # read-only: dimmed, the run goes on
            watch_steps(session, 1)
            assert "PAUSED" not in tmux("capture-pane", "-p", "-t", session)
            if visit == 1:  # the second time, the run ends first: the app says so, in one line
                trainer.terminate()
                wait_until(
                    lambda: "ended: stopped at step" in tmux("capture-pane", "-p", "-t", session),
                    what="the end of the run told",
                )
            tmux("send-keys", "-t", session, "q")
            code = wait_until(
                lambda d=done: d.exists() and d.read_text().strip(), what="attach to quit"
            )
            assert code == ("0" if visit == 0 else "1")  # 1: its run is gone, as the app's
            after = tmux("capture-pane", "-p", "-t", session)
            assert "Traceback" not in after, after
        finally:
            tmux("kill-session", "-t", session)
