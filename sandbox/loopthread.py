"""An asyncio event loop of its own in a daemon thread, for servers driven from sync code.

The AWS proxy (`sandbox.awsproxy.runner.AwsProxyThread`) and the TCP proxy
(`sandbox.netproxy.TcpProxy`) are asyncio servers, while the tests, the benchmarks and the
soak that use them are ordinary threads. Each server gets a `LoopThread`: `start()` runs a
fresh loop in a daemon thread (so a forgotten one never holds the interpreter open), `call()`
runs a coroutine on it and waits for its result, `call_sync()` does the same for a plain
function (so a server's state is only ever touched on its own loop), and `stop()` ends the
loop, closes it and joins the thread. Both may be called from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
START_TIMEOUT_S = 10.0


class LoopThread:
    """One event loop running in one daemon thread named `name`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = START_TIMEOUT_S) -> LoopThread:
        """Start the loop's thread; returns once the loop runs."""
        if self._thread is not None:
            raise RuntimeError(f"LoopThread {self.name}: already started")
        loop = asyncio.new_event_loop()
        started: Future[None] = Future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop, started), name=self.name, daemon=True
        )
        self._thread.start()
        started.result(timeout=timeout)
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait (at most `timeout` seconds) for its result."""
        if self._loop is None or not self.running:
            coro.close()  # never awaited: say so quietly rather than warn
            raise RuntimeError(f"LoopThread {self.name}: not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call_sync(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run the plain function `fn` on the loop's thread and return its result."""

        async def run() -> T:
            return fn()

        return self.call(run(), timeout)

    def stop(self) -> None:
        """Stop the loop and join its thread (a no-op if it is not running)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, started: Future[None]) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set_result, None)
        try:
            loop.run_forever()
        finally:
            loop.close()
