"""How slow and how rate-limited the simulated AWS is: latency and token-bucket profiles.

Both profiles are ordered rule lists (first match wins) matching a call's service and
operation with shell globs, so a benchmark can override one operation without restating the
rest. Every figure is configurable; the defaults below are what `make bench` runs with.

Default latency (uniform between min and max ms, times ``latency_scale``)
------------------------------------------------------------------------
AWS publishes no API latency figures. These are order-of-magnitude round trips for a client
in the same region, as the benchmark issue states them ("tens of ms for describes, more for
mutations"); replace them with measured p50s (real AWS, ``AWS_DEBUG`` logs) when available.

| service   | operations                                      | ms      | basis       |
|-----------|-------------------------------------------------|---------|-------------|
| elbv2     | CreateLoadBalancer, DeleteLoadBalancer          | 200-400 | assumption  |
| elbv2     | RegisterTargets, DeregisterTargets              | 60-120  | assumption  |
| elbv2     | other mutations (Create/Modify/Delete/Set/Tags) | 100-300 | issue brief |
| elbv2     | reads (Describe*)                               | 30-60   | issue brief |
| ec2       | mutations                                       | 100-250 | assumption  |
| ec2       | reads                                           | 30-60   | issue brief |
| route53   | ChangeResourceRecordSets                        | 80-150  | issue brief |
| route53   | everything else (List*, GetChange, ...)         | 30-60   | assumption  |
| acm       | all                                             | 20-50   | assumption  |
| tagging   | all (GetResources)                              | 50-150  | assumption  |
| any other | mutations                                       | 100-300 | issue brief |
| any other | reads                                           | 30-60   | issue brief |

Default token buckets (per account and region; full at start; one token per call)
--------------------------------------------------------------------------------
| bucket         | operations                         | burst | refill | basis         |
|----------------|------------------------------------|-------|--------|---------------|
| elbv2.describe | elbv2 Describe*                    | 40    | 10/s   | ELB page [1]  |
| elbv2.register | RegisterTargets, DeregisterTargets | 20    | 5/s    | assumption    |
| elbv2.mutate   | every other elbv2 call             | 20    | 5/s    | assumption    |
| ec2.describe   | ec2 reads                          | 100   | 20/s   | EC2 page [2]  |
| ec2.mutate     | ec2 mutations                      | 200   | 5/s    | EC2 page [2]  |
| ec2.heavy      | RunInstances, TerminateInstances.. | 50    | 2/s    | EC2 page [2]  |
| route53        | every Route 53 call                | 5     | 5/s    | legacy [3]    |
| tagging        | every tagging API call             | 10    | 5/s    | assumption    |
| acm.<Op>       | one bucket per ACM operation       | rate  | rate   | ACM [4]       |

ACM rates: ListCertificates 8/s; DescribeCertificate, GetCertificate, ListTagsForCertificate
10/s; RequestCertificate, AddTagsToCertificate, RemoveTagsFromCertificate 5/s;
ImportCertificate 1/s; any other operation 10/s; burst assumed equal to one second's rate.

[1] docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html
[2] docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html (non-mutating,
    mutating and resource-intensive categories)
[3] 5 requests/s per account: external-dns docs/tutorials/aws.md, repost.aws
    knowledge-center/route-53-avoid-throttling-errors
[4] ACM "API rate quotas" in the ACM quotas page (figures recalled, not re-checked)

The ELB page documents the bucket model and the Describe example; the mutating and
registration figures are our assumption ("lower than describe", registration in a bucket of
its own). EC2 also documents 50 / 10 per s for *unfiltered, unpaginated* describes; the proxy
does not tell those apart. Route 53's newer model (account bucket 50 burst / 10 per s plus a
bucket per API action, and a change-throughput bucket the proxy does not model) is
``ROUTE53_2024_BUCKETS``; the default keeps the stricter legacy 5 per s the issue names.
Services with no rule (sts, iam, ...) are not limited.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.awsproxy.identify import Call

OperationKind = Literal["read", "mutating"]


class _Rule(BaseModel):
    """Match on service and operation globs and, optionally, read vs mutating."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = "*"
    operations: tuple[str, ...] = ("*",)
    kind: OperationKind | None = None

    def matches(self, call: Call) -> bool:
        if not fnmatch.fnmatchcase(call.service, self.service):
            return False
        if self.kind is not None and (self.kind == "mutating") != call.mutating:
            return False
        return any(fnmatch.fnmatchcase(call.operation, op) for op in self.operations)


