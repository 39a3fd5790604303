"""--record DIR: what a recording holds, that it survives a cut at any byte, that it stays
small, and that a replay source reads back exactly what was recorded."""

from __future__ import annotations

import json
import math
import os
import queue
import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY

from rnn_tui.cli import build_parser, main, make_spec
from rnn_tui.engine.checkpoint import Checkpoint, write_checkpoint
from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.trainer import StepRecord, Trainer
from rnn_tui.errors import UserError
from rnn_tui.run import protocol as p
from rnn_tui.run.build import build_trainers
from rnn_tui.run.record import (
    CHECKPOINT_BYTES,
    LINES_PER_S,
    METRICS_BYTES_PER_S,
    METRICS_FILE,
    RUN_FILE,
    CheckpointSchedule,
    LineThinner,
    Recorder,
    line_json,
    read_recording,
)
from rnn_tui.run.replay import NO_SAVE, REFUSED, ReplaySource
from rnn_tui.run.spec import RunSpec
from rnn_tui.run.worker import TrainerLoop

SMALL = Config(hidden=16, seq_len=8, batch=4, eval_every=50, eval_chars=512)
HOUR = 3600.0
BUDGET = 50e6  # bytes one hour of training may record


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


class Clock:
    """A clock the test moves: `tick` seconds per call, so no test depends on real time."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def record_run(
    folder: Path, trainers: list[Trainer], steps: int, tick: float = 0.1
) -> tuple[dict[int, list[StepRecord]], dict[int, dict[int, dict[str, np.ndarray]]]]:
    """Train `steps` steps into a recording at `folder`; return every run's records and the
    weights it had after each step that is a multiple of 100 (and before the first)."""
    spec = RunSpec(str(TINY), tuple(t.config for t in trainers))
    rec = Recorder(str(folder), spec, trainers, clock=Clock(tick))
    records: dict[int, list[StepRecord]] = {i: [] for i in range(len(trainers))}
    weights = {i: {0: t.snapshot()} for i, t in enumerate(trainers)}
    for _ in range(steps):
        for i, t in enumerate(trainers):
            r = t.step()
            records[i].append(r)
            rec.add(i, r)
            if r.step % 100 == 0:
                weights[i][r.step] = t.snapshot()
    rec.close()
    assert rec.error == ""
    return records, weights


def lines_of(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / METRICS_FILE).read_text().splitlines()]


def test_record_then_replay_reproduces_the_recorded_losses_and_steps(tiny, tmp_path) -> None:
    """If this fails, a replay shows a loss or a step the run never had at that point."""
    records, _ = record_run(tmp_path / "r", [Trainer(tiny, SMALL)], 250, tick=0.3)
    by_step = {r.step: r for r in records[0]}
    lines = lines_of(tmp_path / "r")
    assert [d["step"] for d in lines][:3] == [1, 2, 3]  # 0.3 s apart: every step is due
    assert lines[-1]["step"] == 250  # the last step is always written
    source = ReplaySource(read_recording(str(tmp_path / "r")), clock=Clock(0.0))
    source.start()
    for d in lines:
        source.go_to(d["step"])
        snap = source.poll()[0]
        original = by_step[d["step"]]
        assert snap.record.step == d["step"]
        assert snap.record.loss == pytest.approx(original.loss, rel=1e-12)
        assert snap.record.smooth_loss == pytest.approx(original.smooth_loss, rel=1e-12)
        assert snap.loss_steps[-1] == d["step"]
        assert snap.loss_values[-1] == pytest.approx(original.smooth_loss, rel=1e-12)
        np.testing.assert_allclose(snap.record.grad_last_t, original.grad_last_t, rtol=1e-3)
        assert len(snap.loss_steps) == sum(1 for x in lines if x["step"] <= d["step"])


def test_replay_weights_are_those_of_the_checkpoint_at_or_before_the_position(
    tiny, tmp_path
) -> None:
    """If this fails, the replay's samples and probe use weights from the future, or from a
    different point than the one shown."""
    _, weights = record_run(tmp_path / "r", [Trainer(tiny, SMALL)], 250)
    source = ReplaySource(read_recording(str(tmp_path / "r")), clock=Clock(0.0))
    expect = {1: 0, 99: 0, 100: 100, 150: 100, 230: 200, 250: 250}
    for step, ckpt_step in expect.items():
        source.go_to(step)
        source.poll()
        got = source.recording.weights(0, source._shown_step())
        assert got is not None and got[1] == ckpt_step
        want = weights[0].get(ckpt_step)
        if want is not None:
            for k, v in want.items():
                np.testing.assert_array_equal(got[0][k], v)
    source.go_to(1)
    first = source.poll()[0]
    assert first.weights is not None and first.weights_step == 0


def test_checkpoints_double_their_spacing() -> None:
    """If this fails, a long run records a checkpoint every 100 steps for ever (and blows the
    size bound), or too few early on to see the first words appear."""
    s = CheckpointSchedule()
    steps = []
    for _ in range(12):
        steps.append(s.next)
        s.advance()
    assert steps == [100, 200, 300, 400, 600, 800, 1000, 1200, 1600, 2000, 2400, 2800]
    resumed = CheckpointSchedule(after=1000)
    assert resumed.next == 1200


def cut_points(data: bytes, rng: random.Random, n: int) -> list[int]:
    return sorted({0, len(data), *(rng.randrange(len(data)) for _ in range(n))})


def test_a_recording_cut_at_any_byte_replays_up_to_its_last_complete_line(tiny, tmp_path) -> None:
    """If this fails, a run killed while it wrote (power cut, kill -9) leaves a recording
    that cannot be replayed, or one that shows a half-written step."""
    src = tmp_path / "r"
    record_run(src, [Trainer(tiny, SMALL)], 220)
    data = (src / METRICS_FILE).read_bytes()
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]  # where each line ends
    steps = [d["step"] for d in lines_of(src)]
    rng = random.Random(15)
    cut = tmp_path / "cut"
    for k in cut_points(data, rng, 25):
        shutil.rmtree(cut, ignore_errors=True)
        shutil.copytree(src, cut)
        with open(cut / METRICS_FILE, "r+b") as f:
            f.truncate(k)
        complete = sum(1 for e in ends if e <= k)
        if complete == 0:
            with pytest.raises(UserError, match="no complete step"):
                read_recording(str(cut))
            continue
        rec = read_recording(str(cut))
        assert [r.step for r in rec.runs[0].records] == steps[:complete]
        source = ReplaySource(rec, clock=Clock(0.0))
        source.go_to(10**9)
        assert source.poll()[0].record.step == steps[complete - 1]


def test_a_checkpoint_cut_short_is_passed_over_for_the_one_before(tiny, tmp_path) -> None:
    """If this fails, a checkpoint torn by a crash stops the replay or its samples, instead of
    the replay falling back on the weights recorded before it."""
    src = tmp_path / "r"
    record_run(src, [Trainer(tiny, SMALL)], 220)
    names = sorted(n for n in os.listdir(src) if n.endswith(".npz"))
    assert [int(n.split("-")[-1][:-4]) for n in names] == [0, 100, 200, 220]
    rng = random.Random(7)
    cut = tmp_path / "cut"
    for _ in range(8):
        shutil.rmtree(cut, ignore_errors=True)
        shutil.copytree(src, cut)
        victim = cut / names[2]  # step 200
        data = victim.read_bytes()
        victim.write_bytes(data[: rng.randrange(len(data))])
        rec = read_recording(str(cut))
        got = rec.weights(0, 210)
        assert got is not None and got[1] == 100


def test_line_thinning_bounds_lines_and_bytes_per_second(tiny, tmp_path) -> None:
    """If this fails, a fast trainer (a thousand steps a second) writes a line per step and an
    hour's recording grows to gigabytes."""
    trainer = Trainer(tiny, Config(hidden=8, seq_len=4, batch=2))
    first = trainer.step()  # the fake trainer repeats this step's record, a thousand a second
    clock = Clock(5e-4)  # the Recorder looks at the clock once or twice per step
    rec = Recorder(str(tmp_path / "r"), RunSpec(str(TINY), (trainer.config,)), [trainer], clock)
    times = {}
    for step in range(1, 5001):
        rec.add(0, replace(first, step=step))
        times[step] = clock.now
    rec.close()
    lines = (tmp_path / "r" / METRICS_FILE).read_text().splitlines()
    seconds = {}
    for text in lines:
        second = int(times[json.loads(text)["step"]])
        n, size = seconds.get(second, (0, 0))
        seconds[second] = (n + 1, size + len(text) + 1)
    assert len(lines) < 5000 / 20  # thinned
    assert clock.now > 2.5  # several seconds of this fake clock
    for n, size in seconds.values():
        assert n <= LINES_PER_S + 1  # the first line and the last are extra
        assert size <= METRICS_BYTES_PER_S + 2 * max(len(t) for t in lines)


