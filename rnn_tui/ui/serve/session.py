"""One browser session: `python -m rnn_tui.ui.serve.session FLAGS` runs `rnn-tui FLAGS` (the app,
driven by textual-serve through its pipes), and ends it when the server that started it is
gone, even if the server was killed without a chance to stop its sessions.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from rnn_tui.cli import main as cli_main

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


def main() -> int:
    """Run the app with the flags given, watched."""
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
