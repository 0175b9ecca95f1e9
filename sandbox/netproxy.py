"""A TCP proxy on loopback whose link can be cut, frozen or slowed: the network's bad days.

The reliability tests need the controller to lose the API server while the API server stays
up: a watch gap in which objects change (and etcd compacts, so the watch resumes with 410
Gone), a leader whose renewals are slow, a partition. Stopping kube-apiserver does not give
that: every client loses it at once, tests included. So the controller's kubeconfig points at
this proxy, which relays bytes (TLS passes through untouched; the serving certificate names
127.0.0.1, so any port of it verifies) and can be, at any moment:

- ``cut()``: every open connection is closed and new ones are closed on accept (a refused
  link: clients see errors at once);
- ``freeze()``: connections stay open but nothing is relayed either way, and new ones are
  accepted and never served (a partition: clients see timeouts);
- ``delay(seconds)``: every chunk waits that long before it is relayed, in order;
- ``heal()``: back to plain relaying (frozen bytes then flow; cut connections stay closed).

It runs on its own event loop in a daemon thread (`sandbox.loopthread.LoopThread`); its
methods may be called from any thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Literal

import yaml

from sandbox.loopthread import LoopThread

Mode = Literal["open", "cut", "frozen"]
_CHUNK = 64 * 1024
_START_TIMEOUT_S = 10.0


class TcpProxy:
    """Relays 127.0.0.1:<port> to ``upstream_host:upstream_port``; a context manager."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = LoopThread("netproxy")
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._mode: Mode = "open"
        self._delay = 0.0
        self._open = asyncio.Event()  # set while relaying is allowed (not frozen)
        self.port = 0
        self.connections = 0  # accepted so far

    @classmethod
    def to_url(cls, url: str) -> TcpProxy:
        """A proxy for the host and port of an ``https://host:port`` URL."""
        host, _, port = url.split("://", 1)[-1].rstrip("/").rpartition(":")
        return cls(host, int(port))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # Control, from any thread ------------------------------------------------------------

    def cut(self) -> None:
        self._call(self._cut)

    def freeze(self) -> None:
        self._call(lambda: self._set("frozen"))

    def delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"TcpProxy.delay: seconds must be >= 0, got {seconds}")
        self._call(lambda: setattr(self, "_delay", seconds))

    def heal(self) -> None:
        self._call(self._heal)

    @property
    def mode(self) -> Mode:
        return self._mode

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._loop.start()
        try:
            self.port = self._loop.call(self._serve(), timeout=_START_TIMEOUT_S)
        except BaseException:
            self._loop.stop()
            raise
        return self

    def stop(self) -> None:
        if not self._loop.running:
            return
        self._loop.call(self._shutdown(), timeout=10)
        self._loop.stop()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # On the loop -------------------------------------------------------------------------

    def _call(self, fn: Callable[[], object]) -> None:
        self._loop.call_sync(fn, timeout=10)

    def _set(self, mode: Mode) -> None:
        self._mode = mode
        if mode == "frozen":
            self._open.clear()
        else:
            self._open.set()

    def _heal(self) -> None:
        self._set("open")
        self._delay = 0.0

    def _cut(self) -> None:
        self._set("cut")
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self) -> int:
        """Listen on a free port of 127.0.0.1; returns the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._open.set()
        return int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        self._cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._mode == "cut":
            writer.transport.abort()
            return
        await self._open.wait()  # a frozen link accepts and then serves nothing
        if self.mode == "cut":  # cut while this one waited (the property defeats narrowing)
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay one direction until either side closes; a delay keeps chunks in order."""
        try:
            while True:
                chunk = await reader.read(_CHUNK)
                if not chunk:
                    break
                arrived = time.monotonic()
                await self._open.wait()
                wait = arrived + self._delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if writer.transport.is_closing():
                    break
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


def kubeconfig_via(source: Path, proxy: TcpProxy, target: Path) -> Path:
    """A copy of the kubeconfig at ``source`` whose server is ``proxy``; written at ``target``."""
    document = yaml.safe_load(source.read_text())
    for cluster in document.get("clusters") or ():
        cluster["cluster"]["server"] = proxy.url
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    target.chmod(0o600)
    return target
