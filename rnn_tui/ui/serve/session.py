"""A browser session's app ends when the server that started it is gone, even if the server was
killed without a chance to stop its sessions.

The server starts each session's app as `python -m rnn_tui FLAGS` (the app, driven by
textual-serve through its pipes) with SERVER_PID_ENV set to the server's pid. The command line
calls `watch_server` before anything else: in a session it starts the watch, anywhere else it
does nothing. This module imports nothing of rnn-tui, so the command line can import it
without importing the browser view.
"""

from __future__ import annotations

import os
import signal
import threading
import time

SERVER_PID_ENV = "RNN_TUI_SERVER_PID"  # set by the server in each session's environment
WATCH_EVERY = 0.5  # seconds between two looks at the parent
QUIT_WAIT = 5.0  # seconds the app gets to quit on SIGTERM before the process exits anyway


def watch_parent(parent: int) -> None:
    """When the server is gone, SIGTERM the app (it saves with --autosave and stops its
    trainer); if it has not ended after QUIT_WAIT, exit anyway (the trainer then sees its
    parent gone and ends too)."""
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(QUIT_WAIT)
    os._exit(1)


def watch_server() -> None:
    """If this process is a session's app, end it when its server is gone (in a thread).

    The variable is removed from the environment first, so that the processes the app starts
    (its trainer) do not take themselves for sessions. A server that is already gone (the pid
    is no longer the parent) ends the app at once.
    """
    value = os.environ.pop(SERVER_PID_ENV, None)
    if value is None:
        return
    try:
        server = int(value)
    except ValueError:
        return
    threading.Thread(target=watch_parent, args=(server,), name="watch-server", daemon=True).start()
