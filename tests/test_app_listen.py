"""The app with --listen: what its source yields is published, and viewers with control reach
its trainer through it (Textual pilot, a real trainer process, real sockets)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import TINY, wait_for

from rnn_tui.engine.config import Config
from rnn_tui.run.address import ListenPlan
from rnn_tui.run.listen import Listener, PublishingSource, welcome_for
from rnn_tui.run.protocol import Pause, Reply, SetHyper, Snapshot
from rnn_tui.run.remote import RemoteSource
from rnn_tui.run.spec import RunSpec, check_spec
from rnn_tui.ui.app import make_app

pytestmark = pytest.mark.functional

SMALL = Config(hidden=32, seq_len=16, batch=8, eval_every=50)
TOKEN = "app-listen-token"


def test_the_apps_run_is_published_and_a_controlling_viewer_reaches_its_trainer() -> None:
    """If this fails, `rnn-tui PATH --listen` shows nothing to attached viewers, a viewer with
    --control cannot change the app's run, or the app shows answers meant for a viewer."""
    spec = RunSpec(str(TINY), (SMALL,))
    vocab = check_spec(spec)
    listener = Listener(ListenPlan("127.0.0.1", 0, TOKEN, False), welcome_for(spec, vocab.chars))
    _, port = listener.start()
    to_app: list[Reply] = []  # every reply the app's source handed to the app

    class Watched(PublishingSource):
        def poll(self) -> tuple[Snapshot, ...] | None:
            snaps = super().poll()
            to_app.extend(snaps[0].replies if snaps else ())
            return snaps

    app = make_app(spec, vocab=vocab, wrap=lambda source: Watched(source, listener))
    shown: list[Snapshot] = []

    def viewer_step(viewer: RemoteSource) -> int:
        if (snaps := viewer.poll()) is not None:
            shown.append(snaps[0])
        r = shown[-1].record if shown else None
        return r.step if r is not None else -1

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            control = await asyncio.to_thread(RemoteSource.connect, "127.0.0.1", port, TOKEN, True)
            watcher = await asyncio.to_thread(RemoteSource.connect, "127.0.0.1", port, TOKEN)
            try:
                await wait_for(pilot, lambda: viewer_step(control) > 0, what="published steps")
                first = viewer_step(control)
                await wait_for(pilot, lambda: viewer_step(control) > first, what="more steps")
                # A read-only viewer is refused; the app's run goes on.
                reply = watcher.request(Pause(), timeout=1.0)
                assert reply is not None and not reply.ok and reply.text.startswith("read-only")
                # The controlling viewer sets the learning rate of the app's trainer.
                asked = control.send(SetHyper(lr=0.0123))
                await wait_for(
                    pilot,
                    lambda: app.snapshot is not None and abs(app.snapshot.lr - 0.0123) < 1e-12,
                    what="the app's trainer at the new learning rate",
                )
                replies: list[Reply] = []

                def answered() -> bool:
                    snaps = control.poll()
                    replies.extend(snaps[0].replies if snaps else ())
                    return any(r.id == asked for r in replies)

                await wait_for(pilot, answered, what="the reply to the viewer")
                assert [r.ok for r in replies if r.id == asked] == [True]
                assert not [r for r in to_app if "0.0123" in r.text], (
                    "a viewer's reply reached the app"
                )
                assert app.state == "training"
            finally:
                control.stop()
                watcher.stop()

    try:
        asyncio.run(main())
    finally:
        listener.close("the test ended")
