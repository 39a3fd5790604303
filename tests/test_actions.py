"""The one table of keys: bindings, footer, palette, help and README all come from it."""

from __future__ import annotations

import re

from conftest import ROOT

from rnn_tui.ui.actions import ACTIONS, bindings, help_table, palette
from rnn_tui.ui.app import RnnApp
from rnn_tui.ui.widgets.help_screen import HELP_MARKDOWN


def readme_keys() -> list[str]:
    """The first column of the README's key table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| key | what it does |", 1)[1].split("\n\n", 1)[0]
    return [row.split("|")[1].strip() for row in table.splitlines()[2:] if row.startswith("|")]


def test_readme_lists_the_keys_of_the_table() -> None:
    """If this fails, the README promises a key the app does not have, or hides one it has."""
    assert sorted(readme_keys()) == sorted(a.shown for a in ACTIONS)


def test_every_binding_and_palette_entry_has_a_handler() -> None:
    """If this fails, a key or a palette entry does nothing (Textual ignores unknown actions)."""
    actions = [b.action for b in bindings()] + [action for _, _, action in palette()]
    for action in actions:
        name = re.sub(r"\(.*\)$", "", action)
        assert callable(getattr(RnnApp, f"action_{name}", None)), action


def test_footer_and_help_come_from_the_table() -> None:
    """If this fails, the footer or the help screen shows a key list of its own again."""
    shown = [b for b in bindings() if b.show]
    assert [b.description for b in shown] == [a.footer for a in ACTIONS if a.footer]
    assert help_table() in HELP_MARKDOWN
    assert bindings() == RnnApp.BINDINGS
