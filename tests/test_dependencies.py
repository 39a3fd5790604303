"""What rnn-tui relies on in its dependencies, beyond their documented API, still holds.

rnn-tui uses its dependencies through their public API, with one exception: textual-serve's
app service, whose process start is overridden so that each session's app has a process group
of its own. All of that is in rnn_tui/ui/serve/textual_serve_glue.py, for the version pinned in
pyproject.toml. These tests fail, naming what changed, when a new textual-serve no longer has
what that module relies on, or when the installed version is not the pinned one. They also keep
the rest of the code off private modules of any dependency.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager
from textual_serve.server import Server

from rnn_tui.errors import UserError
from rnn_tui.ui.serve import textual_serve_glue as glue

GLUE = "rnn_tui/ui/serve/textual_serve_glue.py"


def pinned_version(distribution: str) -> str:
    """The exact version pyproject.toml pins `distribution` to ("" if it is not pinned)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib

        requirements = tomllib.loads(text)["project"]["dependencies"]
    except ModuleNotFoundError:  # Python 3.10: the requirement strings are on lines of their own
        requirements = re.findall(r'^\s*"([^"]+)"', text, flags=re.MULTILINE)
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;,]+)\s*(;.*)?", requirement)
        if match and match[1].lower().replace("_", "-") == distribution:
            return match[2]
    return ""


def parameters(function: Any) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter: what a caller or an override must match."""
    return [
        (p.name, p.kind.name, p.default) for p in inspect.signature(function).parameters.values()
    ]


EMPTY = inspect.Parameter.empty


# ----------------------------------------------------------------------------- the version


def test_textual_serve_is_the_pinned_version() -> None:
    """If this fails, another textual-serve is installed than the one the glue module was
    written for, or the pin in pyproject.toml and the glue module disagree: read the new
    release's app_service.py, adapt textual_serve_glue.py, then update all three together."""
    pin = pinned_version("textual-serve")
    assert pin, "pyproject.toml must pin textual-serve to one version (==): the glue needs it"
    assert pin == glue.PINNED_VERSION, "textual_serve_glue.PINNED_VERSION differs from the pin"
    assert glue.installed_version() == pin, f"textual-serve {glue.installed_version()} installed"


