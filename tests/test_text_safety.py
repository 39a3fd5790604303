"""Any text a corpus can hold is shown as text: never run by the terminal, never read as markup.
And a corpus of thousands of distinct characters still trains and draws."""

from __future__ import annotations

import asyncio
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import booted, wait_for
from test_app import spec_for, step_of

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.sample_settings import SampleSettings
from rnn_tui.engine.trainer import Trainer
from rnn_tui.ui.app import make_app
from rnn_tui.ui.settings import UISettings
from rnn_tui.ui.widgets import SamplePane, StatusBar

pytestmark = pytest.mark.functional

HOSTILE = (
    "[bold]not bold[/bold] [link=http://x]no link[/link] [red]plain[/] $variable {braces}\n"
    "\x1b[31mred?\x1b[0m \x1b]0;title\x07 \x1b[2J clear? \r carriage \t tab \x08 backspace\n"
    "日本語のテキスト 中文 한국어 🙂🚀👩‍👩‍👧 e\u0301 n\u0303 שלום עולם مرحبا بالعالم\n"
    "\u202eright-to-left override\u202c \u200bzero width \ufeff bom \x9b csi \x7f del\n"
)


def visible_only(text: str) -> bool:
    """True if no character in `text` could act on a terminal (control or format codes)."""
    return not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in text)


def test_hostile_text_is_shown_as_text_in_every_pane(tmp_path: Path) -> None:
    """If this fails, a corpus (or its file name) can recolour or clear the class's terminal,
    inject markup into the UI, or crash a pane on wide or combining characters."""
    path = tmp_path / "[red]evil\x1b[2J.txt"
    path.write_text(HOSTILE * 40, encoding="utf-8")
    sampling = SampleSettings(temperature=1.5)
    app = make_app(spec_for(Config(hidden=32, seq_len=16, batch=8), path), UISettings(sampling))

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await booted(pilot)
            pane = app.query_one(SamplePane)
            await wait_for(pilot, lambda: sum(len(t) for _, t in pane.samples) > 150)
            await pilot.pause(0.3)
            rows = "\n".join(pane.visual_rows())
            assert visible_only(rows), repr(rows)
            status = app.query_one(StatusBar).plain_text
            assert "[red]evil" in status and "\x1b" not in status
            screen = app.export_screenshot()
            assert "\x1b" not in screen and "\x9b" not in screen

    asyncio.run(main())


def test_thousands_of_characters_still_train_and_draw(tmp_path: Path) -> None:
    """If this fails, a text in Chinese or Japanese (thousands of distinct characters) cannot
    be used at all, or runs without saying why it is slow."""
    rng = np.random.default_rng(0)
    alphabet = [chr(0x4E00 + i) for i in range(3000)]  # 3000 CJK ideographs
    text = "".join(rng.choice(alphabet, 40_000))
    path = tmp_path / "cjk.txt"
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.vocab.size == 3000
    trainer = Trainer(corpus, Config(hidden=64, seq_len=16, batch=8))
    first = trainer.step().loss
    assert abs(first - np.log(3000)) < 0.5
    app = make_app(spec_for(Config(hidden=64, seq_len=16, batch=8), path))

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await booted(pilot)
            await wait_for(pilot, lambda: step_of(app) > 3)
            assert "V=3,000: " in app.notice and "output layer" in app.notice
            pane = app.query_one(SamplePane)
            await wait_for(pilot, lambda: sum(len(t) for _, t in pane.samples) > 10)

    asyncio.run(main())
