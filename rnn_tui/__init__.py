"""rnn-tui: watch a NumPy character-level RNN learn, live in a terminal."""

import os
import sys

# One BLAS thread: on a 2-core machine a second OpenBLAS thread fights the UI thread and the
# step slows several-fold. This only takes effect if numpy is not imported yet; the trainer
# pins the thread count again at run time (rnn_tui.engine.blas).
if "numpy" not in sys.modules:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
