"""Waiting until something holds: the one poll loop of the sandbox, the tests and the benchmarks.

Everything these drive is asynchronous from where they stand: a Node becomes Ready, the
controller puts a hostname on an Ingress, AWS goes quiet, a process starts answering. Each
such wait is `wait_until(check, what, timeout, interval)`: call `check` every `interval`
seconds until it returns something truthy, and return that value; once `timeout` seconds
have passed, raise `WaitTimeoutError` naming `what`, with the last value `check` returned or the
last exception it raised (only those listed in `retry_on` are retried; any other one ends the
wait at once). `alive`, if given, is called before each check and raises to give up early:
a process that died will not make the condition hold later.

`WaitTimeoutError` is both a `TimeoutError` (what the sandbox and the soak always raised) and an
`AssertionError` (what a test's wait failing is: pytest reports it as a failed assertion).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
DEFAULT_INTERVAL = 0.2
_SHOWN_CHARS = 300  # of the last value in a timeout's message


class WaitTimeoutError(TimeoutError, AssertionError):
    """A condition that did not hold in time; the message names it and what was last seen."""


def wait_until(
    check: Callable[[], T | Literal[False] | None],
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    *,
    alive: Callable[[], object] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `check` until it returns something truthy and return that; `WaitTimeoutError` after
    `timeout` seconds. Exceptions of `retry_on` types count as "not yet"; `alive()` runs
    before each check and may raise to stop waiting."""
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        if alive is not None:
            alive()
        try:
            result = check()
        except retry_on as raised:
            error = raised
        else:
            if result:
                return result
            last, error = result, None
        if time.monotonic() > deadline:
            raise WaitTimeoutError(_message(what, timeout, last, error))
        time.sleep(interval)


def _message(what: str, timeout: float, last: object, error: BaseException | None) -> str:
    text = f"timed out after {timeout:.0f}s waiting for {what}"
    if error is not None:
        return f"{text} (last error: {type(error).__name__}: {error})"
    shown = repr(last)
    if len(shown) > _SHOWN_CHARS:
        shown = shown[:_SHOWN_CHARS] + "..."
    return f"{text} (last value: {shown})"
