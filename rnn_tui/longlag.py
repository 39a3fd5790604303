"""`python -m rnn_tui.longlag`, as the README says: the generator lives in the engine."""

import sys

from rnn_tui.engine.longlag import main

if __name__ == "__main__":
    sys.exit(main())
