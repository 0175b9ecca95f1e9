"""Refusing to start beside a live aws-load-balancer-controller."""

from __future__ import annotations

import datetime
from typing import Any

from controller.kube.incumbent import (
    INCUMBENT_LEASE,
    incumbent_active,
)

NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.UTC)


def lease(
    renewed_seconds_ago: float, duration: int = 15, holder: str = "lbc-pod"
) -> dict[str, Any]:
    renew = NOW - datetime.timedelta(seconds=renewed_seconds_ago)
    return {
        "metadata": {"name": INCUMBENT_LEASE, "namespace": "kube-system"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "renewTime": renew.isoformat().replace("+00:00", "Z"),
        },
    }


def test_a_fresh_lease_means_the_incumbent_is_active_and_says_how_to_migrate() -> None:
    error = incumbent_active([lease(3)], NOW)
    assert error is not None
    assert "kube-system/aws-load-balancer-controller-leader" in str(error)
    assert "--replicas=0" in str(error)
    assert "--ignore-incumbent" in str(error)


def test_an_expired_lease_does_not_block() -> None:
    assert incumbent_active([lease(16)], NOW) is None


def test_a_longer_lease_duration_is_honoured() -> None:
    assert incumbent_active([lease(30, duration=60)], NOW) is not None


def test_a_released_lease_without_holder_does_not_block() -> None:
    assert incumbent_active([lease(1, holder="")], NOW) is None


def test_other_leases_are_ignored() -> None:
    other = lease(1)
    other["metadata"] = {"name": "something-else", "namespace": "kube-system"}
    assert incumbent_active([other], NOW) is None
