"""One boto3 session and its clients, with client-side rate limits and the call counter.

Every AWS call the controller makes goes through a client made here, so botocore event hooks
see all of them:
- `before-send` takes a token from the (service, bucket) token bucket before each HTTP
  attempt (retries included), keeping us at or below AWS's documented per-account buckets so
  one busy cluster does not throttle every other tool in the account. botocore's `adaptive`
  retry mode handles the throttling that still happens.
- `before-call` and `before-send` ask `write_guard` (the leader elector's `may_write`) before
  each mutating call and each of its attempts, so a replica that lost the lead sends
  nothing more, retries included.
- `after-call` / `after-call-error` count each API call by service, operation and error code
  in a `CallCounter`, which tests, metrics and benchmarks read, and log it (with its
  parameters, never credentials) when debug is on.

kopf runs sync handlers in threads, so the buckets and the counter are thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import boto3
from botocore.config import Config

from .models import slim_session

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_shield import ShieldClient
    from mypy_boto3_waf_regional import WAFRegionalClient
    from mypy_boto3_wafv2 import WAFV2Client

log = logging.getLogger(__name__)

READ_PREFIXES = ("Describe", "List", "Get")

# Our short service names -> boto3 service names.
SERVICES = {
    "elbv2": "elbv2",
    "ec2": "ec2",
    "acm": "acm",
    "route53": "route53",
    "tagging": "resourcegroupstaggingapi",
    "wafv2": "wafv2",
    "wafregional": "waf-regional",
    "shield": "shield",
}
# The clients every controller run calls (WAF and Shield only with their annotations).
EVERY_RUN = ("elbv2", "ec2", "tagging", "route53", "acm")
# Shield's API has one endpoint, in us-east-1, whatever the region of the protected resource.
GLOBAL_REGIONS = {"shield": "us-east-1"}


def is_mutating(operation: str) -> bool:
    """Describe/List/Get calls only read; everything else changes something."""
    return not operation.startswith(READ_PREFIXES)


class CallKey(NamedTuple):
    service: str  # our short name: elbv2, ec2, acm, route53, tagging
    operation: str  # the API operation, e.g. CreateLoadBalancer
    error_code: str  # "" for a call that succeeded


@dataclass(frozen=True)
class CallRecord:
    """One finished API call, as handed to subscribers."""

    key: CallKey
    params: Mapping[str, Any]
    # Seconds from the request being built to the response being parsed: retries and
    # client-side rate-limit waits included, as the caller experiences it.
    duration: float = 0.0


class CallCounter:
    """Counts every AWS API call by (service, operation, error code); thread-safe.

    Subscribers (metrics, tests) are called after each call, in the calling thread; an
    exception a subscriber raises propagates out of the boto3 call (tests use that to
    simulate a crash right after a call reached AWS).
    """

    def __init__(self, keep: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[CallKey] = Counter()
        # The recent calls, for tests and debugging; bounded, or a long-running controller
        # would keep every call's parameters forever (the benchmark saw this as RSS growth).
        self._log: deque[CallRecord] = deque(maxlen=keep)
        self._total = 0
        self._subscribers: list[Callable[[CallRecord], None]] = []

    def record(self, key: CallKey, params: Mapping[str, Any], duration: float = 0.0) -> None:
        record = CallRecord(key, params, duration)
        with self._lock:
            self._counts[key] += 1
            self._log.append(record)
            self._total += 1
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(record)

    def subscribe(self, callback: Callable[[CallRecord], None]) -> Callable[[], None]:
        """Call `callback` after every API call; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def snapshot(self) -> Counter[CallKey]:
        """A copy of the counts so far."""
        with self._lock:
            return Counter(self._counts)

    def calls(self, since: int = 0) -> list[CallRecord]:
        """The calls in order from position `since` (see `position`), as far as still kept."""
        with self._lock:
            dropped = self._total - len(self._log)
            return list(self._log)[max(0, since - dropped) :]

    def position(self) -> int:
        """How many calls so far: a mark to pass to `calls`/`mutating` later."""
        with self._lock:
            return self._total

    def mutating(self, since: int = 0) -> list[str]:
        """The mutating operations called from position `since`, in order, errors included."""
        return [r.key.operation for r in self.calls(since) if is_mutating(r.key.operation)]


