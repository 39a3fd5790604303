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
   three launches;
5. clean quit: "q" must end the app with exit code 0 within 5 s, leaving no process behind.

Timings are printed, never judged: the targets are shown beside them. The exit code is non-zero
only when something did not work (no screen, a quit that hangs or fails, leftover processes).
The last line is `summary: live_share=<x> key_p95_ms=<y> idle_cpu_pct=<z> first_frame_ms=<w>`.

Only the standard library is used here (no Textual import): everything runs in child processes.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import tempfile
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
from rnn_tui.bench.app_runs import Launch, run_app_once, run_headless
from rnn_tui.bench.procfs import cpu_text
from rnn_tui.bench.terminal import COLS, QUIT_TIMEOUT, ROWS


def _ms(x: float) -> str:
    """Milliseconds without decimals, or "nan"."""
    return "nan" if math.isnan(x) else f"{x:.0f}"


def run_app_bench(
    corpus: Path, seconds: float | None = None, keys: int | None = None, quick: bool = False
) -> int:
    """Run every phase and print the report; the summary is the last line. Returns 0 when the
    app worked (drew, trained, quit cleanly), 1 otherwise; 2 for a missing corpus."""
    from rnn_tui.engine.config import Config  # light: no numpy, no Textual
    from rnn_tui.engine.sampling import SampleSettings

    corpus = corpus.resolve()  # checked by cli.main, like the numbers
    c = Config()
    plan = make_app_plan(quick, seconds, keys, SampleSettings().sample_len)
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
                problems += [x.error for x in (ap, lp) if x.error]
                key_res, idle_res = k or key_res, i or idle_res
                print(
                    f"round {r + 1}: headless {h.chars_per_s:,.0f} chars/s (cpu {h.cpu_text()});"
                    f" app {a.chars_per_s:,.0f} chars/s (cpu {a.cpu_text()};"
                    f" terminal output {a.out_kb_s:.0f} KB/s);"
                    f" app with the probe open {ap.chars_per_s:,.0f} chars/s",
                    flush=True,
                )
                problems += [x.error for x in (h, a, launch) if x.error]
            for r in range(plan.launches - len(launches)):  # more launches for the first frame
                launch, *_ = run_app_once(
                    corpus,
                    plan,
                    d / f"launch{r}.jsonl",
                    d / f"ltrace{r}.txt",
                    train=False,
                    extras=False,
                )
                launches.append(launch)
                if launch.error:
                    problems.append(launch.error)
    except KeyboardInterrupt:
        print("interrupted: the app and its workers were stopped", file=sys.stderr)
        return 130

    _print_report(plan, headless, apps, launches, key_res, idle_res, problems, probes)
    ok = not problems and all(x.exit_code == 0 for x in launches)
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
) -> None:
    """Print every figure beside its target, then the problems (leftover processes are added
    to `problems` here) and the summary line."""
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
    print(
        f"summary: live_share={share:.3f} key_p95_ms={p95:.1f} idle_cpu_pct={idle:.2f}"
        f" first_frame_ms={frame:.0f}",
        flush=True,
    )
