"""The small screen of the benchmarks (`rnn_tui.bench.screen`): what `bench app` reads back from
the app's terminal output to time its first words."""

from __future__ import annotations

from rnn_tui.bench.screen import Screen, corpus_words, sample_rows, words_in


def test_screen_follows_cursor_moves_colours_and_erases() -> None:
    """If this fails, `bench app` reads the app's screen wrong (text in the wrong place, colour
    codes taken for text) and times the first words from garbage."""
    s = Screen(20, 4)
    s.feed(b"\x1b[?1049h\x1b[2J\x1b[2;3H\x1b[1;38;5;30mhello\x1b[0m")
    s.feed(b"\x1b[4;1Hbottom\x1b]0;title\x07\x1b[4;3H\x1b[K")
    s.feed("\x1b[1;1Hé✓".encode()[:-1])  # a character cut between two chunks
    s.feed("\x1b[1;1Hé✓".encode()[-1:])
    lines = s.lines()
    assert lines[1] == "  hello" + " " * 13
    assert lines[3] == "bo" + " " * 18
    assert lines[0].startswith("é✓")


def test_sample_rows_and_words() -> None:
    """If this fails, `bench app` counts words outside the sample pane (titles, the footer, a
    sample's header) or misses them inside it."""
    screen = [
        "╭─ loss ─╮╭─ samples ──────────────╮",
        "│ the    ││── step 1 · temperature │",
        "│ and    ││qxz the and cat          │",
        "│        ││the cat sat              │",
        "│        ││ next: t 40%             │",
        "╰────────╯╰───────────── i: probe ─╯",
        "  TRAINING the cat sat on the mat   ",
    ]
    words = corpus_words("The cat sat on the mat, and the dog ran.")
    rows = sample_rows(screen)
    assert [r.strip() for r in rows] == ["qxz the and cat", "the cat sat"]
    assert words_in(rows, words) == 3
    assert words_in(["the the THE cat"], words) == 2  # distinct, any case
    assert words_in(["on at the"], words) == 1  # two letters are not a word here
