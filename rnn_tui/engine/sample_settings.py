"""What the viewer asks of the sampler (temperature, top-k, length, prime), checked: pure
Python, so the command line and the app's first frame need no NumPy."""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, replace
from typing import Any

from rnn_tui.engine.config import require

MAX_TEMPERATURE = 10.0  # past this, samples are noise whatever the model knows
MAX_PRIME = 500  # characters of a prime: a few lines, enough to set the state, short to read


@dataclass(frozen=True)
class SampleSettings:
    """How samples are drawn: the viewer's choice, not the model's (not in a checkpoint)."""

    temperature: float = 0.8  # softmax(z / temperature): < 1 plays safe, > 1 takes risks
    top_k: int = 0  # sample only from the k likeliest characters; 0 = all of them
    sample_len: int = 240  # characters per sample: about three lines of a wide pane
    prime: str = ""  # every sample continues this text (read into the state first); "": none

    def __post_init__(self) -> None:
        t = self.temperature
        ok = isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
        require(
            ok and 0 < t <= MAX_TEMPERATURE,
            "temperature",
            f"must be > 0 and <= {MAX_TEMPERATURE:g} (got {t})",
        )
        k = self.top_k
        require(
            isinstance(k, int) and not isinstance(k, bool) and k >= 0,
            "top_k",
            f"must be >= 0 (got {k})",
        )
        n = self.sample_len
        require(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 100000,
            "sample_len",
            f"must be between 1 and 100000 (got {n})",
        )
        p = self.prime
        require(
            isinstance(p, str) and len(p) <= MAX_PRIME,
            "prime",
            f"must be at most {MAX_PRIME} characters (got {len(p) if isinstance(p, str) else p})",
        )

    def with_(self, **changes: Any) -> SampleSettings:
        return replace(self, **changes)


def read_prime(typed: str) -> str:
    """A prime as typed on a command line or in the app: backslash escapes such as `\\n` (a
    newline) and `\\t` are read, every other character is kept as it is. ValueError if an
    escape cannot be read (a lone backslash at the end)."""
    # Characters past Latin-1 become \uXXXX escapes first, so the decoder gives them back.
    raw = typed.encode("latin-1", "backslashreplace")
    try:
        return codecs.decode(raw, "unicode_escape")
    except UnicodeDecodeError:
        raise ValueError(f"cannot read the backslash escapes in {typed!r}") from None


def unknown_chars(prime: str, chars: tuple[str, ...]) -> list[str]:
    """The characters of `prime` that the vocabulary `chars` lacks, each once, in order."""
    known = set(chars)
    return list(dict.fromkeys(ch for ch in prime if ch not in known))


def prime_problem(prime: str, chars: tuple[str, ...]) -> str | None:
    """What is wrong with `prime` for a model of vocabulary `chars`, in one line; None if
    nothing is: every character must be one the model has seen, and it must not be too long."""
    if len(prime) > MAX_PRIME:
        return f"the prime is {len(prime)} characters long; at most {MAX_PRIME} are read"
    if missing := unknown_chars(prime, chars):
        shown = ", ".join(repr(ch) for ch in missing[:10]) + (" ..." if len(missing) > 10 else "")
        return f"the corpus never has {shown}: the model cannot read a character it never saw"
    return None
