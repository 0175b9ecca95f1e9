"""Targets: make a target group's registered targets equal a desired set, and no more calls.

One DescribeTargetHealth per target group reads what is registered; only the difference is
registered or deregistered, 200 targets a call (as LBC). Targets already `draining` count as
gone: if they are wanted again they are registered again. This runs on its own for
target-only changes (a rollout), with the target group ARNs known from the last deploy; then
the caller may also say what it last made the target group hold (`current`), and the read is
skipped: the call that moves a target is the first one made after the change. A target group
changed by hand meanwhile is found by the periodic drift check, which always reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from controller.aws.clients import AwsClients
from controller.aws.errors import about
from controller.aws.live import chunks
from controller.limits import REGISTER_BATCH
from controller.model.stack import Target


def registered(clients: AwsClients, tg_arn: str) -> frozenset[Target]:
    """The targets registered in a target group, not counting those already draining."""
    with about(f"target group {tg_arn}"):
        response = clients.elbv2.describe_target_health(TargetGroupArn=tg_arn)
    return frozenset(
        Target(id=d["Target"]["Id"], port=int(d["Target"]["Port"]))
        for d in response["TargetHealthDescriptions"]
        if d.get("TargetHealth", {}).get("State") != "draining"
    )


@dataclass(frozen=True)
class TargetHealth:
    """One registered target as DescribeTargetHealth reports it (pod readiness gates)."""

    id: str
    port: int
    state: str  # initial, healthy, unhealthy, unused, draining, unavailable, ...
    reason: str  # Elb.InitialHealthChecking, Target.FailedHealthChecks, ...; "" when healthy
    description: str


def target_health(clients: AwsClients, tg_arn: str) -> tuple[TargetHealth, ...]:
    """Every target of a target group with its health, in one DescribeTargetHealth."""
    with about(f"target group {tg_arn}"):
        response = clients.elbv2.describe_target_health(TargetGroupArn=tg_arn)
    found = []
    for description in response["TargetHealthDescriptions"]:
        health = description.get("TargetHealth") or {}
        found.append(
            TargetHealth(
                id=description["Target"]["Id"],
                port=int(description["Target"].get("Port") or 0),
                state=str(health.get("State") or ""),
                reason=str(health.get("Reason") or ""),
                description=str(health.get("Description") or ""),
            )
        )
    return tuple(found)


def _payload(targets: Iterable[Target]) -> list[dict[str, Any]]:
    return [{"Id": t.id, "Port": t.port} for t in sorted(targets, key=lambda t: (t.id, t.port))]


def capped(desired: frozenset[Target], current: frozenset[Target], limit: int) -> frozenset[Target]:
    """At most `limit` of `desired` (0: all): those registered already first, so a cap never
    swaps one healthy target for another, then the rest in a stable order (LBC's
    `--max-targets-per-target-group`)."""
    if not limit or len(desired) <= limit:
        return desired
    kept = sorted(desired & current, key=_order)[:limit]
    added = sorted(desired - current, key=_order)[: limit - len(kept)]
    return frozenset(kept + added)


def _order(target: Target) -> tuple[str, int]:
    return (target.id, target.port)


def sync_target_group(
    clients: AwsClients,
    tg_arn: str,
    desired: frozenset[Target],
    limit: int = 0,
    *,
    deregister_only: frozenset[Target] | None = None,
    current: frozenset[Target] | None = None,
) -> int:
    """Register/deregister the difference (at most `limit` targets, 0: no limit); returns the
    number of mutating calls made. `deregister_only`: of the targets not desired, only these
    go (a TargetGroupBinding of a target group other clusters register in too). `current`:
    what the target group holds, known from the last sync (None: read it)."""
    if current is None:
        current = registered(clients, tg_arn)
    desired = capped(desired, current, limit)
    unwanted = current - desired
    if deregister_only is not None:
        unwanted &= deregister_only
    calls = 0
    with about(f"targets of target group {tg_arn}"):
        # Register first so a target group never runs empty during a replacement.
        for chunk in chunks(_payload(desired - current), REGISTER_BATCH):
            clients.elbv2.register_targets(TargetGroupArn=tg_arn, Targets=list(chunk))
            calls += 1
        for chunk in chunks(_payload(unwanted), REGISTER_BATCH):
            clients.elbv2.deregister_targets(TargetGroupArn=tg_arn, Targets=list(chunk))
            calls += 1
    return calls
