"""Smoke test of the throughput benchmark (`python -m rnn_tui.bench --quick`).

No timing is asserted: machines are noisy. Only that the benchmark runs and ends with its
machine-readable summary line.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY

from rnn_tui.bench import cli as bench
from rnn_tui.bench import train
from rnn_tui.bench.timed import REF_SEQ_LEN

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"^summary: speedup_same_shape=(\S+) \(B=1, H=\d+, T=\d+ as the reference\)"
    r" speedup_batched=(\S+) \(B=\d+, H=\d+, T=\d+\) share_of_bound=(\S+)$"
)


def _check_summary(stdout: str) -> None:
    """The last line is the summary, with three positive finite numbers, each labelled."""
    last = stdout.rstrip("\n").splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, f"last line is not the summary: {last!r}"
    for value in m.groups():
        x = float(value)
        assert math.isfinite(x) and x > 0, last


@pytest.mark.functional
def test_quick_bench_ends_with_summary(capsys) -> None:
    """If this fails, `python -m rnn_tui.bench` crashes, exits non-zero, or its last line is no
    longer the summary (like-for-like speedup, batched speedup, share of the bound, each with
    real numbers and its shape), so anyone (or any script) reading the benchmark's result gets
    nothing, garbage, or a speedup without saying which one.
    """
    assert bench.main(["--quick"]) == 0
    _check_summary(capsys.readouterr().out)


@pytest.mark.functional
@pytest.mark.parametrize("seq_len", [None, REF_SEQ_LEN])
def test_same_shape_row_is_the_reference_shape(seq_len: int | None) -> None:
    """If this fails, the like-for-like speedup no longer compares the trainer with the
    reference at one stream and the reference's H and T (so batching or a longer window leaks
    into it), or a row is timed twice when --seq-len equals the reference's window."""
    plan = train.make_plan(quick=False, seconds=None, rounds=None, seq_len=seq_len)
    keys = [train.key_of(c) for c in train.trainer_configs(plan)]
    assert keys[0] == ("rnn", plan.ref_hidden, 1, REF_SEQ_LEN) == train.same_shape_key(plan)
    assert len(keys) == len(set(keys))
    assert (*plan.batched_row, plan.seq_len) in keys and plan.batched_row[2] > 1


def test_module_runs_as_a_script() -> None:
    """If this fails, `python -m rnn_tui.bench --quick` does not run from a shell (a broken
    `__main__` guard or an import-time error), though `main()` may still work when imported.
    """
    out = subprocess.run(
        [sys.executable, "-m", "rnn_tui.bench", "--quick", "--seconds", "0.05"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    _check_summary(out.stdout)


def test_missing_corpus_is_one_line_error(tmp_path: Path, capsys) -> None:
    """If this fails, a wrong --corpus gives a traceback or exit code 0 instead of one clear line."""
    assert bench.main(["--quick", "--corpus", str(tmp_path / "nope.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.txt" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--seconds", "nan"],
        ["--seconds", "0"],
        ["--rounds", "0"],
        ["app", "--keys", "-1"],
        ["soak", "--minutes", "inf"],
        ["--seconds", "soon"],
    ],
)
def test_bad_numbers_are_refused_before_anything_runs(args: list[str], capsys) -> None:
    """If this fails, a mistyped number gives a traceback (NaN seconds did) or a run that
    never ends, instead of an argparse error naming the option."""
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {[a for a in args if a.startswith('--')][0]}" in err
    assert "Traceback" not in err


def test_import_has_no_side_effects() -> None:
    """If this fails, importing rnn_tui.bench prints, benchmarks, or drags in the UI (Textual),
    so merely importing it (tests, tools) becomes slow or noisy.
    """
    code = (
        "import sys, rnn_tui.bench\n"
        "print([m for m in ('textual', 'plotext', 'rich') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[]\n" and out.stderr == ""


def test_quick_probe_bench_times_every_cell(capsys) -> None:
    """If this fails, `python -m rnn_tui.bench probe` crashes or no longer says how long the
    probe's recomputation takes for each cell (no time is asserted: machines are noisy)."""
    assert bench.main(["probe", "--quick"]) == 0
    last = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    m = re.fullmatch(r"summary: probe_ms rnn=(\S+) lstm=(\S+) gru=(\S+)", last)
    assert m, last
    assert all(math.isfinite(float(v)) and float(v) > 0 for v in m.groups())


# A process that starts a trainer as the app does, and `sleep`, then says both pids and waits.
STARTS = """
import subprocess, sys, time
from rnn_tui.engine.config import Config
from rnn_tui.run.source import TrainerProcess
from rnn_tui.run.spec import RunSpec

trainer = TrainerProcess(RunSpec(sys.argv[1], (Config(),)))
trainer.start()
other = subprocess.Popen(["sleep", "30"])
# Popen may return while exec is still setting up the new program, its command line empty
# for a moment (measured: 40 of 1,500 read right after Popen were empty): say the pids once
# /proc shows what both run.
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    lines = []
    for pid in (trainer.process.pid, other.pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            lines.append(f.read())
    if all(lines):
        break
    time.sleep(0.01)
print(trainer.process.pid, other.pid, flush=True)
sys.stdin.read()
trainer.stop()
other.kill()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_apps_trainer_is_counted_as_its_worker() -> None:
    """If this fails, `bench app` names the app's trainer (`python -m rnn_tui.run.spawned`)
    after its command, and the worker's CPU is not shown as the worker's."""
    from rnn_tui.bench.procfs import _cmdline, process_role

    proc = subprocess.Popen(
        [sys.executable, "-c", STARTS, str(TINY)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        assert line, f"the script ended early: {proc.stderr.read()[-2000:]}"
        trainer, other = (int(x) for x in line.split())
        roles = {p: process_role(p, proc.pid, "ui") for p in (proc.pid, trainer, other)}
        cmdlines = {p: _cmdline(p) for p in roles}  # said when a role is not the one expected
        assert roles == {proc.pid: "ui", trainer: "worker", other: "sleep"}, cmdlines
    finally:
        proc.communicate("", timeout=10)
