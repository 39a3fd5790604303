"""Signs in the app's own words that have no one-cell ASCII stand-in, spelled out under
`--ascii`.

The `--ascii` line filter (`rnn_tui.ui.glyphs`) works on lines already laid out, where each
character must keep its width: a Greek letter or an arrow can only become "?" there, and the
help's "ln 2 ? 0.693" reads as a question. So the text the app writes itself (the help, the
status line's notices, the spectrum's labels, the probe's keys) is passed through `spelled`
where it is made, while it can still grow: "ln 2 ~ 0.693", "rho", "up/down". Corpus text is
left to the filter: a character ASCII lacks is shown as "?", which is the truth about it.
"""

from __future__ import annotations

from textual.dom import DOMNode

# Each sign with its ASCII spelling; a key that holds another comes first.
SPELLED = {
    "←→↑↓": "arrows",  # the probe's cursor keys, as one
    "←→": "arrows",  # the same, in its typing hint
    "λ": "lambda",  # an eigenvalue
    "ρ": "rho",  # the spectral radius
    "τ": "tau",  # the sampling temperature
    "θ": "theta",  # all the weights together
    "μ": "mu",  # a gate's mean
    "≈": "~",
    "←": "<-",
    "→": "->",
    "↑": "up",
    "↓": "down",
}


def spell_out(text: str) -> str:
    """`text` with every sign of SPELLED in its ASCII spelling."""
    if text.isascii():
        return text
    for sign, ascii_text in SPELLED.items():
        text = text.replace(sign, ascii_text)
    return text


def spelled(node: DOMNode, text: str) -> str:
    """`text` as `node`'s app shows it: spelled out if the app draws in ASCII only (its
    `ascii_only`, from `--ascii`), as written otherwise (also for a node drawn without a
    running app, as in some tests)."""
    try:
        ascii_only = bool(getattr(node.app, "ascii_only", False))
    except RuntimeError:  # Textual's NoActiveAppError: no app runs
        ascii_only = False
    return spell_out(text) if ascii_only else text