def projected_hour(
    trainers: list[Trainer], steps_per_s: float, folder: Path
) -> tuple[float, float, int]:
    """Bytes one hour of recording takes (metrics, checkpoints) and how many checkpoints, from
    sizes measured on a real step and a real checkpoint of each trainer, at `steps_per_s`."""
    round_bytes = 0  # one line of each run
    ckpt_bytes = 0.0
    schedule = CheckpointSchedule()
    count = 2  # the start and the end
    while schedule.next <= steps_per_s * HOUR:
        count += 1
        schedule.advance()
    for t in trainers:
        r = t.step()
        line = json.dumps(line_json(r, t.config) | {"clip_share": 0.5, "clip_steps": 100})
        round_bytes += len(line) + 1
        ckpt = Checkpoint(t.config, t.corpus.vocab.chars, t.snapshot(), {}, t.steps, t.chars)
        path = write_checkpoint(folder / "c.npz", ckpt)
        ckpt_bytes += os.path.getsize(path)
    gap = max(1 / LINES_PER_S, round_bytes / METRICS_BYTES_PER_S)  # seconds between rounds
    metrics = round_bytes / gap * HOUR
    return metrics, min(count * ckpt_bytes, CHECKPOINT_BYTES + ckpt_bytes), count


@pytest.mark.parametrize("what", ["defaults", "lstm-rescue"])
def test_an_hour_of_recording_stays_under_50_mb(tmp_path, what) -> None:
    """If this fails, a class recording an hour-long run fills a laptop's disk: the bound is
    computed from the bytes of real metrics lines and real checkpoints, at 1,000 steps a second
    (faster than this machine trains either)."""
    argv = [str(TINY)] if what == "defaults" else ["--preset", what]
    trainers = build_trainers(make_spec(build_parser().parse_args(argv), set()))
    assert len(trainers) == (1 if what == "defaults" else 2)
    metrics, ckpts, count = projected_hour(trainers, 1000.0, tmp_path)
    assert metrics <= METRICS_BYTES_PER_S * HOUR * 1.001
    assert count > 30  # the schedule is logarithmic, not empty
    assert metrics + ckpts < BUDGET, f"{what}: {metrics / 1e6:.1f} MB + {ckpts / 1e6:.1f} MB"


