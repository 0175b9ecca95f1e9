"""Running the proxy from synchronous code: in a background thread, and together with moto.

Benchmarks and sync tests drive boto3 and the controller from ordinary threads; the proxy
needs an asyncio loop. ``AwsProxyThread`` gives it one of its own in a daemon thread
(``sandbox.loopthread.LoopThread``) and marshals every call onto that loop, so the proxy's
state is only ever touched there.
``start_moto_with_proxy`` is the usual pairing: an in-process moto server on loopback and the
proxy in front of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from moto.server import ThreadedMotoServer

from sandbox.awsproxy.faults import FaultRule
from sandbox.awsproxy.journal import JournalEntry
from sandbox.awsproxy.server import AwsProxy
from sandbox.awsproxy.stats import ProxyStats
from sandbox.loopthread import LoopThread

_T = TypeVar("_T")
_START_TIMEOUT_S = 10.0


class AwsProxyThread:
    """An ``AwsProxy`` on its own event loop in a background thread; a context manager.

    Takes ``AwsProxy``'s arguments. Methods mirror ``AwsProxy`` and are safe to call from any
    thread.
    """

    def __init__(self, upstream_url: str, **kwargs: Any) -> None:
        self.proxy = AwsProxy(upstream_url, **kwargs)
        self._loop = LoopThread("awsproxy")

    @property
    def url(self) -> str:
        return self.proxy.url

    def start(self) -> None:
        self._loop.start()
        try:
            self._loop.call(self.proxy.start(), timeout=_START_TIMEOUT_S)
        except BaseException:
            self._loop.stop()
            raise

    def stop(self) -> None:
        if not self._loop.running:
            return
        self._loop.call(self.proxy.stop())
        self._loop.stop()

    def __enter__(self) -> AwsProxyThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stats(self) -> ProxyStats:
        return self._on_loop(self.proxy.stats)

    def reset_stats(self) -> None:
        self._on_loop(self.proxy.reset_stats)

    def journal(self, since: int = 0) -> list[JournalEntry]:
        """The calls received after sequence number `since`, oldest first."""
        return self._on_loop(lambda: self.proxy.journal(since))

    def refill_buckets(self) -> None:
        self._on_loop(self.proxy.refill_buckets)

    def add_fault(self, rule: FaultRule) -> None:
        self._on_loop(lambda: self.proxy.add_fault(rule))

    def clear_faults(self) -> None:
        self._on_loop(self.proxy.clear_faults)

    def set_latency_scale(self, scale: float) -> None:
        if scale < 0:
            raise ValueError(f"AwsProxyThread.set_latency_scale: must be >= 0, got {scale}")
        self._on_loop(lambda: setattr(self.proxy, "latency_scale", scale))

    def set_throttling(self, enabled: bool) -> None:
        self._on_loop(lambda: setattr(self.proxy, "throttling", enabled))

    def _on_loop(self, fn: Callable[[], _T]) -> _T:
        return self._loop.call_sync(fn)


@contextmanager
def start_moto_with_proxy(**proxy_kwargs: Any) -> Iterator[tuple[str, AwsProxyThread]]:
    """A moto server on 127.0.0.1 and an ``AwsProxyThread`` in front of it.

    Yields ``(moto_url, proxy)``: seed fixtures straight into ``moto_url`` (no latency, no
    throttling), point the controller at ``proxy.url``.
    """
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
        with AwsProxyThread(moto_url, **proxy_kwargs) as proxy:
            yield moto_url, proxy
    finally:
        moto.stop()
