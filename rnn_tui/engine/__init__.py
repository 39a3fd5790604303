"""The engine: cells, trainer, data, optimizers, sampling, checkpoints and config, in NumPy.

Nothing here imports the run layer, the UI, Textual or plotext (a test says so).
"""
