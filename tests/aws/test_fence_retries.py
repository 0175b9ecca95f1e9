"""A replica that stops being the leader while botocore retries a call sends no more attempts.

Found by the soak (`sandbox.soak`, seed 20261212, two replicas, 10% AWS faults, once in a
few runs): a mutating call that reached the proxy from the SIGSTOPped old leader after the
new leader's first write. The write guard was asked once per API call (`before-call`), but
botocore retries a call up to 10 times with backoff (and the client-side rate limit may make
an attempt wait): an attempt sent after the Lease had lapsed, during a retry backoff or a
stop, went out unguarded. The guard is now also asked before every attempt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from controller.aws.clients import UNLIMITED, AwsClients, WritesFencedError

FAILURE = (
    b'<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
    b"<Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>try again</Message>"
    b"</Error><RequestId>r-1</RequestId></ErrorResponse>"
)
SUCCESS = (
    b'<DeleteLoadBalancerResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/'
    b'2015-12-01/"><DeleteLoadBalancerResult/><ResponseMetadata><RequestId>r-2</RequestId>'
    b"</ResponseMetadata></DeleteLoadBalancerResponse>"
)


class FlakyElb:
    """ELBv2 on loopback: the first request fails with a 500, and while it is answered the
    replica loses the lead (as a Lease lapsing during the call would)."""

    def __init__(self) -> None:
        self.requests = 0
        self.leading = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                first = server.requests == 1
                if first:
                    server.leading = False
                body = FAILURE if first else SUCCESS
                self.send_response(500 if first else 200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyElb]:
    for key, value in (("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x")):
        monkeypatch.setenv(key, value)
    server = FlakyElb()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_no_retry_attempt_is_sent_once_the_replica_may_not_write(flaky: FlakyElb) -> None:
    clients = AwsClients("us-east-1", endpoint_url=flaky.url, rate_limits=UNLIMITED)
    clients.write_guard = lambda: flaky.leading
    with pytest.raises(WritesFencedError, match="DeleteLoadBalancer refused"):
        clients.elbv2.delete_load_balancer(LoadBalancerArn="arn:aws:elasticloadbalancing:x")
    assert flaky.requests == 1, "a retry attempt went out after the lead was lost"


def test_retries_go_on_while_the_replica_may_write(flaky: FlakyElb) -> None:
    clients = AwsClients("us-east-1", endpoint_url=flaky.url, rate_limits=UNLIMITED)
    clients.write_guard = lambda: True
    clients.elbv2.delete_load_balancer(LoadBalancerArn="arn:aws:elasticloadbalancing:x")
    assert flaky.requests == 2