def test_compare_mode_records_both_runs(tiny, tmp_path) -> None:
    """If this fails, replaying an rnn-vs-lstm lesson shows only one of the two models."""
    trainers = [Trainer(tiny, SMALL.with_(cell=c)) for c in ("rnn", "lstm")]
    records, _ = record_run(tmp_path / "r", trainers, 120)
    rec = read_recording(str(tmp_path / "r"))
    assert [r.config.cell for r in rec.runs] == ["rnn", "lstm"]
    steps = [[r.step for r in run.records] for run in rec.runs]
    assert steps[0] == steps[1] and len(steps[0]) < 120  # thinned, at the same steps
    source = ReplaySource(rec, clock=Clock(0.0))
    source.go_to(120)
    snaps = source.poll()
    assert [s.cell for s in snaps] == ["rnn", "lstm"]
    for i, snap in enumerate(snaps):
        assert snap.record.step == 120
        assert snap.record.loss == pytest.approx(records[i][-1].loss, rel=1e-12)
        assert snap.weights is not None and snap.weights_step == 120
    assert snaps[1].record.cell_grad_t is not None  # the LSTM's cell-state profile too


def test_the_replay_refuses_what_would_change_training(tiny, tmp_path) -> None:
    """If this fails, n, r, +/-, c, l or s in a replay seem to act, or act silently on
    nothing, instead of saying that a replay cannot change training."""
    record_run(tmp_path / "r", [Trainer(tiny, SMALL)], 50)
    source = ReplaySource(read_recording(str(tmp_path / "r")), clock=Clock(0.0))
    source.start()
    source.poll()
    for cmd in (p.Step(), p.Reset(), p.SetHyper(lr=0.1), p.SetHyper(clip_mode="off"),
                p.SwitchCell("gru")):  # fmt: skip
        cid = source.send(cmd)
        snap = source.poll()[0]
        assert snap.message == REFUSED
        assert [(r.id, r.ok, r.text) for r in snap.replies] == [(cid, False, REFUSED)]
    reply = source.request(p.Save(str(tmp_path / "x.npz")))
    assert reply is not None and not reply.ok and reply.text == NO_SAVE
    assert not (tmp_path / "x.npz").exists()
    source.send(p.Pause())
    assert source.poll()[0].state is p.RunState.PAUSED
    source.send(p.Resume())
    assert source.poll()[0].state is p.RunState.TRAINING