class RateLimit(NamedTuple):
    rate: float  # tokens per second
    burst: float  # bucket size


# At or below AWS's documented buckets. ELBv2: describe 10/s burst 40 (elb-api-throttling);
# mutating calls share a smaller budget, and target registration is the usual hot spot (LBC
# uses 4/s burst 20). Route 53: 5 requests/s per account. EC2 and ACM: well under their
# documented non-mutating (20/s+) and mutating buckets.
DEFAULT_RATE_LIMITS: Mapping[tuple[str, str], RateLimit] = {
    ("elbv2", "describe"): RateLimit(10, 40),
    ("elbv2", "mutate"): RateLimit(5, 20),
    ("elbv2", "registration"): RateLimit(4, 20),
    ("ec2", "describe"): RateLimit(20, 50),
    ("ec2", "mutate"): RateLimit(5, 20),
    ("acm", "describe"): RateLimit(5, 10),
    ("acm", "mutate"): RateLimit(2, 5),
    ("route53", "describe"): RateLimit(5, 5),
    ("route53", "mutate"): RateLimit(5, 5),
    ("tagging", "describe"): RateLimit(5, 10),
    ("tagging", "mutate"): RateLimit(2, 5),
    # WAF and Shield: LBC's own client-side limits (Associate/Disassociate 0.5/s, Get/List
    # 1/s), a little looser on reads since only stacks with the annotations call them.
    ("wafv2", "describe"): RateLimit(2, 5),
    ("wafv2", "mutate"): RateLimit(0.5, 2),
    ("wafregional", "describe"): RateLimit(2, 5),
    ("wafregional", "mutate"): RateLimit(0.5, 2),
    ("shield", "describe"): RateLimit(2, 5),
    ("shield", "mutate"): RateLimit(0.5, 2),
}

# For tests and local sandboxes, where moto needs no protection.
UNLIMITED: Mapping[tuple[str, str], RateLimit] = {
    key: RateLimit(1e9, 1e9) for key in DEFAULT_RATE_LIMITS
}


def bucket_of(service: str, operation: str) -> str:
    """Which token bucket an operation draws from."""
    if service == "elbv2" and operation in ("RegisterTargets", "DeregisterTargets"):
        return "registration"
    return "mutate" if is_mutating(operation) else "describe"


class TokenBucket:
    """A classic token bucket; `take` blocks until a token is free. Thread-safe."""

    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = limit.rate
        self._burst = limit.burst
        self._tokens = limit.burst
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take one token, waiting if none is free; returns how long it waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1
            # A negative balance is a debt: later callers queue behind this one.
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self._rate
        if wait > 0:
            self._sleep(wait)
        return wait


