"""Build warnings reach the Ingress as Warning Events under their own reasons, once.

A member whose path names a missing Service still deploys (LBC's fixed 503 answers that
path); its owner hears it from a `BackendNotFound` Warning, posted again only when what is
missing changes, not on every reconcile.
"""

from __future__ import annotations

from controller.config import ModelDefaults
from controller.kube.reconciler import GroupReconciler
from controller.kube.scheduler import Mode
from sandbox import objects

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")


def test_a_missing_backend_is_one_warning_and_the_member_deploys() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    body = ingress()
    body["spec"]["rules"][0]["http"]["paths"].append(objects.path("/api", "api"))
    cache.apply_event("Ingress", "ADDED", body)

    reconciler.reconcile("shop/web", Mode.FULL)
    reconciler.reconcile("shop/web", Mode.DRIFT)
    assert len(deployer.deployed) == 2
    warnings = [
        (reason, message) for _, kind, reason, message in cluster.events if kind == "Warning"
    ]
    assert len(warnings) == 1, warnings
    reason, message = warnings[0]
    assert reason == "BackendNotFound"
    assert "service 'api' not found" in message
