"""Live-app benchmark: `python -m rnn_tui.bench app`.

Runs the real program as a user would, in one run with one configuration (the default `Config`
on the given corpus), and prints what it measures:

1. throughput: `rnn-tui CORPUS --headless --metrics A` and the full app `rnn-tui CORPUS
   --metrics B` in a 120x40 pseudo-terminal, each for `--seconds` of training, interleaved
   (headless, app, app with the probe pane open, headless, ...). Each run's chars/s comes from
   its metrics lines, after a warm-up; the result is the median over the rounds of app /
   headless ("live share"), and the same with the probe open (looking back on a held-out
   passage, recomputed at every new weight copy);
2. key latency: with training running in the app, the byte "t" (temperature down: harmless) is
   written to the terminal `--keys` times at random 100-300 ms intervals; the app's key trace
   (`RNN_TUI_KEY_TRACE`) says when each handler ran; latency = handler time - write time (both
   `time.monotonic()`, one clock for every process on Linux);
3. idle CPU: space pauses training; once the current sample has finished typing, the CPU time
   of the app and all its child processes over a few seconds, as % of one core;
4. first frame: spawn to the first terminal output that holds the drawn screen, median of
   three launches, beside a bare Textual app with one Static widget launched the same way
   (`rnn_tui.bench.bare_app`), in turns, each launch after the same pause (`side_by_side`);
5. lightness (issue 16): the bytes the app writes to its terminal while training, per second,
   at 120x40 and at 200x60 (one more run per round), and the CPU of the app's own process (not
   the trainer's) at 120x40, as % of one core; all from a warm-up after the trainer's first
   metrics on (the trainer starts before the UI, whose start-up is not training);
6. words sooner: the same launches of `rnn-tui CORPUS` are read through a small screen
   emulation (`rnn_tui.bench.screen`) until one line of the sample pane holds three distinct
   words of the corpus (three letters or more); spawn to that moment, median of the launches;
7. clean quit: "q" must end the app with exit code 0 within 5 s, leaving no process behind.

Timings are printed, never judged: the targets are shown beside them. The exit code is non-zero
only when something did not work (no screen, a quit that hangs or fails, leftover processes).
The last line is `summary: live_share=<x> key_p95_ms=<y> idle_cpu_pct=<z> first_frame_ms=<w>
bare_frame_ms=<b> frame_ratio=<r> out_kb_s=<k> out_kb_s_wide=<K> ui_cpu_pct=<u> words_s=<s>`.

Only the standard library is used here (no Textual import): everything runs in child processes.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from rnn_tui.bench.app_measure import IdleResult, KeyResult, Run
from rnn_tui.bench.app_plan import (
    KEY,
    TARGET_FRAME_MS,
    TARGET_IDLE_PCT,
    TARGET_P95_MS,
    TARGET_SHARE,
    AppPlan,
    make_app_plan,
)
from rnn_tui.bench.app_runs import (
    Launch,
    launch_bare,
    launch_for_words,
    run_app_once,
    run_headless,
    side_by_side,
)
from rnn_tui.bench.procfs import cpu_text
from rnn_tui.bench.screen import corpus_words
from rnn_tui.bench.terminal import COLS, QUIT_TIMEOUT, ROWS, WIDE, WORDS_NEEDED

TARGET_KB_S, TARGET_KB_S_WIDE, TARGET_UI_PCT, TARGET_FRAME_RATIO, TARGET_WORDS_S = (
    20.0,
    30.0,
    15.0,
    1.3,
    3.0,
)


def _ms(x: float) -> str:
    """Milliseconds without decimals, or "nan"."""
    return "nan" if math.isnan(x) else f"{x:.0f}"


def _compile_bytecode() -> None:
    """Compile the package's bytecode, as an installed package's is (and Textual's, for the
    bare app): with PYTHONDONTWRITEBYTECODE set, every launch would compile the app's modules
    from source anew and its first frame would measure the compiler. Where the package cannot
    be written, launches compile as they would for a user there."""
    import compileall

    import rnn_tui

    with contextlib.suppress(OSError):
        compileall.compile_dir(os.path.dirname(rnn_tui.__file__), quiet=1)


def run_app_bench(
    corpus: Path,
    seconds: float | None = None,
    keys: int | None = None,
    quick: bool = False,
    rounds: int | None = None,
) -> int:
    """Run every phase and print the report; the summary is the last line. Returns 0 when the
    app worked (drew, trained, quit cleanly), 1 otherwise; 2 for a missing corpus."""
    from rnn_tui.engine.config import Config  # light: no numpy, no Textual
    from rnn_tui.engine.sample_settings import SampleSettings

    corpus = corpus.resolve()  # checked by cli.main, like the numbers
    _compile_bytecode()
    c = Config()
    plan = make_app_plan(quick, seconds, keys, SampleSettings().sample_len)
    if rounds is not None:  # more rounds: a steadier median on a noisy machine
        plan = replace(plan, rounds=rounds)
    print(
        f"rnn_tui bench app: corpus {corpus} ({corpus.stat().st_size:,} bytes), default config"
        f" ({c.cell} H={c.hidden} B={c.batch} T={c.seq_len} {c.dtype}), pty {COLS}x{ROWS}",
        flush=True,
    )
    print(
        f"{plan.rounds} round(s) of headless then app, {plan.seconds:g} s of training each,"
        f" first {plan.warmup:g} s left out; python {platform.python_version()},"
        f" {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    headless: list[Run] = []
    apps: list[Run] = []
    probes: list[Run] = []
    launches: list[Launch] = []
    wides: list[Run] = []  # the app at WIDE, for its terminal output
    bare: list[Launch] = []  # the bare Textual app's launches
    word_launches: list[Launch] = []  # the app's launches timed to its first words
    key_res: KeyResult | None = None
    idle_res: IdleResult | None = None
    problems: list[str] = []
    try:  # every child is stopped by the finally blocks below, Ctrl-C or not
        with tempfile.TemporaryDirectory(prefix="rnn-tui-bench-app-") as tmp:
            d = Path(tmp)
            for r in range(plan.rounds):
                h = run_headless(corpus, plan, d / f"headless{r}.jsonl")
                headless.append(h)
                last = r == plan.rounds - 1
                launch, a, k, i = run_app_once(
                    corpus, plan, d / f"app{r}.jsonl", d / f"trace{r}.txt", train=True, extras=last
                )
                apps.append(a)
                launches.append(launch)
                lp, ap, *_ = run_app_once(
                    corpus,
                    plan,
                    d / f"probe{r}.jsonl",
                    d / f"ptrace{r}.txt",
                    train=True,
                    extras=False,
                    probe=True,
                )
                probes.append(ap)
                launches.append(lp)
                lw, aw, *_ = run_app_once(
                    corpus,
                    plan,
                    d / f"wide{r}.jsonl",
                    d / f"wtrace{r}.txt",
                    train=True,
                    extras=False,
                    size=WIDE,
                )
                wides.append(aw)
                launches.append(lw)
                problems += [x.error for x in (aw, lw) if x.error]
                problems += [x.error for x in (ap, lp) if x.error]
                key_res, idle_res = k or key_res, i or idle_res
                print(
                    f"round {r + 1}: headless {h.chars_per_s:,.0f} chars/s (cpu {h.cpu_text()});"
                    f" app {a.chars_per_s:,.0f} chars/s (cpu {a.cpu_text()};"
                    f" terminal output {a.out_kb_s:.1f} KB/s);"
                    f" app with the probe open {ap.chars_per_s:,.0f} chars/s;"
                    f" app at {WIDE[0]}x{WIDE[1]}: terminal output {aw.out_kb_s:.1f} KB/s"
                    f" (cpu {aw.cpu_text()})",
                    flush=True,
                )
                problems += [x.error for x in (h, a, launch) if x.error]
            words = corpus_words(corpus.read_text(encoding="utf-8", errors="replace"))
            bare, word_launches = side_by_side(
                plan.launches,
                plan.launch_pause,
                launch_bare,
                lambda: launch_for_words(corpus, words),
            )
            problems += [x.error for x in bare + word_launches if x.error]
    except KeyboardInterrupt:
        print("interrupted: the app and its workers were stopped", file=sys.stderr)
        return 130

    start = _print_report(plan, headless, apps, launches, key_res, idle_res, problems, probes)
    _print_light(start, apps, wides, bare, word_launches, problems)
    every = launches + bare + word_launches
    ok = not problems and all(x.exit_code == 0 for x in every)
    return 0 if ok else 1


def _print_report(
    plan: AppPlan,
    headless: list[Run],
    apps: list[Run],
    launches: list[Launch],
    key_res: KeyResult | None,
    idle_res: IdleResult | None,
    problems: list[str],
    probes: list[Run] | None = None,
) -> str:
    """Print every figure beside its target, then the problems (leftover processes are added
    to `problems` here); return the start of the summary line."""
    print()
    ratios = [
        a.chars_per_s / h.chars_per_s
        for h, a in zip(headless, apps, strict=True)
        if h.chars_per_s > 0 and a.chars_per_s > 0
    ]
    share = statistics.median(ratios) if ratios else math.nan
    hs = [h.chars_per_s for h in headless]
    as_ = [a.chars_per_s for a in apps]
    print(
        f"throughput: headless {', '.join(f'{x:,.0f}' for x in hs)} chars/s;"
        f" app {', '.join(f'{x:,.0f}' for x in as_)} chars/s"
    )
    print(
        f"  live share app/headless: {', '.join(f'{x:.2f}' for x in ratios) or 'nan'}"
        f" -> median {share:.2f} (target >= {TARGET_SHARE:.2f})"
    )
    probe_ratios = [
        p.chars_per_s / h.chars_per_s
        for h, p in zip(headless, probes or [], strict=False)
        if h.chars_per_s > 0 and p.chars_per_s > 0
    ]
    if probe_ratios:
        with_probe = statistics.median(probe_ratios)
        print(
            f"  live share with the probe open (looking back, held-out passage):"
            f" {', '.join(f'{x:.2f}' for x in probe_ratios)} -> median {with_probe:.2f};"
            f" {100 * (share - with_probe):+.1f} points from without it (target <= 5)"
        )
    if key_res is not None:
        p50, p95 = key_res.pct(50), key_res.pct(95)
        mx = max(key_res.latencies_ms, default=math.nan)
        print(
            f"key latency ({KEY.decode()!r} while training, write -> handler): sent {key_res.sent},"
            f" matched {len(key_res.latencies_ms)}, missing {key_res.missing};"
            f" p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {mx:.1f} ms (target p95 <= {TARGET_P95_MS:g} ms)"
        )
    else:
        p95 = math.nan
        print("key latency: not measured (the app did not train)")
    if idle_res is not None:
        idle = idle_res.total
        print(
            f"idle while paused ({plan.idle_seconds:g} s, {plan.settle:g} s after space):"
            f" {idle:.1f}% of one core ({cpu_text(idle_res.cpu)}; target < {TARGET_IDLE_PCT:g}%);"
            f" pause handled: {'yes' if idle_res.pause_seen else 'NO'};"
            f" metrics lines while paused: {idle_res.lines_while_paused}"
        )
        if idle_res.cpu:
            detail = ", ".join(f"{role} {pct:.2f}%" for role, pct in sorted(idle_res.cpu.items()))
            print(f"  per process: {detail}")
    else:
        idle = math.nan
        print("idle CPU: not measured (the app did not train)")
    frames = [x.frame_ms for x in launches]
    good_frames = [x for x in frames if not math.isnan(x)]
    frame = statistics.median(good_frames) if good_frames else math.nan
    print(
        f"first frame (spawn -> screen drawn): {', '.join(_ms(x) + ' ms' for x in frames)};"
        f" median {_ms(frame)} ms (target <= {TARGET_FRAME_MS:g} ms)"
    )
    codes = " ".join(str(x.exit_code) for x in launches)
    quits = [x.quit_s for x in launches if not math.isnan(x.quit_s)]
    left = sorted({p for x in launches for p in x.leftovers})
    print(
        f"quit with q: exit codes {codes}; slowest {max(quits, default=math.nan):.2f} s"
        f" (limit {QUIT_TIMEOUT:g} s); leftover processes: {left or 'none'}"
    )
    if left:
        problems.append(f"processes left behind after quitting (killed): {left}")
    busiest = max((x.others for x in headless + apps if not math.isnan(x.others)), default=0.0)
    if busiest >= 20.0:
        print(
            f"note: other processes used up to {busiest:.0f}% of a core during the runs"
            f" ({os.cpu_count()} CPUs): the figures above are pessimistic"
        )
    for p in problems:
        print(f"problem: {p}")
    # The first fields of the summary line, which _print_light completes and prints.
    return (
        f"summary: live_share={share:.3f} key_p95_ms={p95:.1f} idle_cpu_pct={idle:.2f}"
        f" first_frame_ms={frame:.0f}"
    )


def _median(xs: list[float]) -> float:
    good = [x for x in xs if not math.isnan(x)]
    return statistics.median(good) if good else math.nan


def _print_light(
    start: str,
    apps: list[Run],
    wides: list[Run],
    bare: list[Launch],
    word_launches: list[Launch],
    problems: list[str],
) -> None:
    """Terminal output, UI CPU, first frame beside a bare Textual app's, and the first words;
    then the summary line."""
    kb = _median([a.out_kb_s for a in apps])
    kb_wide = _median([a.out_kb_s for a in wides])
    print(
        f"terminal output while training: {', '.join(f'{a.out_kb_s:.1f}' for a in apps)} KB/s"
        f" at {COLS}x{ROWS} (target <= {TARGET_KB_S:g});"
        f" {', '.join(f'{a.out_kb_s:.1f}' for a in wides)} KB/s at {WIDE[0]}x{WIDE[1]}"
        f" (target <= {TARGET_KB_S_WIDE:g})"
    )
    uis = [a.cpu.get("ui", math.nan) for a in apps]
    print(
        f"UI process CPU while training at {COLS}x{ROWS}:"
        f" {', '.join(f'{x:.1f}' for x in uis)}% of one"
        f" core (target <= {TARGET_UI_PCT:g}%)"
    )
    app_ms = _median([x.frame_ms for x in word_launches])
    bare_ms = _median([x.frame_ms for x in bare])
    ratio = app_ms / bare_ms if bare_ms > 0 else math.nan
    print(
        f"first frame, side by side: app {', '.join(_ms(x.frame_ms) for x in word_launches)} ms,"
        f" bare Textual app {', '.join(_ms(x.frame_ms) for x in bare)} ms;"
        f" medians {_ms(app_ms)} / {_ms(bare_ms)} ms = {ratio:.2f}x"
        f" (target <= {TARGET_FRAME_RATIO:g}x)"
    )
    ui = _median(uis)
    words = _median([x.words_s for x in word_launches])
    print(
        f"words sooner (launch -> a sample line with {WORDS_NEEDED} distinct corpus words):"
        f" {', '.join(f'{x.words_s:.2f}' for x in word_launches)} s;"
        f" median {words:.2f} s (target <= {TARGET_WORDS_S:g} s)"
    )
    if any(math.isnan(x.words_s) for x in word_launches):  # slow, not broken: no problem
        print("note: a launch showed no sample line of words within its time (nan)")
    print(
        f"{start} bare_frame_ms={bare_ms:.0f} frame_ratio={ratio:.3f} out_kb_s={kb:.2f}"
        f" out_kb_s_wide={kb_wide:.2f} ui_cpu_pct={ui:.2f} words_s={words:.2f}",
        flush=True,
    )
