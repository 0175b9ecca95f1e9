"""A tripwire in front of moto: forwards AWS requests until one is the chosen operation (or,
with no operation named, any mutating call), and then runs a callback (the crash tests kill
the controller): instead of forwarding that request, or, with `after=True`, once moto has
carried it out and before the reply is relayed (the caller never learns it happened).

This makes "killed mid-reconcile" exact: the controller dies at a known point (say, just
before CreateListener, with its security groups, target group and load balancer made),
whatever the machine's speed. Requests are named as the AWS proxy names them.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.awsproxy import Call, identify, is_mutating

HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "host", "keep-alive"}


class Tripwire:
    def __init__(
        self,
        upstream: str,
        action: str | None,
        on_trip: Callable[[], None],
        *,
        after: bool = False,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.action = action
        self.after = after
        self.on_trip = on_trip
        self.tripped_by: Call | None = None
        self.tripped_body = b""  # the request that tripped it, for failure messages
        self.tripped = threading.Event()
        self.seen: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Tripwire:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        wire = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = identify(self.command, path, query, headers, body)
                wire.seen.append(call.operation)
                trips = not wire.tripped.is_set() and (
                    call.operation == wire.action
                    if wire.action is not None
                    else is_mutating(call.operation)
                )
                if trips:
                    wire.tripped.set()
                    wire.tripped_by = call
                    wire.tripped_body = body
                    if wire.after:
                        self._forward(body)
                    wire.on_trip()
                    self.close_connection = True
                    return
                status, headers_out, payload = self._forward(body)
                self.send_response(status)
                for key, value in headers_out.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes) -> tuple[int, Any, bytes]:
                # http.client, not urllib: urllib adds a form Content-Type to a body that has
                # none (Route 53's XML), and moto then answers 404.
                url = urllib.parse.urlsplit(wire.upstream)
                connection = http.client.HTTPConnection(url.netloc, timeout=30)
                try:
                    connection.request(
                        self.command,
                        self.path,
                        body=body if self.command != "GET" else None,
                        headers={k: v for k, v in self.headers.items()
                                 if k.lower() not in HOP_BY_HOP},
                    )  # fmt: skip
                    response = connection.getresponse()
                    return response.status, response.headers, response.read()
                finally:
                    connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 (http.server's names)

        return Handler
