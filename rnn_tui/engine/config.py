"""Training configuration: one frozen dataclass, every default explained, every value checked."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from rnn_tui.errors import UserError

CELL_NAMES = ("rnn", "lstm", "gru")
OPTIMIZERS = ("adam", "adagrad", "sgd")
CLIP_MODES = ("norm", "value", "off")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Config:
    """Everything that decides what is trained and how. Change it with `dataclasses.replace`."""

    cell: str = "rnn"  # recurrent cell: the vanilla tanh RNN of the textbook
    hidden: int = 128  # hidden units H: enough for words on a small corpus, fast on one core
    seq_len: int = 32  # BPTT window T: how many steps the gradient is carried back
    batch: int = 32  # streams B trained side by side: one matmul serves them all
    optimizer: str = "adam"  # adam learns fastest here; adagrad at lr 0.1 is min-char-rnn's
    lr: float = 3e-3  # learning rate; 3e-3 is a safe fast value for Adam on characters
    lr_boost: float = 3.0  # the first step takes lr_boost x lr, falling linearly to lr over
    # boost_steps: on tiny.txt a sample holds words ~1 s sooner (see CELL_DEFAULTS); 1 is off
    boost_steps: int = 500  # steps the start-up boost lasts (3 s on 2 cores at the defaults)
    clip_mode: str = "norm"  # "norm" rescales the whole gradient, "value" clips each entry, "off"
    clip: float = 5.0  # clipping threshold: global norm, or the largest allowed entry
    rec_gain: float = 1.0  # scale of W_hh at init: spectral radius about this value
    forget_bias: float = 1.0  # LSTM forget-gate bias at init: f = sigmoid(1) = 0.73; higher
    # keeps the cell (and its gradient) over more steps from the start (3: f = 0.95, 0.95^80 = 2%)
    dtype: str = "float32"  # float32 is twice as fast; float64 is for gradient checks
    seed: int = 1234  # one seed decides the weights, the batches and the samples
    val_fraction: float = 0.1  # the last 10% of the text is held out, never trained on
    eval_every: int = 100  # steps between two held-out evaluations
    eval_chars: int = 8192  # held-out characters read per evaluation (cost ~ 1/4 of a step each)
    smoothing: float = 0.98  # weight of the past in the smoothed loss (about 50 steps)
    reset_at: str = ""  # reset a stream's state after these characters ("\n": every line alone)

    def __post_init__(self) -> None:
        check(self)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        """Build from a dict, ignoring keys this version does not know."""
        if not isinstance(data, dict):  # a JSON list, string, number or null from a stray file
            raise UserError(f"the settings must be a JSON object, not {_kind(data)}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> Config:
        return replace(self, **changes)


class SettingError(UserError):
    """A setting out of range or of the wrong type; says which setting, and what is wrong."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"setting {name} {detail}")
        self.name = name  # the field, e.g. "seq_len"
        self.detail = detail  # e.g. "must be between 2 and 10000 (got 1)"