class LatencyRule(_Rule):
    """Calls matching this rule take between ``min_ms`` and ``max_ms`` (uniform)."""

    min_ms: float = Field(ge=0)
    max_ms: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> LatencyRule:
        if self.max_ms < self.min_ms:
            raise ValueError(f"latency rule {self.service}/{self.operations}: max_ms < min_ms")
        return self


class LatencyProfile(BaseModel):
    """Ordered latency rules; the first matching rule sets a call's latency; none: 0 ms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[LatencyRule, ...] = ()

    def range_ms(self, call: Call) -> tuple[float, float]:
        for rule in self.rules:
            if rule.matches(call):
                return rule.min_ms, rule.max_ms
        return 0.0, 0.0

    def prepend(self, *rules: LatencyRule) -> LatencyProfile:
        """This profile with ``rules`` taking precedence over its own."""
        return LatencyProfile(rules=(*rules, *self.rules))


class BucketSpec(BaseModel):
    """One token bucket: holds up to ``capacity`` tokens, gains ``refill_per_s`` per second."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    capacity: float = Field(gt=0)
    refill_per_s: float = Field(ge=0)


class BucketRule(_Rule):
    """Calls matching this rule take one token from each named bucket (all or none).

    ``buckets`` are shared by every call the rule matches. Each name in ``per_operation`` is
    a template: every operation gets its own bucket of that size, keyed
    ``<name>.<Operation>``, which is how ACM and Route 53's newer model limit each API action.
    """

    buckets: tuple[str, ...] = ()
    per_operation: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _names_a_bucket(self) -> BucketRule:
        if not self.buckets and not self.per_operation:
            raise ValueError(
                f"bucket rule {self.service}/{list(self.operations)}: "
                "names no bucket (set `buckets` or `per_operation`)"
            )
        return self


