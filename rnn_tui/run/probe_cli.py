"""`rnn-tui --load CHECKPOINT --probe TEXT`: what a saved model makes of a text, printed.

One line per character: its surprisal in bits and the model's five likeliest guesses for it;
then, for the last scored character, the looking-back profile: one gradient norm per earlier
character. `--json` prints the same as one JSON object instead. Nothing is trained. Characters
are shown as the app shows them: controls as visible stand-ins, a space as ␣, a newline as ↵.
"""

from __future__ import annotations

import json
import math
import sys
from typing import IO, Any

import numpy as np

from rnn_tui.engine.checkpoint import Checkpoint, load_checkpoint
from rnn_tui.engine.probe import PROBE_LIMIT, ProbeResult, looking_back, probe, probe_model
from rnn_tui.textsafe import sanitize

SHOWN = {" ": "␣", "\n": "↵"}  # characters that would be invisible on their own, as in the app
BAR = 20  # cells of the looking-back bar at the largest value


def shown(ch: str) -> str:
    """One character as the app shows it: never a control, never invisible."""
    return SHOWN.get(ch) or sanitize(ch)


def _num(x: float) -> float | None:
    """A float for JSON: NaN (not scored, unknown) becomes null."""
    return None if math.isnan(x) else float(x)


def probe_checkpoint(
    path: str, text: str
) -> tuple[Checkpoint, ProbeResult, int | None, np.ndarray | None]:
    """Load `path`, probe `text` with it, and look back from the last scored character.
    Returns the checkpoint, the result, that position (None if nothing is scored) and its
    profile `(j,)` (or None). A bad checkpoint or an empty text is a `UserError`."""
    ckpt = load_checkpoint(path)
    pm = probe_model(ckpt.params, ckpt.config, ckpt.vocab)
    result = probe(pm, text)
    j = result.last_scored
    back = None if j is None else looking_back(pm, result.ids, j, result.trace)
    return ckpt, result, j, back


def as_json(
    path: str, ckpt: Checkpoint, r: ProbeResult, j: int | None, back: np.ndarray | None
) -> dict[str, Any]:
    """The probe as one JSON-ready object (keys documented in the README)."""
    chars = [
        {
            "pos": i,
            "char": ch,
            "known": bool(r.known[i]),
            "surprisal_bits": _num(r.surprisal[i]),
            "top5": [{"char": c, "p": p} for c, p in r.top(i)],
        }
        for i, ch in enumerate(r.text)
    ]
    looking = None
    if j is not None and back is not None:
        looking = {"pos": j, "char": r.text[j], "grad_norms": [_num(g) for g in back]}
    return {
        "checkpoint": path,
        "cell": ckpt.config.cell,
        "hidden": ckpt.config.hidden,
        "vocab_size": len(ckpt.vocab),
        "limit": PROBE_LIMIT,
        "cut": r.cut,
        "text": r.text,
        "bits_per_char": _num(r.bits_per_char),
        "scored": int(r.scored.sum()),
        "chars": chars,
        "looking_back": looking,
    }


def text_lines(
    path: str, ckpt: Checkpoint, r: ProbeResult, j: int | None, back: np.ndarray | None
) -> list[str]:
    """The probe as lines for a terminal."""
    c = ckpt.config
    n_unknown = int((~r.known).sum())
    model = f"{c.cell}, H={c.hidden}, vocabulary of {len(ckpt.vocab)}"
    lines = [f"probe of {sanitize(path)}: {model}"]
    if r.cut:
        lines.append(
            f"the text has {r.cut + len(r.text):,} characters; probed its last {len(r.text):,}"
            f" (the limit)"
        )
    bpc = "-" if math.isnan(r.bits_per_char) else f"{r.bits_per_char:.3f}"
    lines.append(
        f"{bpc} bits per character over {int(r.scored.sum())} scored"
        f" (of {len(r.text)}; {n_unknown} unknown)"
    )
    lines += ["", "  pos  char    bits  the model's top-5 guesses for it"]
    for i, ch in enumerate(r.text):
        if not r.known[i]:
            bits, guess = "     ?", "unknown: not in the model's vocabulary, not scored"
        else:
            bits = f"{r.surprisal[i]:6.2f}" if r.scored[i] else "     -"
            guess = "(nothing before it to predict from)"
        if r.predicted[i]:
            guess = "  ".join(f"{shown(g)} {p:.3f}" for g, p in r.top(i))
            guess += "" if r.known[i] else "   (unknown: not scored)"
        lines.append(f"{i:5d}  {shown(ch):4s}{bits}  {guess}")
    lines.append("")
    if j is None or back is None:
        lines.append("looking back: no character is scored, so there is nothing to look back from")
        return lines
    lines.append(
        f"looking back from {j} ({shown(r.text[j])}): ||d log p / d x_s|| for each earlier"
        " character s (0 before a state reset, ? unknown)"
    )
    lines.append("    s  char  back  gradient")
    top = float(np.nanmax(back)) if np.isfinite(back).any() else 0.0
    for s, g in enumerate(back):
        if math.isnan(g):
            lines.append(f"{s:5d}  {shown(r.text[s]):4s}{j - s:6d}         ?")
            continue
        bar = "█" * round(BAR * g / top) if top > 0 else ""
        lines.append(f"{s:5d}  {shown(r.text[s]):4s}{j - s:6d}  {g:.2e}  {bar}".rstrip())
    return lines


def run_probe_cli(path: str, text: str, json_out: bool = False, out: IO[str] | None = None) -> int:
    """Print the probe of `text` by the checkpoint at `path`; 0 when done. Bad input is a
    `UserError` for the CLI to print."""
    out = out or sys.stdout
    ckpt, result, j, back = probe_checkpoint(path, text)
    if json_out:
        out.write(json.dumps(as_json(path, ckpt, result, j, back), allow_nan=False) + "\n")
    else:
        out.write("\n".join(text_lines(path, ckpt, result, j, back)) + "\n")
    out.flush()
    return 0
