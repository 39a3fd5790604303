"""Benchmarks: `python -m rnn_tui.bench [train|app|soak]`; each prints figures, none asserts."""
