"""`rnn-tui --load CHECKPOINT --probe TEXT` as a user runs it: lines or one JSON object, exit 0
without training; one line and exit 2 for every mistake."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnn_tui.cli import main
from rnn_tui.engine.checkpoint import Checkpoint, load_checkpoint, write_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.model import make_cell
from rnn_tui.engine.probe import PROBE_LIMIT, probe, probe_model

VOCAB = tuple(sorted("\n abcdehnorst.T"))
JSON_KEYS = {
    "checkpoint",
    "cell",
    "hidden",
    "vocab_size",
    "limit",
    "cut",
    "text",
    "bits_per_char",
    "scored",
    "chars",
    "looking_back",
}


def make_checkpoint(folder: Path, cell: str = "lstm", reset_at: str = "") -> Path:
    """A checkpoint of a freshly initialised model, written as training would write it."""
    config = Config(cell=cell, hidden=16, reset_at=reset_at)
    model = make_cell(cell, len(VOCAB), config.hidden, config.dtype)
    params = model.init_params(np.random.default_rng(7))
    path = folder / f"{cell}.npz"
    write_checkpoint(path, Checkpoint(config, VOCAB, params, {}, 0, 0))
    return path


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_probe_prints_a_line_per_character(tmp_path: Path, capsys) -> None:
    """If this fails, `--probe` does not show each character's surprisal and top-5 guesses."""
    ckpt = make_checkpoint(tmp_path)
    before = ckpt.read_bytes()
    text = "the cat sat."
    code, out, err = run_main(capsys, "--load", str(ckpt), "--probe", text)
    assert code == 0 and err == ""
    lines = out.splitlines()
    rows = [line for line in lines if line[:5].strip().isdigit()]
    assert len(rows) == len(text) + (len(text) - 1)  # each character, then the profile
    loaded = load_checkpoint(ckpt)
    r = probe(probe_model(loaded.params, loaded.config, loaded.vocab), text)
    for i in range(1, len(text)):  # the bits and the likeliest guess of every character
        fields = rows[i].split()
        assert int(fields[0]) == i and float(fields[2]) == pytest.approx(r.surprisal[i], abs=0.006)
        assert fields[3] == {" ": "␣", "\n": "↵"}.get(r.top(i)[0][0], r.top(i)[0][0])
    assert "nothing before it" in rows[0]
    assert f"{r.bits_per_char:.3f} bits per character over {len(text) - 1} scored" in out
    assert "looking back from 11" in out
    assert "step" not in out and "held-out" not in out  # nothing trained
    assert ckpt.read_bytes() == before  # nor saved


def test_probe_json_is_one_object_with_the_documented_keys(tmp_path: Path, capsys) -> None:
    """If this fails, a script reading `--probe --json` gets invalid JSON or missing keys."""
    ckpt = make_checkpoint(tmp_path, "gru", reset_at="\n")
    text = "the\ncat €sat"
    code, out, err = run_main(capsys, "--load", str(ckpt), "--probe", text, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)  # one object, the whole output
    assert set(data) == JSON_KEYS
    assert data["text"] == text and data["cut"] == 0 and data["cell"] == "gru"
    assert data["limit"] == PROBE_LIMIT
    chars = data["chars"]
    assert [c["char"] for c in chars] == list(text) and chars[8]["char"] == "€"
    assert chars[8]["known"] is False and chars[8]["surprisal_bits"] is None
    assert chars[0]["surprisal_bits"] is None and chars[0]["top5"] == []
    scored = [c["surprisal_bits"] for c in chars if c["surprisal_bits"] is not None]
    assert len(scored) == data["scored"] == len(text) - 2
    assert math.isclose(data["bits_per_char"], sum(scored) / len(scored), rel_tol=1e-12)
    for c in chars[1:]:
        probs = [t["p"] for t in c["top5"]]
        assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1
    back = data["looking_back"]
    assert back["pos"] == len(text) - 1 and len(back["grad_norms"]) == len(text) - 1
    assert back["grad_norms"][8] is None  # the unknown character
    assert all(g == 0 for g in back["grad_norms"][:4])  # before the newline's reset
    assert back["grad_norms"][-1] > 0