def test_the_replay_plays_at_its_speed_and_stops_at_the_end(tiny, tmp_path) -> None:
    """If this fails, the time-lapse runs at the wrong pace, or runs past the recording's end."""
    record_run(tmp_path / "r", [Trainer(tiny, SMALL)], 300)
    lines = lines_of(tmp_path / "r")
    for d in lines:  # as if each step had taken half a second
        d["time"] = 0.5 * d["step"]
    (tmp_path / "r" / METRICS_FILE).write_text("".join(json.dumps(d) + "\n" for d in lines))
    clock = Clock(0.0)
    source = ReplaySource(read_recording(str(tmp_path / "r")), speed=2.0, clock=clock)
    assert source.pace == pytest.approx(2.0, rel=1e-6)  # a step every 0.5 s of the clock
    source.start()
    source.poll()
    steps = [d["step"] for d in lines]

    def shown_at(position: float) -> int:  # the last recorded step at or before `position`
        return max(s for s in steps if s <= position)

    clock.now += 10.0  # 10 s at 2x and 2 steps/s: 40 steps on from step 1
    assert source.poll()[0].record.step == shown_at(41)
    assert source.label == f"replay 2.0x · step {shown_at(41)} of 300"
    source.set_speed(0.25)
    assert source.label.startswith("replay 0.5x")
    clock.now += 1000.0
    snap = source.poll()[0]
    assert snap.record.step == 300 and snap.state is p.RunState.PAUSED
    assert "end of the recording" in snap.message
    source.seek(-0.05)
    assert source.poll()[0].record.step == shown_at(300 - 0.05 * 299)  # 5% of the steps back


def test_a_reset_in_the_app_ends_the_recording_there(tiny, tmp_path) -> None:
    """If this fails, a reset pressed during a recorded lesson mixes two runs in one
    recording, and its replay jumps from step 300 back to step 1 and on."""
    trainers = [Trainer(tiny, SMALL)]
    spec = RunSpec(str(TINY), (SMALL,))
    recorder = Recorder(str(tmp_path / "r"), spec, trainers)
    loop = TrainerLoop(
        trainers, queue.Queue(), queue.Queue(maxsize=1000), str(tmp_path / "log"), recorder=recorder
    )
    for _ in range(30):
        loop._train_step()
    loop.handle(p.Request(1, p.Reset()))
    assert recorder.stopped
    for _ in range(5):
        loop._train_step()
    rec = read_recording(str(tmp_path / "r"))
    assert rec.runs[0].records[-1].step == 30
    snaps = []
    while not loop.snapshots.empty():
        snaps.append(loop.snapshots.get_nowait())
    said = "weights reset; recording stopped: " + str(tmp_path / "r") + " holds steps up to 30"
    assert any(s[0].message == said for s in snaps)


def write_run_file(folder: Path, head: object) -> None:
    folder.mkdir(exist_ok=True)
    (folder / RUN_FILE).write_text(json.dumps(head) if not isinstance(head, str) else head)


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda d: None, "no such folder"),
        (lambda d: d.write_text("x"), "not a folder"),
        (lambda d: d.mkdir(), "not a recording"),
        (lambda d: write_run_file(d, "{not json"), "is not that of an rnn-tui recording"),
        (lambda d: write_run_file(d, {"format": "other"}), "is not that of an rnn-tui"),
        (lambda d: write_run_file(d, {"format": "rnn-tui recording", "version": 99}), "version 99"),
        (lambda d: write_run_file(d, {"format": "rnn-tui recording", "version": 1}), "damaged"),
    ],
)
def test_a_bad_folder_is_one_line_and_exit_2(tmp_path, capsys, make, says) -> None:
    """If this fails, `rnn-tui replay` on a wrong folder shows a traceback or opens an empty
    app instead of saying what is wrong."""
    folder = tmp_path / "d"
    make(folder)
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err


def test_a_recording_without_a_complete_step_is_one_line_and_exit_2(tiny, tmp_path, capsys) -> None:
    """If this fails, a run killed before its first line replays as an empty app."""
    folder = tmp_path / "r"
    Recorder(str(folder), RunSpec(str(TINY), (SMALL,)), [Trainer(tiny, SMALL)])
    (folder / METRICS_FILE).write_text('{"step": 1, "cell": "rnn", "lo')  # torn
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no complete step" in err


