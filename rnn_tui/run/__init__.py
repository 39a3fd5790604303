"""A run as a stream: the protocol between the app and its trainer, the trainer process, the
headless loop, and the files a run writes as it goes. Imports the engine, never the UI."""