class BucketProfile(BaseModel):
    """Bucket definitions and ordered rules; the first matching rule names a call's buckets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    buckets: tuple[BucketSpec, ...] = ()
    rules: tuple[BucketRule, ...] = ()

    @model_validator(mode="after")
    def _rules_name_known_buckets(self) -> BucketProfile:
        known = {b.name for b in self.buckets}
        for rule in self.rules:
            missing = [n for n in (*rule.buckets, *rule.per_operation) if n not in known]
            if missing:
                raise ValueError(
                    f"bucket rule {rule.service}/{list(rule.operations)}: "
                    f"unknown bucket(s) {missing}; define them in `buckets`"
                )
        return self

    def spec(self, name: str) -> BucketSpec:
        return next(b for b in self.buckets if b.name == name)

    def buckets_for(self, call: Call) -> list[tuple[str, BucketSpec]]:
        """(bucket key, its spec) for each bucket ``call`` draws from; [] when unlimited."""
        for rule in self.rules:
            if rule.matches(call):
                shared = [(name, self.spec(name)) for name in rule.buckets]
                own = [(f"{n}.{call.operation}", self.spec(n)) for n in rule.per_operation]
                return shared + own
        return []


def _latency(
    service: str, min_ms: float, max_ms: float, *ops: str, kind: OperationKind | None = None
) -> LatencyRule:
    return LatencyRule(
        service=service, operations=ops or ("*",), kind=kind, min_ms=min_ms, max_ms=max_ms
    )


DEFAULT_LATENCY = LatencyProfile(
    rules=(
        _latency("elbv2", 200, 400, "CreateLoadBalancer", "DeleteLoadBalancer"),
        _latency("elbv2", 60, 120, "RegisterTargets", "DeregisterTargets"),
        _latency("elbv2", 100, 300, kind="mutating"),
        _latency("elbv2", 30, 60, kind="read"),
        _latency("ec2", 100, 250, kind="mutating"),
        _latency("ec2", 30, 60, kind="read"),
        _latency("route53", 80, 150, "ChangeResourceRecordSets"),
        _latency("route53", 30, 60),
        _latency("acm", 20, 50),
        _latency("resourcegroupstaggingapi", 50, 150),
        _latency("*", 100, 300, kind="mutating"),
        _latency("*", 30, 60, kind="read"),
    )
)

_ACM_RATES = {
    "ListCertificates": 8,
    "DescribeCertificate": 10,
    "GetCertificate": 10,
    "ListTagsForCertificate": 10,
    "RequestCertificate": 5,
    "AddTagsToCertificate": 5,
    "RemoveTagsFromCertificate": 5,
    "ImportCertificate": 1,
}
_EC2_RESOURCE_INTENSIVE = (
    "RunInstances",
    "TerminateInstances",
    "StartInstances",
    "StopInstances",
    "CreateFleet",
)

DEFAULT_BUCKETS = BucketProfile(
    buckets=(
        BucketSpec(name="elbv2.describe", capacity=40, refill_per_s=10),
        BucketSpec(name="elbv2.register", capacity=20, refill_per_s=5),
        BucketSpec(name="elbv2.mutate", capacity=20, refill_per_s=5),
        BucketSpec(name="ec2.describe", capacity=100, refill_per_s=20),
        BucketSpec(name="ec2.heavy", capacity=50, refill_per_s=2),
        BucketSpec(name="ec2.mutate", capacity=200, refill_per_s=5),
        BucketSpec(name="route53", capacity=5, refill_per_s=5),
        BucketSpec(name="tagging", capacity=10, refill_per_s=5),
        *(BucketSpec(name=f"acm.{op}", capacity=r, refill_per_s=r) for op, r in _ACM_RATES.items()),
        BucketSpec(name="acm.other", capacity=10, refill_per_s=10),
    ),
    rules=(
        BucketRule(service="elbv2", kind="read", buckets=("elbv2.describe",)),
        BucketRule(
            service="elbv2",
            operations=("RegisterTargets", "DeregisterTargets"),
            buckets=("elbv2.register",),
        ),
        BucketRule(service="elbv2", buckets=("elbv2.mutate",)),
        BucketRule(service="ec2", kind="read", buckets=("ec2.describe",)),
        BucketRule(service="ec2", operations=_EC2_RESOURCE_INTENSIVE, buckets=("ec2.heavy",)),
        BucketRule(service="ec2", buckets=("ec2.mutate",)),
        BucketRule(service="route53", buckets=("route53",)),
        BucketRule(service="resourcegroupstaggingapi", buckets=("tagging",)),
        *(BucketRule(service="acm", operations=(op,), buckets=(f"acm.{op}",)) for op in _ACM_RATES),
        BucketRule(service="acm", per_operation=("acm.other",)),
    ),
)

# Route 53 since 2024: an account-level request bucket (50 burst, 10 per s) plus a bucket per
# API action. Per-action sizes are not all published; 10 burst / 5 per s is our assumption.
ROUTE53_2024_BUCKETS = BucketProfile(
    buckets=(
        BucketSpec(name="route53.account", capacity=50, refill_per_s=10),
        BucketSpec(name="route53.action", capacity=10, refill_per_s=5),
    ),
    rules=(
        BucketRule(
            service="route53", buckets=("route53.account",), per_operation=("route53.action",)
        ),
    ),
)

NO_LATENCY = LatencyProfile()
NO_BUCKETS = BucketProfile()