_SECRET_MARKERS = ("secret", "password", "privatekey", "credential", "sessiontoken")


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of call parameters safe to log: anything secret-looking is masked, at any depth."""
    return {
        key: "***" if any(m in key.lower() for m in _SECRET_MARKERS) else _redact_value(value)
        for key, value in params.items()
    }


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


class WritesFencedError(Exception):
    """A mutating AWS call refused before it was sent: this replica may not write now."""


class AwsClients:
    """boto3 clients sharing one session, limits and counter, made on first use or by
    `prepare`.

    `endpoint_url` (AWS_ENDPOINT_URL) points every client at moto or LocalStack.
    """

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        debug: bool = False,
        *,
        rate_limits: Mapping[tuple[str, str], RateLimit] = DEFAULT_RATE_LIMITS,
        counter: CallCounter | None = None,
        session: boto3.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.debug = debug
        self.counter = counter or CallCounter()
        # The slim models (`aws.models`) know only the operations called here: 15 MiB less.
        self._session = session or slim_session(region)
        self._config = Config(region_name=region, retries={"mode": "adaptive", "max_attempts": 10})
        # `clock` and `sleep` pace the rate limits (tests pass a clock that only sleeps move).
        self._buckets = {
            key: TokenBucket(limit, clock=clock, sleep=sleep) for key, limit in rate_limits.items()
        }
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Tag keys another tool manages on our resources (LBC's `--external-managed-tags`):
        # the tag syncs never set, change or remove them.
        self.external_tags: frozenset[str] = frozenset()
        # Asked before every mutating call and each of its attempts; False refuses it (a
        # leader that could not renew its Lease in time must not write while another replica
        # may be taking over).
        self.write_guard: Callable[[], bool] | None = None

    @property
    def elbv2(self) -> ElasticLoadBalancingv2Client:
        client: ElasticLoadBalancingv2Client = self._client("elbv2")
        return client

    @property
    def ec2(self) -> EC2Client:
        client: EC2Client = self._client("ec2")
        return client

    @property
    def acm(self) -> ACMClient:
        client: ACMClient = self._client("acm")
        return client

    @property
    def route53(self) -> Route53Client:
        client: Route53Client = self._client("route53")
        return client

    @property
    def tagging(self) -> ResourceGroupsTaggingAPIClient:
        client: ResourceGroupsTaggingAPIClient = self._client("tagging")
        return client

    @property
    def wafv2(self) -> WAFV2Client:
        client: WAFV2Client = self._client("wafv2")
        return client

    @property
    def wafregional(self) -> WAFRegionalClient:
        client: WAFRegionalClient = self._client("wafregional")
        return client

    @property
    def shield(self) -> ShieldClient:
        client: ShieldClient = self._client("shield")
        return client

    def prepare(self, services: Iterable[str] = EVERY_RUN) -> None:
        """Make the clients of `services` now rather than on their first call."""
        for service in services:
            self._client(service)

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                # boto3 sessions are not thread-safe; clients are, once made.
                client = self._session.client(
                    SERVICES[service],  # type: ignore[call-overload]
                    endpoint_url=self.endpoint_url,
                    config=self._config.merge(
                        Config(region_name=GLOBAL_REGIONS.get(service, self.region))
                    ),
                )
                self._hook(client, service)
                self._clients[service] = client
            return client

    def _hook(self, client: Any, service: str) -> None:
        events = client.meta.events

        def throttle(event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            bucket = self._buckets.get((service, bucket_of(service, operation)))
            if bucket is not None:
                waited = bucket.take()
                if waited > 0.5:
                    log.debug("rate limit: waited %.2fs for %s %s", waited, service, operation)

        def count(event_name: str, context: Any = None, **kwargs: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            code = _error_code(kwargs.get("parsed"), kwargs.get("exception"))
            params = (context or {}).get("aws_params", {})
            started = (context or {}).get("aws_started")
            duration = time.monotonic() - started if started is not None else 0.0
            if self.debug:
                log.info(
                    "aws call %s.%s%s %s",
                    service,
                    operation,
                    f" -> {code}" if code else "",
                    redact(params),
                )
            self.counter.record(CallKey(service, operation, code), params, duration)

        def remember_params(params: Any, context: Any, **_: Any) -> None:
            context["aws_params"] = dict(params)
            context["aws_started"] = time.monotonic()

        def fence(event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            guard = self.write_guard
            if guard is not None and is_mutating(operation) and not guard():
                raise WritesFencedError(f"{service} {operation} refused: not the leader now")

        # Once per call, before anything is built, and again before every attempt, after its
        # rate-limit wait: botocore retries a call up to 10 times with backoff, and an attempt
        # that waited past the renew deadline (or in a stopped process) must not go out.
        events.register("before-call", fence)
        events.register("before-send", throttle)
        events.register("before-send", fence)
        events.register("before-parameter-build", remember_params)
        events.register("after-call", count)
        events.register("after-call-error", count)


def _error_code(parsed: Any, exception: Any) -> str:
    """The AWS error code of a finished call ("" for success), or the exception's name when
    no reply came back."""
    if isinstance(parsed, dict) and "Error" in parsed:
        return str(parsed["Error"].get("Code", "")) or "Unknown"
    if exception is not None:
        return type(exception).__name__
    return ""
