"""Clicking a pane fills the screen with it; Esc gives the others back (Textual's maximize).

The panes are the loss box, each gradient pane and each lane's sample box. Textual minimizes
on Esc by itself (`App.ESCAPE_TO_MINIMIZE`), before any binding of the key sees it.
"""

from __future__ import annotations

from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

PANE_IDS = ("loss-box",)  # the panes a click maximizes, by id and by class
PANE_CLASSES = ("grads", "lane")


def pane_of(widget: DOMNode | None) -> Widget | None:
    """The pane `widget` is part of (itself or an ancestor), or None (status line, footer...)."""
    node = widget
    while isinstance(node, Widget):
        if node.id in PANE_IDS or any(node.has_class(c) for c in PANE_CLASSES):
            return node
        node = node.parent
    return None


def maximize_clicked(screen: Screen, widget: DOMNode | None) -> bool:
    """Maximize the pane of a clicked widget, unless one already is; True if it did."""
    pane = pane_of(widget)
    if pane is None or screen.maximized is not None:
        return False
    screen.maximized = pane  # what Screen.maximize does for a widget that allows it
    return True
