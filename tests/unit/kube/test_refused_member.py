"""A member AWS refuses fails alone (issue: migration safety, points 4 and 6).

When AWS refuses one member's part of a group (a host with no certificate, a rule value it
rejects), the AWS layer names that member (`AwsError.ingresses`); the reconciler then builds
the group with the member's last good version in its place, or without it, and deploys the
rest on the next reconcile (asked for at once), with a FailedDeployModel Warning on the
member. It is not tried again until it is edited or the drift check comes round.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from controller.aws import AwsError, DeployResult
from controller.aws.dns.errors import DnsError
from controller.config import ModelDefaults
from controller.kube.reconciler import GroupReconciler
from controller.kube.scheduler import Mode, Outcome
from controller.model.stack import DesiredTargets, Stack

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")
GROUP = {"alb.ingress.kubernetes.io/group.name": "shop"}
BAD_HOST = "no-certificate.example.com"


def _hosts(stack: Stack) -> list[str]:
    return sorted(
        v for r in stack.listeners[0].rules for c in r.conditions if c.field == "host-header"
        for v in c.values or ()
    )  # fmt: skip


@dataclass
class RefusingDeployer(FakeDeployer):
    """Refuses, as the AWS layer does, any stack in which a member has `BAD_HOST`."""

    refused: int = 0

    def deploy(self, stack: Stack, targets: DesiredTargets) -> DeployResult:
        blamed = sorted(
            r.ingress
            for r in stack.listeners[0].rules
            for c in r.conditions
            if BAD_HOST in (c.values or ())
        )
        if blamed:
            self.refused += 1
            raise AwsError(
                "certificate discovery",
                "CertificateNotFound",
                f"no ISSUED ACM certificate covers host(s) {BAD_HOST}",
                retryable=False,
                ingresses=blamed,
            )
        return super().deploy(stack, targets)


def _setup() -> tuple[GroupReconciler, FakeCluster, RefusingDeployer]:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), RefusingDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress("a", annotations=GROUP, host="a.example.com"))
    return reconciler, cluster, deployer


def _settle(reconciler: GroupReconciler, mode: Mode) -> Outcome:
    """Reconcile, and again as the scheduler would when the outcome asks for a new mode."""
    outcome = reconciler.reconcile("shop", mode)
    while outcome.retry_mode is not None:
        outcome = reconciler.reconcile("shop", outcome.retry_mode)
    return outcome


def _refusals(cluster: FakeCluster, key: str) -> list[str]:
    return [m for k, _, reason, m in cluster.events if k == key and reason == "FailedDeployModel"]


def test_a_new_member_aws_refuses_is_left_out_and_the_rest_deploys() -> None:
    reconciler, cluster, deployer = _setup()
    cluster.cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host=BAD_HOST))

    outcome = reconciler.reconcile("shop", Mode.FULL)
    assert outcome.retry_after is not None and outcome.retry_mode == Mode.FULL
    assert deployer.deployed == [], "the first attempt was refused"
    outcome = reconciler.reconcile("shop", Mode.FULL)  # as the scheduler does, at once

    assert outcome.retry_after is None
    assert _hosts(deployer.deployed[-1]) == ["a.example.com"]
    [message] = _refusals(cluster, "shop/b")
    assert "CertificateNotFound" in message and BAD_HOST in message
    assert _refusals(cluster, "shop/a") == []
    b = cluster.cache.ingress("shop/b") or {}
    assert not (b.get("status") or {}).get("loadBalancer"), "b points at an ALB it is not on"


def test_a_refused_member_is_not_tried_again_until_edited_or_the_drift_check() -> None:
    reconciler, cluster, deployer = _setup()
    cluster.cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host=BAD_HOST))
    _settle(reconciler, Mode.FULL)
    assert deployer.refused == 1

    _settle(reconciler, Mode.FULL)  # e.g. a Service change: b is left out at once
    assert deployer.refused == 1
    assert len(_refusals(cluster, "shop/b")) == 1, "the same refusal is told once"

    _settle(reconciler, Mode.DRIFT)  # the certificate may have been issued by now
    assert deployer.refused == 2

    fixed = copy.deepcopy(dict(cluster.cache.ingress("shop/b") or {}))
    fixed["spec"]["rules"][0]["host"] = "b.example.com"
    cluster.cache.apply_event("Ingress", "MODIFIED", fixed)
    _settle(reconciler, Mode.FULL)
    assert _hosts(deployer.deployed[-1]) == ["a.example.com", "b.example.com"]


def test_a_member_refused_after_an_edit_keeps_its_last_good_version() -> None:
    reconciler, cluster, deployer = _setup()
    cluster.cache.apply_event(
        "Ingress", "ADDED", ingress("b", annotations=GROUP, host="b.example.com")
    )
    _settle(reconciler, Mode.FULL)

    edited = copy.deepcopy(dict(cluster.cache.ingress("shop/b") or {}))
    edited["spec"]["rules"][0]["host"] = BAD_HOST
    cluster.cache.apply_event("Ingress", "MODIFIED", edited)
    _settle(reconciler, Mode.FULL)

    assert _hosts(deployer.deployed[-1]) == ["a.example.com", "b.example.com"], (
        "b's last good version was not kept"
    )
    assert _refusals(cluster, "shop/b")

    _settle(reconciler, Mode.DRIFT)  # refused again: the good version still stands
    assert _hosts(deployer.deployed[-1]) == ["a.example.com", "b.example.com"], (
        "the refused version was taken for b's last good one"
    )


def test_a_refusal_of_the_only_member_fails_the_group_without_a_retry_loop() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), RefusingDeployer()
    reconciler = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress("b", annotations=GROUP, host=BAD_HOST))

    outcome = _settle(reconciler, Mode.FULL)

    assert outcome.retry_after is not None
    assert deployer.refused == 1
    assert deployer.deployed == [] and deployer.torn_down == []
    assert _refusals(cluster, "shop/b")


def test_a_refusal_not_about_one_member_fails_the_whole_group() -> None:
    reconciler, cluster, deployer = _setup()
    cluster.cache.apply_event(
        "Ingress", "ADDED", ingress("b", annotations=GROUP, host="b.example.com")
    )
    deployer.fail_with = AwsError("load balancer", "AccessDenied", "no", retryable=False)

    outcome = _settle(reconciler, Mode.FULL)

    assert outcome.retry_after is not None
    assert _refusals(cluster, "shop/a") and _refusals(cluster, "shop/b")


def test_a_dns_failure_fails_the_group_like_any_aws_error() -> None:
    """DnsError builds its own message: it names no member, and must not break the check."""
    reconciler, cluster, deployer = _setup()
    deployer.fail_with = DnsError("Route 53 ... already exists", retryable=True)

    outcome = reconciler.reconcile("shop", Mode.FULL)

    assert outcome.retry_after is not None and outcome.retry_mode is None
    assert _refusals(cluster, "shop/a")
