"""How `register` wires kopf: the watch handlers run in the event loop.

kopf runs sync handlers in worker threads, where the scheduler's timers cannot be set ("no
running event loop"): every event was dropped until the periodic resync. Found by the
end-to-end tests, which also cover the login handler `run` adds (kopf gives a plain
`OperatorRegistry` none, so without it the controller stopped at once).
"""

from __future__ import annotations

import inspect

import kopf

from controller.operator import WATCHED, register


def test_watch_handlers_run_in_the_event_loop() -> None:
    registry = kopf.OperatorRegistry()
    register(registry)
    handlers = registry._watching.get_all_handlers()
    assert len(handlers) == len(WATCHED)
    assert all(inspect.iscoroutinefunction(h.fn) for h in handlers)
