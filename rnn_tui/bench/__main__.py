"""`python -m rnn_tui.bench [train|app|soak] ...`: see `rnn_tui.bench.cli.main`."""

import sys

from rnn_tui.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
