"""The incumbent check reads aws-load-balancer-controller's Lease from a real API server."""

from __future__ import annotations

import datetime

import pytest
from kubernetes import client as k8s

from controller.kube.incumbent import IncumbentActiveError, check_incumbent
from tests.unit.kube.test_incumbent import lease


def test_check_incumbent_reads_leases_from_the_api_server(
    admin_api: k8s.ApiClient, namespace: str
) -> None:
    check_incumbent(admin_api)  # no Lease at all: fine
    fresh = lease(0)
    fresh["metadata"]["namespace"] = namespace  # LBC may be installed in any namespace
    fresh["spec"]["renewTime"] = (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )
    leases = k8s.CoordinationV1Api(admin_api)
    leases.create_namespaced_lease(namespace, fresh)
    try:
        with pytest.raises(IncumbentActiveError) as stopped:
            check_incumbent(admin_api)
        assert "aws-load-balancer-controller" in str(stopped.value)
    finally:
        # Deleted at once: a fresh LBC Lease would stop every later controller on this cluster.
        leases.delete_namespaced_lease(fresh["metadata"]["name"], namespace)
