"""How `register` wires kopf: the watch handlers run in the event loop.

kopf runs sync handlers in worker threads, where the scheduler's timers cannot be set ("no
running event loop"): every event was dropped until the periodic resync. Found by the
end-to-end tests, which also cover the login handler `run` adds (kopf gives a plain
`OperatorRegistry` none, so without it the controller stopped at once).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import kopf
import pytest

from controller.kube.operator import WATCHED, register


def test_watch_handlers_run_in_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Caught at kopf's public decorator, not read from the registry's private tables.
    handlers: list[Callable[..., Any]] = []

    def event(*_: Any, **__: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            handlers.append(fn)
            return fn

        return decorate

    monkeypatch.setattr(kopf.on, "event", event)
    register(kopf.OperatorRegistry())
    assert len(handlers) == len(WATCHED)
    assert all(inspect.iscoroutinefunction(fn) for fn in handlers)
