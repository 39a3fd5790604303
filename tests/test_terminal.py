"""The tests' own tmux server (tests/terminal.py) survives sessions coming and going."""

from __future__ import annotations

import pytest
from terminal import new_session, tmux


@pytest.mark.functional
@pytest.mark.needs("tmux")
def test_sessions_start_at_their_size_right_after_the_last_one_is_killed() -> None:
    """If this fails, a tmux test can start while the server is exiting and read an empty
    screen until its deadline: the way test_attach_cli once failed on CI."""
    for n in range(40):
        name = f"churn-{n}"
        new_session(name, 120, 40, "/", "sleep 30")  # asserts the session exists at 120x40
        tmux("kill-session", "-t", name)
        assert name not in tmux("list-sessions", "-F", "#{session_name}").split()
