"""The one exception type a user is meant to read.

Anything raised as `UserError` is printed by the CLI as a single line on stderr and ends
the process with exit code 2; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (a path, a flag, a checkpoint), explained in one line."""
