"""A tripwire in front of moto: forwards AWS requests until one names a chosen operation,
and then, instead of forwarding it, runs a callback (the crash test kills the controller).

This makes "killed mid-reconcile" exact: the controller dies at a known point (say, just
before CreateListener, with its security groups, target group and load balancer made),
whatever the machine's speed. Query-protocol services (elbv2, ec2) put `Action=<name>` in
the form body, which is what the trigger matches.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "host", "keep-alive"}


class Tripwire:
    def __init__(self, upstream: str, action: str, on_trip: Callable[[], None]) -> None:
        self.upstream = upstream.rstrip("/")
        self.trigger = f"Action={action}&".encode()
        self.on_trip = on_trip
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
                if not wire.tripped.is_set() and wire.trigger in body + b"&":
                    wire.tripped.set()
                    wire.on_trip()
                    self.close_connection = True
                    return
                request = urllib.request.Request(
                    wire.upstream + self.path,
                    data=body if self.command != "GET" else None,
                    method=self.command,
                    headers={k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, headers, payload = (
                            response.status,
                            response.headers,
                            response.read(),
                        )
                except urllib.error.HTTPError as error:
                    status, headers, payload = error.code, error.headers, error.read()
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 (http.server's names)

        return Handler
