"""A deploy that failed half done leaves AWS unlike what was last applied: the next reconcile
deploys in full even when the model is back to what was applied.

Found by the soak (`sandbox.soak`, seed 12, two replicas, 20% AWS faults): a member joined a
group; the deploy made its target groups and some rules, then failed (PriorityInUse, a
retried CreateRule meeting its own rule); the member was deleted before the retry. The
group's model was now what had last been applied, so the no-op check skipped the deploy,
and the deleted member's rules, target groups and tags stayed on the ALB. The applied
record (memory and annotation) is now dropped when a deploy fails, so another replica that
takes over reads no stale record either.
"""

from __future__ import annotations

from controller.aws import AwsError
from controller.config import ModelDefaults
from controller.kube.reconciler import APPLIED_ANNOTATION, GroupReconciler
from controller.kube.scheduler import Mode

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")
GROUP = {"alb.ingress.kubernetes.io/group.name": "shop"}


def test_a_failed_deploy_is_not_skipped_when_the_model_returns_to_what_was_applied() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=GROUP, host="a.example.com"))
    reconciler.reconcile("shop", Mode.FULL)
    assert len(deployer.deployed) == 1

    cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host="b.example.com"))
    deployer.fail_with = AwsError("rules of listener 80", "PriorityInUse", "in use", retryable=True)
    assert reconciler.reconcile("shop", Mode.FULL).retry_after is not None
    body = cache.ingress("shop/a")
    assert body is not None and APPLIED_ANNOTATION not in body["metadata"]["annotations"]

    deployer.fail_with = None
    cluster.delete("shop/b")  # the new member goes again before the retry
    reconciler.reconcile("shop", Mode.FULL)
    assert len(deployer.deployed) == 2, "the half-done deploy was taken for the applied one"
    assert deployer.deployed[-1].ingresses == ("shop/a",)
