"""Refuse to run beside a live aws-load-balancer-controller.

Both controllers would own the same ALBs (same tags, same finalizers) and fight over them.
LBC holds a coordination.k8s.io Lease named `aws-load-balancer-controller-leader` while it
runs; if any such Lease was renewed within its lease duration, LBC is active and we stop
with a message saying how to migrate. The decision itself (`incumbent_active`) is pure.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import client as k8s

INCUMBENT_LEASE = "aws-load-balancer-controller-leader"
DEFAULT_LEASE_SECONDS = 15  # controller-runtime's default when the Lease does not say

MIGRATION_HINT = (
    "aws-load-balancer-controller is active in this cluster (its leader Lease {where} was "
    "renewed {age:.0f}s ago). Two controllers would fight over the same load balancers. "
    "To migrate: scale its Deployment to zero (kubectl -n kube-system scale deployment "
    "aws-load-balancer-controller --replicas=0), wait {wait}s for the Lease to expire, then "
    "start this controller: it adopts the existing ALBs in place. --ignore-incumbent skips "
    "this check."
)


class IncumbentActiveError(RuntimeError):
    """aws-load-balancer-controller holds a fresh leader Lease."""


def _parse_time(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, str) and value:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


def incumbent_active(
    leases: Iterable[Mapping[str, Any]], now: datetime.datetime
) -> IncumbentActiveError | None:
    """The error to stop with if any LBC leader Lease is fresh at `now`, else None."""
    for lease in leases:
        meta = lease.get("metadata") or {}
        if meta.get("name") != INCUMBENT_LEASE:
            continue
        spec = lease.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
        if renewed is None or not spec.get("holderIdentity"):
            continue
        duration = int(spec.get("leaseDurationSeconds") or DEFAULT_LEASE_SECONDS)
        age = (now - renewed).total_seconds()
        if age < duration:
            where = f"{meta.get('namespace')}/{INCUMBENT_LEASE}"
            return IncumbentActiveError(MIGRATION_HINT.format(where=where, age=age, wait=duration))
    return None


def check_incumbent(api_client: k8s.ApiClient) -> None:
    """Raise `IncumbentActiveError` if aws-load-balancer-controller is running in the cluster."""
    api = k8s.CoordinationV1Api(api_client)
    found = api.list_lease_for_all_namespaces(field_selector=f"metadata.name={INCUMBENT_LEASE}")
    leases = [
        api_client.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
        for item in found.items
    ]
    error = incumbent_active(leases, datetime.datetime.now(datetime.UTC))
    if error is not None:
        raise error
