"""The first-frame comparison of `bench app` launches the bare app and the app on equal terms."""

from __future__ import annotations

from rnn_tui.bench.app_runs import Launch, side_by_side


def test_side_by_side_rests_before_every_launch_and_takes_turns() -> None:
    """If this fails, one of the two is always launched right after the other's busy seconds,
    which on this machine starts it about a tenth sooner, and the frame ratio measures the
    order instead of the app."""
    events: list[str] = []

    def launcher(name: str):  # type: ignore[no-untyped-def]
        def launch() -> Launch:
            events.append(name)
            return Launch(frame_ms=float(len(events)))

        return launch

    bares, apps = side_by_side(
        3, 2.0, launcher("bare"), launcher("app"), sleep=lambda s: events.append(f"rest {s:g}")
    )
    assert events == [
        *("rest 2", "bare", "rest 2", "app"),
        *("rest 2", "app", "rest 2", "bare"),
        *("rest 2", "bare", "rest 2", "app"),
    ]
    assert [x.frame_ms for x in bares] == [2, 8, 10]  # each launch's own result, in order
    assert [x.frame_ms for x in apps] == [4, 6, 12]