def test_serving_refuses_another_textual_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails, --serve with another textual-serve starts sessions that may break in
    ways no message explains, instead of saying which version it needs."""
    glue.check_version()
    monkeypatch.setattr(glue, "installed_version", lambda: "9.9.9")
    with pytest.raises(UserError, match=r"needs textual-serve 1\.1\.3, but 9\.9\.9"):
        glue.check_version()


# ----------------------------------------------------------------------------- the internals


def test_app_service_internals_the_glue_overrides_are_there() -> None:
    """If this fails, textual-serve renamed or changed the private method the glue overrides
    (so sessions would silently share the server's process group) or a private attribute the
    glue sets or reads: the message names it."""
    open_app = getattr(AppService, "_open_app_process", None)
    assert open_app is not None, "AppService._open_app_process is gone"
    assert inspect.iscoroutinefunction(open_app), "AppService._open_app_process is not async"
    assert parameters(open_app) == [
        ("self", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("width", "POSITIONAL_OR_KEYWORD", 80),
        ("height", "POSITIONAL_OR_KEYWORD", 24),
    ], "AppService._open_app_process takes other parameters"
    build_env = getattr(AppService, "_build_environment", None)
    assert build_env is not None, "AppService._build_environment is gone"
    assert not inspect.iscoroutinefunction(build_env)
    assert parameters(build_env) == [
        ("self", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("width", "POSITIONAL_OR_KEYWORD", 80),
        ("height", "POSITIONAL_OR_KEYWORD", 24),
    ], "AppService._build_environment takes other parameters"
    # start() must open the process through the overridable method.
    assert "self._open_app_process(" in inspect.getsource(AppService.start)
    service = AppService(
        "true",
        write_bytes=_ignore,
        write_str=_ignore,
        close=_ignore,
        download_manager=DownloadManager(),
    )
    for name in ("_process", "_stdin"):
        assert hasattr(service, name), f"AppService no longer has {name}"
        assert getattr(service, name) is None, f"AppService.{name} no longer starts as None"
    environment = service._build_environment(width=91, height=27)
    assert isinstance(environment, dict)
    assert environment["COLUMNS"] == "91" and environment["ROWS"] == "27"
    assert environment["TEXTUAL_DRIVER"].startswith("textual.drivers.web_driver")


def test_the_public_parts_used_keep_their_shape() -> None:
    """If this fails, a textual-serve class the browser view subclasses or calls takes other
    arguments, or lost an attribute or method the server uses."""
    assert parameters(AppService.__init__) == [
        ("self", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("command", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("write_bytes", "KEYWORD_ONLY", EMPTY),
        ("write_str", "KEYWORD_ONLY", EMPTY),
        ("close", "KEYWORD_ONLY", EMPTY),
        ("download_manager", "KEYWORD_ONLY", EMPTY),
        ("debug", "KEYWORD_ONLY", False),
    ]
    for name in ("start", "stop", "send_bytes", "set_terminal_size", "blur", "focus"):
        assert inspect.iscoroutinefunction(getattr(AppService, name, None)), name
    server_params = {name for name, _, _ in parameters(Server.__init__)}
    assert {"command", "host", "port", "title", "statics_path", "templates_path"} <= server_params
    server = Server("true", host="127.0.0.1", port=1, title="t", statics_path=glue.STATICS)
    for name in ("command", "host", "port", "title", "debug", "statics_path", "download_manager"):
        assert hasattr(server, name), f"Server no longer has {name}"
    assert isinstance(server.download_manager, DownloadManager)
    assert inspect.iscoroutinefunction(getattr(Server, "handle_download", None))


def test_the_page_assets_are_in_the_package() -> None:
    """If this fails, the browser page loads no terminal: textual-serve moved its xterm.js
    bundle or stylesheet, which our template links from its package folder."""
    for name in glue.STATIC_FILES:
        assert (glue.STATICS / name).is_file(), f"{name} is not in {glue.STATICS}"
    template = (ROOT / "rnn_tui/ui/serve/templates/app_index.html").read_text(encoding="utf-8")
    for name in glue.STATIC_FILES:
        assert f"static/{name}" in template


APP = r"""
import json, os, sys
out = sys.stdout.buffer
out.write(b"__GANGLION__\n")
report = {"sid": os.getsid(0), "pid": os.getpid(), "env": os.environ.get("GLUE_TEST"),
          "size": [os.environ["COLUMNS"], os.environ["ROWS"]]}
payload = json.dumps(report).encode()
out.write(b"D" + len(payload).to_bytes(4, "big") + payload)
out.flush()
while len(head := sys.stdin.buffer.read(5)) == 5:
    body = sys.stdin.buffer.read(int.from_bytes(head[1:], "big"))
    if head[:1] == b"M" and json.loads(body)["type"] == "quit":
        break
    out.write(b"D" + len(body).to_bytes(4, "big") + body)
    out.flush()
"""


def test_a_grouped_app_service_runs_an_app_in_its_own_group() -> None:
    """If this fails, the glue no longer starts a session's app as it must: in a process group
    of its own, with textual-serve's environment plus ours, reachable through its pipes."""

    async def scenario() -> list[bytes]:
        received: list[bytes] = []

        async def write_bytes(data: bytes) -> None:
            received.append(data)

        command = f"exec {shlex.quote(sys.executable)} -c {shlex.quote(APP)}"
        service = glue.GroupedAppService(
            command,
            environment={"GLUE_TEST": "yes"},
            write_bytes=write_bytes,
            write_str=_ignore,
            close=_ignore,
            download_manager=DownloadManager(),
        )
        assert service.process is None
        await service.start(90, 30)
        assert service.process is not None and service.process.pid > 0
        await asyncio.wait_for(_until(lambda: len(received) == 1), 10)
        assert await service.send_bytes(b"key")
        await asyncio.wait_for(_until(lambda: len(received) == 2), 10)
        await asyncio.wait_for(service.stop(), 10)
        assert await asyncio.wait_for(service.process.wait(), 10) == 0
        return received

    first, echoed = asyncio.run(scenario())
    report = json.loads(first)
    assert report["sid"] == report["pid"], "the app does not lead a session (group) of its own"
    assert report["env"] == "yes" and report["size"] == ["90", "30"]
    assert echoed == b"key"


async def _ignore(*_args: object) -> None:
    return None


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


# ----------------------------------------------------------------------------- argparse


def test_argparse_keeps_attributes_the_namespace_has() -> None:
    """If this fails, the command line cannot tell the options the user typed from defaults
    (a preset or a checkpoint would override what was typed): `cli._typed` relies on argparse
    leaving alone an attribute the namespace already has, as its documentation says."""
    from rnn_tui.cli import _typed, build_parser

    parser = argparse.ArgumentParser()
    parser.add_argument("--foo", type=int, default=42)
    assert parser.parse_args([], namespace=argparse.Namespace(foo=101)).foo == 101
    cli = build_parser()
    assert _typed([], cli) == set()
    assert _typed(["c.txt"], cli) == set()  # a positional argument is no option
    assert _typed(["c.txt", "--hidden", "8", "--lr=0.1", "--serve"], cli) == {
        "hidden",
        "lr",
        "serve",
    }
    assert _typed(["--allow-origin", "https://a", "--allow-origin=https://b"], cli) == {
        "allow_origin"
    }
    assert _typed(["--", "--hidden"], cli) == set()  # a file named --hidden


# ----------------------------------------------------------------------------- the rest


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_no_private_module_of_a_dependency_is_imported() -> None:
    """If this fails, a module imports a dependency's private module or name (a part whose name
    starts with "_", which a release may change without notice), or textual-serve outside the
    glue module that is pinned and tested for it: the message names the file and line."""
    bad = []
    for path in sorted((ROOT / "rnn_tui").rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        for line, name in _imports(path):
            top, *rest = name.split(".")
            if top == "rnn_tui" or top == "__future__":
                continue
            if any(part.startswith("_") and part != "__version__" for part in rest):
                bad.append(f"{where}:{line} imports {name}")
            if top == "textual_serve" and where != GLUE:
                bad.append(f"{where}:{line} imports {name}: only {GLUE} may")
    assert not bad, "\n".join(bad)


def test_plotext_is_used_through_its_public_names_only() -> None:
    """If this fails, the loss chart reaches into plotext again (plotext._kernel, ._primitives,
    a figure's private parts), or plotext no longer offers what the chart uses."""
    import plotext

    source = (ROOT / "rnn_tui/ui/widgets/loss_chart.py").read_text(encoding="utf-8")
    assert not re.search(r"plotext\._|plt\._|fig\._", source)
    for name in ("figure", "terminal", "marker", "pixel", "colorize"):
        assert hasattr(plotext, name), f"plotext.{name} is gone"
    for name in ("clear", "theme", "plot_size", "signal", "draw", "ruler", "build"):
        assert callable(getattr(plotext.figure, name, None)), f"plotext.figure.{name} is gone"
    assert callable(getattr(plotext.terminal, "limit", None)), "plotext.terminal.limit is gone"
