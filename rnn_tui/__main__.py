"""`python -m rnn_tui` hands off to the command line."""

import sys

from rnn_tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
