"""A member made invalid keeps its last deployed version serving (issue: migration safety).

Before, a typo in one member of a group removed that member's rules on the next deploy.
Now its last good version is built in its place, the current version's error is reported
on it, and its part goes only when it is deleted or leaves the group.
"""

from __future__ import annotations

import copy

from controller.config import ModelDefaults
from controller.kube.fallback import LAST_GOOD_ANNOTATION
from controller.kube.reconciler import APPLIED_ANNOTATION, GroupReconciler
from controller.kube.scheduler import Mode

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")
GROUP = {"alb.ingress.kubernetes.io/group.name": "shop"}


def _hosts(deployer: FakeDeployer) -> list[str]:
    stack = deployer.deployed[-1]
    return sorted(
        v for r in stack.listeners[0].rules for c in r.conditions if c.field == "host-header"
        for v in c.values or ()
    )  # fmt: skip


def test_an_invalid_member_keeps_its_last_good_rules_until_deleted() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=GROUP, host="a.example.com"))
    cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host="b.example.com"))
    reconciler.reconcile("shop", Mode.FULL)
    assert _hosts(deployer) == ["a.example.com", "b.example.com"]

    edited = copy.deepcopy(dict(cache.ingress("shop/b") or {}))  # a user's typo
    edited["metadata"]["annotations"]["alb.ingress.kubernetes.io/success-codes"] = "not-a-code"
    cache.apply_event("Ingress", "MODIFIED", edited)
    reconciler.reconcile("shop", Mode.DRIFT)
    assert _hosts(deployer) == ["a.example.com", "b.example.com"], "b's rules were dropped"
    errors = [m for key, kind, reason, m in cluster.events if reason == "FailedBuildModel"]
    assert errors and "success-codes" in errors[-1]

    cluster.delete("shop/b")
    reconciler.reconcile("shop", Mode.FULL)
    assert _hosts(deployer) == ["a.example.com"]


def test_the_last_good_version_survives_a_restart_in_an_annotation() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=GROUP, host="a.example.com"))
    cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host="b.example.com"))
    GroupReconciler(cache, cluster, deployer, DEFAULTS).reconcile("shop", Mode.FULL)
    recorded = (cache.ingress("shop/b") or {})["metadata"]["annotations"]
    assert LAST_GOOD_ANNOTATION in recorded

    edited = copy.deepcopy(dict(cache.ingress("shop/b") or {}))  # a typo, then a restart
    edited["metadata"]["annotations"]["alb.ingress.kubernetes.io/success-codes"] = "not-a-code"
    edited["spec"]["rules"][0]["host"] = "typo.example.com"
    cache.apply_event("Ingress", "MODIFIED", edited)
    restarted = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    restarted.reconcile("shop", Mode.DRIFT)

    assert _hosts(deployer) == ["a.example.com", "b.example.com"], "b's rules were dropped"
    after = (cache.ingress("shop/b") or {})["metadata"]["annotations"]
    assert after[LAST_GOOD_ANNOTATION] == recorded[LAST_GOOD_ANNOTATION], "the typo was kept"


def test_leaving_the_group_takes_the_records_off_the_ingress() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=GROUP, host="a.example.com"))
    cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host="b.example.com"))
    reconciler.reconcile("shop", Mode.FULL)
    left = copy.deepcopy(dict(cache.ingress("shop/b") or {}))
    del left["metadata"]["annotations"]["alb.ingress.kubernetes.io/group.name"]
    cache.apply_event("Ingress", "MODIFIED", left)
    reconciler.reconcile("shop", Mode.FULL)
    annotations = (cache.ingress("shop/b") or {})["metadata"]["annotations"]
    assert LAST_GOOD_ANNOTATION not in annotations
    assert APPLIED_ANNOTATION not in annotations
