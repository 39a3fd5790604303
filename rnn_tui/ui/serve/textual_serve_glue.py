"""Everything of textual-serve that is not its public API, in one place, for one pinned version.

textual-serve starts an app with `AppService._open_app_process`, which has no option for the
process group; a session's app must have a group of its own (see `GroupedAppService`), so that
method is overridden here, with its helper `_build_environment` and the `_process`/`_stdin`
attributes the rest of `AppService` reads. The xterm.js bundle the page loads is the one in
textual-serve's package folder (`STATICS`). Its `Server` is public, but is imported from here
too, so that this is the one module of rnn-tui that imports textual-serve.

These are internals: a new release may change them without notice. So the version is pinned in
pyproject.toml, `check_version` refuses another one with a clear message instead of a broken
session, and tests/test_dependencies.py fails loudly, naming the change, when what is relied on
here is no longer there. To move to a new release: read its `app_service.py`, adapt this module,
then update the pin, PINNED_VERSION and the expectations in that test together.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import textual_serve
from textual_serve.app_service import AppService
from textual_serve.server import Server

from rnn_tui.errors import UserError

__all__ = [
    "PINNED_VERSION",
    "STATICS",
    "STATIC_FILES",
    "GroupedAppService",
    "Server",
    "check_version",
    "installed_version",
]

DISTRIBUTION = "textual-serve"
PINNED_VERSION = "1.1.3"  # the same as in pyproject.toml (a test compares them)
STATICS = Path(textual_serve.__file__).resolve().parent / "static"  # xterm.js and its CSS
STATIC_FILES = ("css/xterm.css", "js/textual.js")  # what our page template links


def installed_version() -> str:
    """The installed version of textual-serve."""
    return importlib.metadata.version(DISTRIBUTION)


def check_version() -> None:
    """Refuse to serve with a textual-serve other than the pinned one (its internals differ)."""
    version = installed_version()
    if version != PINNED_VERSION:
        raise UserError(
            f"--serve needs {DISTRIBUTION} {PINNED_VERSION}, but {version} is installed: "
            f"pip install '{DISTRIBUTION}=={PINNED_VERSION}'"
        )


class GroupedAppService(AppService):
    """textual-serve's app service, but the app runs in a process group of its own (Ctrl+C in
    the server's terminal reaches the server only, which then stops each session in order, and
    a session that will not end can be killed whole, trainer included), with `environment`
    added to what textual-serve gives it."""

    def __init__(self, command: str, *, environment: Mapping[str, str], **options: Any) -> None:
        super().__init__(command, **options)
        self.extra_environment = dict(environment)

    async def _open_app_process(
        self, width: int = 80, height: int = 24
    ) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        environment.update(self.extra_environment)
        self._process = process = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            start_new_session=True,
        )
        self._stdin = process.stdin
        return process

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        """The app's process, once started."""
        return self._process