def require(ok: bool, name: str, detail: str) -> None:
    if not ok:
        raise SettingError(name, detail)


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _kind(x: object) -> str:
    """What a value is, in words a JSON user knows: "a list", "null", "a number"."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(x), type(x).__name__)


def _show(x: object) -> str:
    """A short repr for a message: a 60 KiB string from a file must not fill the terminal."""
    text = repr(x)  # repr escapes control characters, so the message stays one line
    return text if len(text) <= 40 else text[:37] + "..."


# What each annotation admits. bool is an int subclass, yet `batch=True` is a typo, never a size.
_TYPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
}


def _check_types(c: Config) -> None:
    """Refuse a field of the wrong type (seed 1.5, batch "2", lr true) before any range check."""
    for f in fields(c):
        word, ok = _TYPES[str(f.type)]  # annotations are strings under `from __future__`
        value = getattr(c, f.name)
        require(ok(value), f.name, f"must be {word} (got {_show(value)})")


def check(c: Config) -> None:
    """Refuse values of the wrong type, then out-of-range values, with a message that names the
    setting and the accepted range (the command line puts its flag's name in its place)."""
    _check_types(c)
    require(
        c.cell in CELL_NAMES,
        "cell",
        f"must be one of {', '.join(CELL_NAMES)} (got {_show(c.cell)})",
    )
    require(1 <= c.hidden <= 4096, "hidden", f"must be between 1 and 4096 (got {c.hidden})")
    require(2 <= c.seq_len <= 10000, "seq_len", f"must be between 2 and 10000 (got {c.seq_len})")
    require(1 <= c.batch <= 4096, "batch", f"must be between 1 and 4096 (got {c.batch})")
    require(
        c.optimizer in OPTIMIZERS,
        "optimizer",
        f"must be one of {', '.join(OPTIMIZERS)} (got {_show(c.optimizer)})",
    )
    require(_finite(c.lr) and 0 < c.lr <= 10, "lr", f"must be > 0 and <= 10 (got {c.lr})")
    require(
        _finite(c.lr_boost) and 1 <= c.lr_boost <= 10,
        "lr_boost",
        f"must be between 1 and 10 (got {c.lr_boost})",
    )
    require(c.boost_steps >= 0, "boost_steps", f"must be >= 0 (got {c.boost_steps})")
    require(
        c.clip_mode in CLIP_MODES,
        "clip_mode",
        f"must be one of {', '.join(CLIP_MODES)} (got {_show(c.clip_mode)})",
    )
    require(_finite(c.clip) and c.clip > 0, "clip", f"must be > 0 (got {c.clip})")
    require(
        _finite(c.rec_gain) and 0 <= c.rec_gain <= 100,
        "rec_gain",
        f"must be in [0, 100] (got {c.rec_gain})",
    )
    require(
        _finite(c.forget_bias) and -20 <= c.forget_bias <= 20,
        "forget_bias",
        f"must be in [-20, 20] (got {c.forget_bias})",
    )
    require(
        c.dtype in DTYPES, "dtype", f"must be one of {', '.join(DTYPES)} (got {_show(c.dtype)})"
    )
    require(0 <= c.seed < 2**63, "seed", f"must be between 0 and 2**63-1 (got {c.seed})")
    require(0 <= c.val_fraction < 1, "val_fraction", f"must be in [0, 1) (got {c.val_fraction})")
    require(c.eval_every >= 1, "eval_every", f"must be >= 1 (got {c.eval_every})")
    require(c.eval_chars >= 0, "eval_chars", f"must be >= 0 (got {c.eval_chars})")
    require(0 <= c.smoothing < 1, "smoothing", f"must be in [0, 1) (got {c.smoothing})")


# Each cell's own defaults: the fields where it differs from `Config()` (the vanilla RNN's).
# Chosen for the lowest held-out loss a 1 MB English text (`python -m rnn_tui.bench.english`)
# reached in 5 minutes of headless training, one run at a time, on a shared 2-core machine
# (2026-12-01; `python -m rnn_tui.bench quality`). Figures: best held-out bits/char, steps, the
# CPU seconds the run got and the load average. 90-second screens ranked the candidates first.
# The rate stays constant: decaying it as lr / (1 + step / 1000) did not help in 5 minutes
# (GRU 2.378 bits against 2.373, LSTM 2.379 against 2.372, each with more CPU time).
# On corpora/tiny.txt (held-out nats/char at 10, 30, 60 s of `--headless --seconds 60`, load
# 1.5-2) H=256 is slower to start, then ahead: LSTM 2.22, 1.53, 1.56 against 1.83, 1.53, 1.61;
# GRU 1.74, 1.54, 2.00 against 1.53, 1.82, 2.27 (tiny.txt is learnt by heart within a minute).
# On the faster machine that followed (2026-12-02, AVX-512, about twice the steps) the GRU's
# best came at step 2,500 of 11,710, so larger cells were tried against these settings, in
# 5-minute runs two at a time (one core each; H=256 with seed 1234 alone, by `bench quality`),
# best held-out bits/char by seed 1234, 99, 7:
# - LSTM H=384, lr 5e-3: 2.309, 2.390, 2.300 (mean 2.333); H=256: 2.389, 2.337, 2.326 (2.351).
# - GRU H=384, lr 2e-3: 2.331, 2.323, 2.326 (2.327); H=256, lr 3e-3: 2.378, -, 2.308 (2.343).
#   At H=384 the GRU needs the lower rate: at lr 3e-3 it stalled near 2.8 (H=512: 3.05).
# The gains (0.02 on average) are inside the spread between seeds (up to 0.08), while H=384
# costs twice as much per step, is behind for the first 15-20 s on tiny.txt, and the GRU's
# best minute there is worse (1.48 against 1.44). So H=256 stays for both.
CELL_DEFAULTS: dict[str, dict[str, Any]] = {
    # The lecture's cell keeps Config(). In 90 s (load 3-4): 2.570 bits at these settings,
    # 2.716 at lr 1e-2, 2.607 at H=256, 2.603 at lr 5e-3 / (1 + step / 2000): none better.
    "rnn": {},
    "lstm": {
        # 5 min: 2.372 bits (3,440 steps, 201 CPU s, load 4.6-3.5) against 2.423 with the
        # RNN's settings (8,990 steps, 193 CPU s, load 4.8-4.6) and 2.409 at H=128, lr 1e-2
        # (11,160 steps, 230 CPU s). A step costs 2.6 times as much, but each one learns
        # more, and the loss was still falling at the end where H=128 had levelled off.
        "hidden": 256,
        # The LSTM takes larger steps well: in 90 s at H=128, lr 1e-2 and 2e-2 reached 2.436
        # and 2.433 against 2.483 at 3e-3 (2e-2 less steadily); H=256 was run at 5e-3 only.
        "lr": 5e-3,
    },
    "gru": {
        # 5 min: 2.373 bits (4,270 steps, 177 CPU s, load 4.0-4.8) against 2.443 with the
        # RNN's settings (12,200 steps, 199 CPU s, load 3.6-4.0), whose best came at step
        # 4,300 and was never beaten after. In 90 s, lr 1e-2 at H=128 gave 2.459 (no better).
        "hidden": 256,
    },
}


def defaults_for(cell: str) -> Config:
    """The settings `--cell CELL` starts from: `Config()` with the cell's `CELL_DEFAULTS`
    (an unknown cell is refused by `Config`'s own check, as `SettingError`)."""
    return Config(cell=cell, **CELL_DEFAULTS.get(cell, {}))


def for_cell(config: Config, cell: str) -> Config:
    """`config` for training `cell` instead (the `l` key): each of the cells' own settings
    (`CELL_DEFAULTS`) still at the current cell's default takes the new cell's default, so the
    LSTM gets its own H and lr as with `--cell lstm`; one set by hand, on the command line or
    by key, is kept. Every other setting carries over as it is."""
    old, new = defaults_for(config.cell), defaults_for(cell)
    names = set(CELL_DEFAULTS.get(config.cell, {})) | set(CELL_DEFAULTS.get(cell, {}))
    follow = {n: getattr(new, n) for n in sorted(names) if getattr(config, n) == getattr(old, n)}
    return config.with_(cell=cell, **follow)
