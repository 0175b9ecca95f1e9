"""The proxy itself: an aiohttp server on loopback that forwards AWS API calls to moto.

Each request is named (service, operation), counted, checked against the account's token
buckets, possibly hit by an injected fault, delayed by the simulated AWS latency and then
forwarded unchanged (method, raw path and query, headers, body) to moto, whose reply is
streamed back. The controller needs no change: point ``AWS_ENDPOINT_URL`` at ``proxy.url``.

A small JSON control API lives on the same port under ``/__proxy/`` (no AWS API uses that
path), so a benchmark in another process can read and reset counts and add faults:

- ``GET /__proxy/stats``: per-operation counts, totals and bucket levels (``ProxyStats``);
- ``GET /__proxy/journal?since=N``: the calls after sequence number N, in order
  (``JournalEntry``: when, what, the answer's status, a mutating query call's parameters);
- ``POST /__proxy/reset``: zero the counts; body ``{"buckets": true}`` also refills the
  buckets, ``{"faults": true}`` also clears the fault rules;
- ``GET|POST|DELETE /__proxy/faults``: list, add (a ``FaultRule`` as JSON), clear;
- ``GET|PUT /__proxy/settings``: ``{"latency_scale": float, "throttling": bool}``.

All state lives on the proxy's event loop; the methods below must be called from it (use
``AwsProxyThread`` from synchronous code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import time
import uuid
from typing import Any, TypeVar

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from multidict import CIMultiDict
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.awsproxy.buckets import BucketSet, Clock
from sandbox.awsproxy.errors import ErrorKind, ErrorReply, error_reply
from sandbox.awsproxy.faults import FaultInjector, FaultRule
from sandbox.awsproxy.identify import Call, identify
from sandbox.awsproxy.journal import Journal, JournalEntry
from sandbox.awsproxy.profiles import (
    DEFAULT_BUCKETS,
    DEFAULT_LATENCY,
    BucketProfile,
    LatencyProfile,
)
from sandbox.awsproxy.stats import ProxyStats, StatsRecorder

CONTROL_PREFIX = "/__proxy"
_M = TypeVar("_M", bound=BaseModel)

# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business, never forwarded; the body
# length is recomputed by aiohttp on each leg.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_MAX_BODY = 64 * 1024 * 1024
_CHUNK = 64 * 1024


class ProxySettings(BaseModel):
    """What the control API may change at run time."""

    model_config = ConfigDict(extra="forbid")

    latency_scale: float = Field(ge=0)
    throttling: bool


class ResetRequest(BaseModel):
    """Body of ``POST /__proxy/reset``; counts are always zeroed."""

    model_config = ConfigDict(extra="forbid")

    buckets: bool = False
    faults: bool = False


class AwsProxy:
    """The AWS-at-scale proxy in front of ``upstream_url`` (a moto server).

    ``latency_scale`` multiplies every simulated latency (0: none, for fast tests);
    ``throttle_latency_ms`` is how long a throttled call takes to be refused (AWS answers
    those fast). ``clock`` drives the token buckets (inject one to step time in tests);
    ``seed`` makes latencies, request ids and probabilistic faults reproducible.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: LatencyProfile | None = None,
        buckets: BucketProfile | None = None,
        latency_scale: float = 1.0,
        seed: int = 0,
        clock: Clock = time.monotonic,
        throttle_latency_ms: float = 5.0,
    ) -> None:
        if latency_scale < 0:
            raise ValueError(f"AwsProxy latency_scale: must be >= 0, got {latency_scale}")
        self.upstream_url = upstream_url.rstrip("/")
        self.host = host
        self.port = port
        self.latency = latency if latency is not None else DEFAULT_LATENCY
        self.buckets = buckets if buckets is not None else DEFAULT_BUCKETS
        self.latency_scale = latency_scale
        self.throttling = True
        self.throttle_latency_ms = throttle_latency_ms
        self._latency_rng = random.Random(seed)
        self._id_rng = random.Random(seed ^ 0x5EED)
        self._faults = FaultInjector(seed)
        self._bucket_set = BucketSet(clock)
        self._stats = StatsRecorder()
        self._journal = Journal()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` the proxy listens on (valid after ``start``)."""
        if self._runner is None:
            raise RuntimeError("AwsProxy.url: the proxy is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_get(f"{CONTROL_PREFIX}/stats", self._get_stats)
        app.router.add_get(f"{CONTROL_PREFIX}/journal", self._get_journal)
        app.router.add_post(f"{CONTROL_PREFIX}/reset", self._post_reset)
        app.router.add_get(f"{CONTROL_PREFIX}/faults", self._get_faults)
        app.router.add_post(f"{CONTROL_PREFIX}/faults", self._post_fault)
        app.router.add_delete(f"{CONTROL_PREFIX}/faults", self._delete_faults)
        app.router.add_get(f"{CONTROL_PREFIX}/settings", self._get_settings)
        app.router.add_put(f"{CONTROL_PREFIX}/settings", self._put_settings)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self._session = ClientSession(
            connector=TCPConnector(limit=64),
            auto_decompress=False,
            timeout=ClientTimeout(total=None),
        )
        # Held faults (timeouts) are cancelled on stop after this grace period.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = _bound_port(runner)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def stats(self) -> ProxyStats:
        """Counts so far, per (service, operation), with totals and bucket levels."""
        return self._stats.snapshot(self._bucket_set.levels())

    def reset_stats(self) -> None:
        self._stats.reset()

    def journal(self, since: int = 0) -> list[JournalEntry]:
        """The calls received after sequence number `since`, oldest first."""
        return self._journal.entries(since)

    def refill_buckets(self) -> None:
        """Start every token bucket full again (e.g. after seeding, before measuring)."""
        self._bucket_set.refill()

    def add_fault(self, rule: FaultRule) -> None:
        self._faults.add(rule)

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[FaultRule]:
        return self._faults.rules()

    # -- the proxy path -------------------------------------------------------------------

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = identify(request.method, request.path, request.query_string, headers, body)
        self._stats.call(call)
        arrived = time.time()
        status = 0
        try:
            reply = await self._answer(request, body, call)
            status = reply.status
            return reply
        finally:
            self._journal.record(call, body, status, at=arrived)

    async def _answer(self, request: web.Request, body: bytes, call: Call) -> web.StreamResponse:

        if self.throttling and not self._bucket_set.try_take(self.buckets.buckets_for(call)):
            self._stats.throttled(call)
            await asyncio.sleep(self.throttle_latency_ms * self.latency_scale / 1000)
            return self._error(call, ErrorKind.THROTTLING)

        fault = self._faults.pick(call)
        if fault is not None:
            self._stats.fault(call)
            if not fault.after_upstream:
                return await self._inject(request, call, fault)
        return await self._forward(request, body, call, fault)

    async def _forward(
        self, request: web.Request, body: bytes, call: Call, fault: FaultRule | None
    ) -> web.StreamResponse:
        assert self._session is not None
        forwarded = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
        )
        # AWS's latency and moto's own time overlap: the reply leaves at the later of the two.
        latency = asyncio.ensure_future(asyncio.sleep(self._latency_s(call)))
        try:
            async with self._session.request(
                request.method,
                self.upstream_url + request.raw_path,
                headers=forwarded,
                data=body or None,
                allow_redirects=False,
                skip_auto_headers=_NO_AUTO_HEADERS,
            ) as upstream:
                await latency
                if fault is not None:  # after_upstream: moto applied it, the client never knows
                    return await self._inject(request, call, fault)
                reply = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP:
                        reply.headers.add(key, value)
                if upstream.content_length is not None:
                    reply.content_length = upstream.content_length
                await reply.prepare(request)
                async for chunk in upstream.content.iter_chunked(_CHUNK):
                    await reply.write(chunk)
                await reply.write_eof()
                return reply
        except ClientError as exc:
            return web.Response(status=502, text=f"awsproxy: upstream {self.upstream_url}: {exc}")
        finally:
            latency.cancel()

    async def _inject(
        self, request: web.Request, call: Call, fault: FaultRule
    ) -> web.StreamResponse:
        if fault.action == "internal":
            return self._error(call, ErrorKind.INTERNAL)
        if fault.action == "unavailable":
            return self._error(call, ErrorKind.UNAVAILABLE)
        if fault.action == "timeout":
            await asyncio.sleep(fault.delay_s)
        _reset_connection(request)
        raise asyncio.CancelledError  # nothing more to say on this connection

    def _error(self, call: Call, kind: ErrorKind) -> web.Response:
        reply: ErrorReply = error_reply(call, kind, self._request_id())
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    def _latency_s(self, call: Call) -> float:
        if self.latency_scale == 0:
            return 0.0
        low, high = self.latency.range_ms(call)
        return self._latency_rng.uniform(low, high) * self.latency_scale / 1000

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    # -- the control API -------------------------------------------------------------------

    async def _get_stats(self, _: web.Request) -> web.Response:
        return web.json_response(self.stats().model_dump(mode="json"))

    async def _get_journal(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return web.json_response({"error": "since: not an integer"}, status=400)
        return web.json_response([e.model_dump(mode="json") for e in self.journal(since)])

    async def _post_reset(self, request: web.Request) -> web.Response:
        parsed = await _parse(request, ResetRequest, default={})
        if isinstance(parsed, web.Response):
            return parsed
        self.reset_stats()
        self._journal.clear()
        if parsed.buckets:
            self.refill_buckets()
        if parsed.faults:
            self.clear_faults()
        return web.json_response({"reset": parsed.model_dump()})

    async def _get_faults(self, _: web.Request) -> web.Response:
        return web.json_response([rule.model_dump(mode="json") for rule in self.faults()])

    async def _post_fault(self, request: web.Request) -> web.Response:
        parsed = await _parse(request, FaultRule)
        if isinstance(parsed, web.Response):
            return parsed
        self.add_fault(parsed)
        return web.json_response(parsed.model_dump(mode="json"), status=201)

    async def _delete_faults(self, _: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response([])

    async def _get_settings(self, _: web.Request) -> web.Response:
        return web.json_response(self._settings().model_dump())

    async def _put_settings(self, request: web.Request) -> web.Response:
        parsed = await _parse(request, ProxySettings, default=self._settings().model_dump())
        if isinstance(parsed, web.Response):
            return parsed
        self.latency_scale = parsed.latency_scale
        self.throttling = parsed.throttling
        return web.json_response(parsed.model_dump())

    def _settings(self) -> ProxySettings:
        return ProxySettings(latency_scale=self.latency_scale, throttling=self.throttling)


async def _parse(
    request: web.Request, model: type[_M], default: dict[str, Any] | None = None
) -> _M | web.Response:
    """The JSON body as ``model`` (merged over ``default``), or a 400 naming the bad field."""
    raw = await request.read()
    try:
        data = dict(default or {})
        if raw.strip():
            loaded = json.loads(raw)
            if not isinstance(loaded, dict):
                raise ValueError("body must be a JSON object")
            data.update(loaded)
        return model.model_validate(data)
    except (ValueError, ValidationError) as exc:
        return web.json_response(
            {"error": f"{request.method} {request.path}: {model.__name__}: {exc}"}, status=400
        )


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("AwsProxy: the server bound no TCP address")


def _reset_connection(request: web.Request) -> None:
    """Drop the client's connection with a TCP RST (SO_LINGER 0), as a reset peer does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
