"""A deploy that could not take everything it wants (a host another group still holds) is
not recorded as applied, so the next reconcile deploys again instead of skipping.

Found by the soak (`sandbox.soak`, seed 12): an Ingress moved from one group to another;
the new group deployed while the old one still owned the host's record. The old group's
release queued the new one again, but its model was unchanged, so the no-op digest skipped
the deploy and the host had no record until the drift check.
"""

from __future__ import annotations

from controller.aws.warnings import DNS_RECORD_NOT_OWNED, DeployWarning
from controller.config import ModelDefaults
from controller.kube.reconciler import APPLIED_ANNOTATION, Applied, GroupReconciler
from controller.kube.scheduler import Mode

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")
GROUP = "shop/web"


def test_an_incomplete_deploy_is_done_again_on_the_next_reconcile() -> None:
    cache = cluster_cache(DEFAULTS)
    held = DeployWarning(DNS_RECORD_NOT_OWNED, "web.example.com: held by group b")
    deployer = FakeDeployer(complete=False, warnings=(held,))
    reconciler = GroupReconciler(cache, FakeCluster(cache), deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress())

    reconciler.reconcile(GROUP, Mode.FULL)
    reconciler.reconcile(GROUP, Mode.FULL)  # the other group let the host go: queued again
    assert len(deployer.deployed) == 2
    body = cache.ingress(GROUP)
    assert body is not None
    recorded = Applied.from_annotation(body["metadata"]["annotations"][APPLIED_ANNOTATION])
    assert recorded is not None and recorded.digest == ""  # a restart deploys it too

    deployer.complete = True
    reconciler.reconcile(GROUP, Mode.FULL)
    reconciler.reconcile(GROUP, Mode.FULL)  # complete now: the next one is a no-op
    assert len(deployer.deployed) == 3
