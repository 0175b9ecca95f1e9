"""The AWS proxy with a log of when each call arrived: for measuring "when did AWS hear it".

The benchmarks time target changes to the first Register/DeregisterTargets call and wait for
AWS traffic to stop; the HA test checks that a deposed leader's last mutating call came
before the new leader's first. `calls_since` and `last_call_at` may be called from any
thread: they copy the log (appended on the proxy's loop) under the GIL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.awsproxy.identify import Call, identify, is_mutating
from sandbox.awsproxy.runner import AwsProxyThread
from sandbox.awsproxy.server import AwsProxy


@dataclass(frozen=True)
class TimedCall:
    at: float  # time.monotonic() when the request arrived
    service: str
    operation: str


class TimedProxy(AwsProxy):
    """`AwsProxy` that also logs when each call arrived (on the proxy's loop; read the log
    from other threads only through `calls_since`, which copies under the GIL)."""

    def __init__(self, upstream_url: str, **kwargs: Any) -> None:
        super().__init__(upstream_url, **kwargs)
        self.log: list[TimedCall] = []

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        call: Call = identify(request.method, request.path, request.query_string, headers, body)
        self.log.append(TimedCall(time.monotonic(), call.service, call.operation))
        return await super()._proxy(request)


class TimedProxyThread(AwsProxyThread):
    def __init__(self, upstream_url: str, **kwargs: Any) -> None:
        super().__init__(upstream_url, **kwargs)
        self.proxy: TimedProxy = TimedProxy(upstream_url, **kwargs)

    def calls_since(self, since: float) -> list[TimedCall]:
        return [c for c in list(self.proxy.log) if c.at >= since]

    def last_call_at(self) -> float:
        log = self.proxy.log
        return log[-1].at if log else 0.0

    def mutating_since(self, since: float = 0.0) -> list[TimedCall]:
        return [c for c in self.calls_since(since) if is_mutating(c.operation)]
