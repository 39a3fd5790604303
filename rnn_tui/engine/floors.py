"""The two loss floors of a long-lag corpus: what a model can reach with and without the key.

A long-lag line (rnn_tui.engine.longlag) is `key + filler * lag + '=' + key + newline`:
L = lag + 4 characters, each of them a prediction target (the newline before a line is what
its first key is predicted from). With K keys drawn uniformly at random:

- the first key: nothing on the line before it tells it, so the best is 1/K each: ln K nats;
- the lag filler characters, the '=' and the newline: fixed by the position in the line, so a
  model that counts the filler predicts them surely: 0 nats;
- the key after '=': a model that cannot carry the first key across lag + 1 steps knows only
  that some key comes: ln K nats; one that recalls it predicts it surely: 0 nats.

Per character, averaged over a line:

    forgets = 2 ln K / L        (counts, but cannot recall the key)
    recalls =   ln K / L        (counts and recalls: the best any model can do)

For lag 80 and 8 keys: 2 ln 8 / 84 = 0.0495 and ln 8 / 84 = 0.0248 nats/char. Pure Python,
no UI import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnn_tui.engine.recall import RecallTask


@dataclass(frozen=True)
class Floors:
    """The loss floors of a long-lag corpus, nats/char."""

    forgets: float  # 2 ln K / L: a model that counts the filler but cannot recall the key
    recalls: float  # ln K / L: one that also recalls it (the entropy of the text itself)


def long_lag_floors(keys: int, lag: int) -> Floors:
    """The floors for `keys` keys (K) and `lag` filler characters per line (L = lag + 4)."""
    per_key = math.log(keys)  # ln K: one key of K equally likely ones
    line = lag + 4  # L: key, filler, '=', key, newline
    return Floors(forgets=2 * per_key / line, recalls=per_key / line)


def task_floors(task: RecallTask | None) -> Floors | None:
    """The floors of the corpus a recall task was read from; None for other corpora."""
    return None if task is None else long_lag_floors(len(task.keys), task.lag)
