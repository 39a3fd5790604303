"""Shared fixtures: small corpora written on the fly, and the project's own tiny corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "corpora" / "tiny.txt"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for tests/gradcheck.py


@pytest.fixture
def text_file(tmp_path: Path):
    """Write `text` (str or bytes) to a file and return its path."""

    def make(content: str | bytes, name: str = "corpus.txt") -> Path:
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    return make
