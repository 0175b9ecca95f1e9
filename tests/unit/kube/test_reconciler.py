"""The group reconciler: finalizers, status, Events, no-op skips, teardown and errors."""

from __future__ import annotations

import json

import pytest

from controller.aws import AwsError
from controller.config import ModelDefaults
from controller.kube.cache import ClusterCache
from controller.kube.reconciler import APPLIED_ANNOTATION, GroupReconciler
from controller.kube.scheduler import Mode
from controller.model.groups import IMPLICIT_FINALIZER

from .fakes import INGRESS_CLASS, FakeCluster, FakeDeployer, ingress, node, service

DEFAULTS = ModelDefaults(cluster_name="test")
GROUP = "shop/web"


@pytest.fixture
def cache() -> ClusterCache:
    cache = ClusterCache(DEFAULTS)
    cache.apply_event("IngressClass", None, INGRESS_CLASS)
    cache.apply_event("Service", None, service())
    cache.apply_event("Node", None, node("n1", "i-0000000000000001"))
    return cache


@pytest.fixture
def cluster(cache: ClusterCache) -> FakeCluster:
    return FakeCluster(cache)


@pytest.fixture
def deployer() -> FakeDeployer:
    return FakeDeployer()


@pytest.fixture
def reconciler(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer
) -> GroupReconciler:
    return GroupReconciler(cache, cluster, deployer, DEFAULTS)