def test_probe_cuts_a_long_text_to_its_end(tmp_path: Path, capsys) -> None:
    """If this fails, a long text is not cut, or is cut at the wrong end, without saying so."""
    ckpt = make_checkpoint(tmp_path, "rnn")
    text = "a" * 100 + "the cat sat. " * (PROBE_LIMIT // 13 + 1)
    code, out, _ = run_main(capsys, "--load", str(ckpt), "--probe", text, "--json")
    data = json.loads(out)
    assert code == 0 and data["cut"] == len(text) - PROBE_LIMIT
    assert data["text"] == text[-PROBE_LIMIT:] and len(data["chars"]) == PROBE_LIMIT
    code, out, _ = run_main(capsys, "--load", str(ckpt), "--probe", text)
    assert code == 0 and f"probed its last {PROBE_LIMIT:,}" in out


def test_probe_shows_controls_and_markup_as_samples_do(tmp_path: Path, capsys) -> None:
    """If this fails, a probed text can send escape sequences to the terminal."""
    ckpt = make_checkpoint(tmp_path, "rnn")
    code, out, _ = run_main(capsys, "--load", str(ckpt), "--probe", "a\x1b[31m[bold]b\tc\r")
    assert code == 0 and "\x1b" not in out and "\t" not in out and "\r" not in out
    assert "␛" in out and "␉" in out and "␍" in out and "[" in out
    assert "unknown" in out


BAD = [
    (["--probe", "the cat"], "--probe needs --load CHECKPOINT"),
    (["--load", "{ckpt}", "--probe", ""], "nothing to probe"),
    (["--load", "{ckpt}", "--probe", "x", "--compare", "rnn,gru"], "cannot be combined"),
    (["--load", "{ckpt}", "--headless", "--json", "{corpus}"], "--json goes with --probe"),
    (["--load", "{broken}", "--probe", "the cat"], "not a readable rnn-tui checkpoint"),
    (["--load", "{missing}", "--probe", "the cat"], "does not exist"),
    (["--load", "{random}", "--probe", "the cat"], "not an rnn-tui checkpoint"),
]


def _bad_args(tmp_path: Path, args: list[str]) -> list[str]:
    ckpt = make_checkpoint(tmp_path, "rnn")
    data = ckpt.read_bytes()
    (tmp_path / "broken.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(3000))
    (tmp_path / "corpus.txt").write_text("the cat sat. " * 200)
    names = {
        "ckpt": ckpt,
        "broken": tmp_path / "broken.npz",
        "random": tmp_path / "random.npz",
        "missing": tmp_path / "nope.npz",
        "corpus": tmp_path / "corpus.txt",
    }
    return [a.format(**{k: str(v) for k, v in names.items()}) for a in args]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _, m in BAD])
def test_probe_mistakes_are_one_line_exit_2(tmp_path: Path, capsys, args, message) -> None:
    """If this fails, a mistake with --probe gives a traceback or a wall of text."""
    code, out, err = run_main(capsys, *_bad_args(tmp_path, args))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.functional
def test_probe_as_a_process(tmp_path: Path) -> None:
    """If this fails, `rnn-tui --load CKPT --probe TEXT` does not print and exit 0 as a
    program, or a corrupt checkpoint does not end it with one line and exit code 2."""
    ckpt = make_checkpoint(tmp_path, "lstm")

    def rnn_tui(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "rnn_tui", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    done = rnn_tui("--load", str(ckpt), "--probe", "the cat", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["chars"]) == 7
    (tmp_path / "broken.npz").write_bytes(ckpt.read_bytes()[:500])
    bad = rnn_tui("--load", str(tmp_path / "broken.npz"), "--probe", "the cat")
    assert bad.returncode == 2 and bad.stdout == ""
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
