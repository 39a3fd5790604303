"""The one exception type a user is meant to read, and the parser that reports bad flags alike.

Anything raised as `UserError` is printed by the CLI as a single line on stderr and ends
the process with exit code 2; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn


class UserError(Exception):
    """Bad input from the user (a path, a flag, a checkpoint), explained in one line."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser of every `rnn-tui` command: a mistake is one line and exit code 2,
    not argparse's usage block; and no abbreviations (`--hid 64` would be taken as --hidden,
    yet not seen as typed, so a preset or checkpoint would silently override it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")
