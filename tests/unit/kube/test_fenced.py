"""A write refused by the Lease fence is one log line and a short retry, not a traceback.

`AwsClients.write_guard` refuses a mutating call while this replica's Lease renewal is late
(`WritesFencedError`). Before, that exception went past the reconciler to the scheduler,
which logged it with a traceback as an unexpected failure and retried on its own backoff;
the soak counted hundreds of those. The reconciler now knows the error: it posts no Event
(another replica may be the leader), forgets what it applied (AWS may be half changed), and
retries in `FENCED_RETRY` seconds.
"""

from __future__ import annotations

import logging

import pytest

from controller.aws import WritesFencedError
from controller.config import ModelDefaults
from controller.kube.reconciler import FENCED_RETRY, GroupReconciler
from controller.kube.scheduler import Mode

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")


def test_a_fenced_deploy_is_retried_soon_with_one_line_and_no_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile("shop/web", Mode.FULL)
    assert "shop/web" in reconciler.applied

    deployer.fail_with = WritesFencedError("elbv2 CreateRule refused: not the leader now")
    with caplog.at_level(logging.WARNING):
        outcome = reconciler.reconcile("shop/web", Mode.DRIFT)
    assert outcome.retry_after == FENCED_RETRY
    assert "shop/web" not in reconciler.applied  # the next deploy is a full one
    fenced = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(fenced) == 1 and fenced[0].exc_info is None
    assert not [e for e in cluster.events if e[1] == "Warning"]