def test_record_refuses_a_folder_in_use(tmp_path, capsys) -> None:
    """If this fails, --record mixes a new run into an old recording (or into any folder)."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "notes.txt").write_text("mine")
    assert main([str(TINY), "--headless", "--steps", "1", "--record", str(tmp_path / "r")]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main([str(TINY), "--serve", "--record", str(tmp_path / "new")]) == 2
    assert "--serve" in capsys.readouterr().err


@pytest.mark.functional
def test_headless_record_writes_a_replayable_recording(tmp_path, capsys) -> None:
    """If this fails, `rnn-tui PATH --headless --record DIR` leaves nothing to replay."""
    folder = tmp_path / "r"
    argv = [str(TINY), "--headless", "--steps", "220", "--hidden", "16", "--record", str(folder)]
    assert main(argv) == 0
    rec = read_recording(str(folder))
    assert rec.runs[0].records[-1].step == 220
    assert [s for s, _ in rec.runs[0].checkpoints] == [0, 100, 200, 220]
    samples = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    assert [s["step"] for s in samples] == [0, 100, 200, 220]
    assert not any(n.endswith(".tmp") for n in os.listdir(folder))
    assert math.isfinite(rec.runs[0].records[-1].loss)


def test_compare_lines_share_steps_and_outlive_a_stopped_run(tiny) -> None:
    """If this fails, a compare-mode replay shows its two models at different steps, or the
    LSTM's lines stop when the RNN beside it diverged."""
    clock = Clock(0.0)
    thinner = LineThinner(2, clock)
    first = Trainer(tiny, SMALL).step()
    written: dict[int, list[int]] = {0: [], 1: []}
    for step in range(1, 400):  # both runs step, 100 steps a second
        clock.now = step / 100
        for run in (0, 1):
            if thinner.due(run, replace(first, step=step)):
                thinner.wrote(run, 1000)
                written[run].append(step)
    assert written[0] == written[1]
    assert 4 <= len(written[0]) <= 4 * LINES_PER_S + 1
    for step in range(400, 1000):  # the first run has stopped: the second alone
        clock.now = step / 100
        if thinner.due(1, replace(first, step=step)):
            thinner.wrote(1, 1000)
            written[1].append(step)
    alone = [s for s in written[1] if s >= 400]
    assert len(alone) == pytest.approx(6 / LineThinner.STALLED, abs=1)


def test_a_step_record_survives_its_metrics_line(tiny) -> None:
    """If this fails, a replay shows other numbers than the run had (or a NaN the run wrote
    as null comes back as a number)."""
    t = Trainer(tiny, SMALL)
    for _ in range(SMALL.eval_every):
        r = t.step()
    r = replace(r, grad_norm=math.inf, spectral_norm=None)
    back = StepRecord.from_json(json.loads(json.dumps(r.to_json("rnn"))))
    for name in ("step", "chars", "loss", "smooth_loss", "val_loss", "val_step", "clipped", "lr"):
        assert getattr(back, name) == getattr(r, name), name
    assert math.isnan(back.grad_norm) and back.spectral_norm is None
    np.testing.assert_array_equal(back.grad_t, r.grad_t.astype(np.float64))
    np.testing.assert_array_equal(back.grad_last_t, r.grad_last_t.astype(np.float64))
    for bad in (
        [],
        {"step": 1},
        {**r.to_json("rnn"), "step": -1},
        {**r.to_json("rnn"), "grad_t": "x"},
    ):
        with pytest.raises(ValueError):
            StepRecord.from_json(bad)


def test_lines_that_are_not_metrics_lines_are_passed_over(tiny, tmp_path) -> None:
    """If this fails, one stray line (a foreign tool appended to the file) makes the whole
    recording unreadable, or shows up as a step."""
    record_run(tmp_path / "r", [Trainer(tiny, SMALL)], 60)
    path = tmp_path / "r" / METRICS_FILE
    lines = path.read_text().splitlines()
    steps = [json.loads(x)["step"] for x in lines]
    junk = ["not json", "[1, 2]", '{"cell": "gru", "step": 5}', '{"cell": "rnn"}', "\x00\xff"]
    path.write_text("\n".join(lines[:3] + junk + lines[3:]) + "\n")
    assert [r.step for r in read_recording(str(tmp_path / "r")).runs[0].records] == steps