def test_a_new_ingress_gets_finalizer_then_deploy_then_status_and_event(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    assert reconciler.reconcile(GROUP, Mode.FULL).retry_after is None
    assert len(deployer.deployed) == 1
    assert cluster.writes[0] == ("add_finalizer", GROUP)  # before anything exists in AWS
    body = cache.ingress(GROUP)
    assert body is not None
    assert body["metadata"]["finalizers"] == [IMPLICIT_FINALIZER]
    hostname = body["status"]["loadBalancer"]["ingress"][0]["hostname"]
    assert hostname == hostname.lower() and hostname.endswith(".elb.amazonaws.com")
    assert APPLIED_ANNOTATION in body["metadata"]["annotations"]
    assert (GROUP, "Normal", "SuccessfullyReconciled", "Successfully reconciled") in cluster.events


def test_an_unchanged_group_is_not_deployed_again_and_writes_nothing(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    writes, events = len(cluster.writes), len(cluster.events)
    reconciler.reconcile(GROUP, Mode.FULL)
    assert len(deployer.deployed) == 1
    assert deployer.target_syncs == []
    assert (len(cluster.writes), len(cluster.events)) == (writes, events)


def test_the_drift_check_deploys_even_when_unchanged(
    cache: ClusterCache, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    reconciler.reconcile(GROUP, Mode.DRIFT)
    assert len(deployer.deployed) == 2


def test_a_node_change_only_syncs_targets(
    cache: ClusterCache, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    cache.apply_event("Node", "ADDED", node("n2", "i-0000000000000002"))
    reconciler.reconcile(GROUP, Mode.TARGETS)
    assert len(deployer.deployed) == 1
    assert len(deployer.target_syncs) == 1
    (targets,) = deployer.target_syncs[0].values()
    assert {t.id for t in targets} == {"i-0000000000000001", "i-0000000000000002"}


def test_a_target_change_touches_its_target_group_with_what_it_holds_known(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    """After a deploy the reconciler knows each target group's targets: a change is synced
    with that knowledge (no DescribeTargetHealth first), and an unchanged set not at all."""
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    cache.apply_event("Node", "ADDED", node("n2", "i-0000000000000002"))
    reconciler.reconcile(GROUP, Mode.TARGETS)
    [(groups, known)] = deployer.synced_groups
    [(tg_id, _)] = groups.items()
    assert known is not None and {t.id for t in known[tg_id]} == {"i-0000000000000001"}
    reconciler.reconcile(GROUP, Mode.TARGETS)  # nothing moved since
    assert len(deployer.synced_groups) == 1


def test_a_restart_trusts_the_applied_annotation_and_the_targets_it_records(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    record = json.loads(cluster_record(cache))
    assert record["targets"]  # the digest of the targets AWS was made to hold
    restarted = GroupReconciler(cache, cluster, deployer, DEFAULTS)  # empty memory
    restarted.reconcile(GROUP, Mode.FULL)
    assert len(deployer.deployed) == 1
    assert deployer.target_syncs == []  # nothing read: the record says what AWS holds
    # A target that moved while no controller ran: that target group is read (known None).
    cache.apply_event("Node", "ADDED", node("n2", "i-0000000000000002"))
    again = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    again.reconcile(GROUP, Mode.FULL)
    [(groups, known)] = deployer.synced_groups
    assert len(groups) == 1 and known is None


def cluster_record(cache: ClusterCache) -> str:
    body = cache.ingress(GROUP)
    assert body is not None
    return str(body["metadata"]["annotations"][APPLIED_ANNOTATION])


def test_deleting_the_ingress_tears_down_then_releases_the_finalizer(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    cluster.delete(GROUP)
    reconciler.reconcile(GROUP, Mode.FULL)
    assert deployer.torn_down == [GROUP]
    assert cache.ingress(GROUP) is None  # finalizer gone, object gone


def test_switching_to_another_class_tears_down_like_a_delete(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    """Regression for the kopf finalizer trap: leaving our class must not leak the ALB."""
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    moved = cache.ingress(GROUP)
    assert moved is not None
    moved = {**moved, "spec": {**moved["spec"], "ingressClassName": "nginx"}}
    cache.apply_event("Ingress", "MODIFIED", moved)
    reconciler.reconcile(GROUP, Mode.FULL)
    assert deployer.torn_down == [GROUP]
    body = cache.ingress(GROUP)
    assert body is not None
    assert IMPLICIT_FINALIZER not in (body["metadata"].get("finalizers") or [])
    assert body["status"]["loadBalancer"]["ingress"] == []
    assert APPLIED_ANNOTATION not in body["metadata"]["annotations"]


def test_an_ingress_of_another_class_is_ignored_entirely(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress(class_name="nginx"))
    reconciler.reconcile(GROUP, Mode.FULL)
    assert (deployer.deployed, deployer.torn_down) == ([], [])
    assert (cluster.writes, cluster.events) == ([], [])


def test_a_bad_annotation_posts_one_warning_and_touches_nothing(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    bad = ingress(annotations={"alb.ingress.kubernetes.io/scheme": "sideways"})
    cache.apply_event("Ingress", "ADDED", bad)
    reconciler.reconcile(GROUP, Mode.FULL)
    reconciler.reconcile(GROUP, Mode.FULL)  # no retry storm: same error, no new Event
    assert (deployer.deployed, deployer.torn_down, cluster.writes) == ([], [], [])
    assert len(cluster.events) == 1
    key, type_, reason, message = cluster.events[0]
    assert (key, type_, reason) == (GROUP, "Warning", "FailedBuildModel")
    assert "alb.ingress.kubernetes.io/scheme" in message


def test_a_typo_in_a_working_ingress_keeps_its_alb(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    body = cache.ingress(GROUP)
    assert body is not None
    broken = {
        **body,
        "metadata": {
            **body["metadata"],
            "annotations": {
                **body["metadata"]["annotations"],
                "alb.ingress.kubernetes.io/scheme": "sideways",
            },
        },
    }
    cache.apply_event("Ingress", "MODIFIED", broken)
    reconciler.reconcile(GROUP, Mode.FULL)
    assert deployer.torn_down == []
    assert len(deployer.deployed) == 1
    assert cluster.events[-1][2] == "FailedBuildModel"


def test_one_invalid_member_does_not_block_its_group(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    group = {"alb.ingress.kubernetes.io/group.name": "shop"}
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=group, host="a.example.com"))
    cache.apply_event(
        "Ingress",
        "ADDED",
        ingress(
            "b",
            annotations={**group, "alb.ingress.kubernetes.io/healthcheck-interval-seconds": "x"},
            host="b.example.com",
        ),
    )
    reconciler.reconcile("shop", Mode.FULL)
    assert len(deployer.deployed) == 1
    assert deployer.deployed[0].ingresses == ("shop/a",)
    assert [(k, r) for k, _, r, _ in cluster.events if r == "FailedBuildModel"] == [
        ("shop/b", "FailedBuildModel")
    ]


def test_a_retryable_aws_error_posts_an_event_and_backs_off(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    deployer.fail_with = AwsError(
        "load balancer k8s-shop-web", "Throttling", "Rate exceeded", retryable=True
    )
    first = reconciler.reconcile(GROUP, Mode.FULL)
    second = reconciler.reconcile(GROUP, Mode.FULL)
    assert first.retry_after is not None and second.retry_after is not None
    assert second.retry_after > first.retry_after
    assert [r for _, _, r, _ in cluster.events] == ["FailedDeployModel", "FailedDeployModel"]


def test_a_failed_teardown_keeps_the_finalizer(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    cache.apply_event("Ingress", "ADDED", ingress())
    reconciler.reconcile(GROUP, Mode.FULL)
    cluster.delete(GROUP)
    deployer.fail_with = AwsError(
        "security group sg-1", "DependencyViolation", "in use", retryable=True
    )
    outcome = reconciler.reconcile(GROUP, Mode.FULL)
    assert outcome.retry_after is not None
    assert cluster.events[-1][1:3] == ("Warning", "FailedCleanup")
    body = cache.ingress(GROUP)
    assert body is not None and body["metadata"]["finalizers"] == [IMPLICIT_FINALIZER]


def test_a_target_change_rewrites_one_members_record_not_every_members(
    cache: ClusterCache, cluster: FakeCluster, deployer: FakeDeployer, reconciler: GroupReconciler
) -> None:
    group = {"alb.ingress.kubernetes.io/group.name": "shop"}
    for name in ("a", "b", "c"):
        body = ingress(name, annotations=group, host=f"{name}.example.com")
        cache.apply_event("Ingress", "ADDED", body)
    reconciler.reconcile("shop", Mode.FULL)
    records = {}
    for key in ("shop/a", "shop/b", "shop/c"):
        stored = cache.ingress(key)
        assert stored is not None
        records[key] = json.loads(stored["metadata"]["annotations"][APPLIED_ANNOTATION])
    assert [k for k, r in records.items() if "targets" in r] == ["shop/a"]
    cluster.writes.clear()
    cache.apply_event("Node", "ADDED", node("n2", "i-0000000000000002"))
    reconciler.reconcile("shop", Mode.TARGETS)
    assert cluster.writes == [("set_annotations", "shop/a")]
