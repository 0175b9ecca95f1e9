"""AWS as it behaves at scale: a loopback proxy in front of moto for benchmarks and fault tests.

moto answers every call at once and never says no; real AWS takes tens to hundreds of ms per
call and refuses calls beyond each account's token buckets. This proxy sits between the
controller (``AWS_ENDPOINT_URL`` pointed at it, nothing else changed) and a moto server, and
adds per-call latency, AWS's documented rate limits answered in AWS's own throttling format,
call counts by service and operation, and rule-driven fault injection (5xx, resets, timeouts).

Modules: ``identify`` (which service/operation a request is), ``profiles`` (latency and bucket
defaults, with their sources), ``buckets`` (token buckets), ``errors`` (AWS error formats),
``faults`` (fault rules), ``stats`` (counts), ``journal`` (the call log), ``server`` (the
aiohttp proxy and its control API), ``runner`` (background-thread runner and moto
pairing); ``python -m sandbox.awsproxy`` runs it standalone.
"""

from sandbox.awsproxy.errors import ErrorKind, error_reply
from sandbox.awsproxy.faults import FaultRule, fault_mix
from sandbox.awsproxy.identify import Call, identify, is_mutating
from sandbox.awsproxy.journal import JournalEntry
from sandbox.awsproxy.profiles import (
    DEFAULT_BUCKETS,
    DEFAULT_LATENCY,
    NO_BUCKETS,
    NO_LATENCY,
    ROUTE53_2024_BUCKETS,
    BucketProfile,
    BucketRule,
    BucketSpec,
    LatencyProfile,
    LatencyRule,
)
from sandbox.awsproxy.runner import AwsProxyThread, start_moto_with_proxy
from sandbox.awsproxy.server import AwsProxy, ProxySettings
from sandbox.awsproxy.stats import OperationStats, ProxyStats

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_LATENCY",
    "NO_BUCKETS",
    "NO_LATENCY",
    "ROUTE53_2024_BUCKETS",
    "AwsProxy",
    "AwsProxyThread",
    "BucketProfile",
    "BucketRule",
    "BucketSpec",
    "Call",
    "ErrorKind",
    "FaultRule",
    "JournalEntry",
    "LatencyProfile",
    "LatencyRule",
    "OperationStats",
    "ProxySettings",
    "ProxyStats",
    "error_reply",
    "fault_mix",
    "identify",
    "is_mutating",
    "start_moto_with_proxy",
]
