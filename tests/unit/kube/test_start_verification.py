"""At start-up the recorded state is checked against one sweep of AWS before it is trusted
(issue: migration safety, point 11).

The `alb-ingress-controller/applied` annotation lets a restart skip a group's deploy. After a
rollback to the incumbent and a switch forward again, AWS may no longer hold what it says:
the incumbent made, replaced or deleted a target group or the load balancer. The start-up
sweep (stack id -> live load balancer and target group ARNs) shows that, and such groups get
a full deploy instead of being trusted.
"""

from __future__ import annotations

from controller.config import ModelDefaults
from controller.kube.reconciler import APPLIED_ANNOTATION, Applied, GroupReconciler
from controller.kube.scheduler import Mode

from .fakes import FakeCluster, FakeDeployer, cluster_cache, ingress

DEFAULTS = ModelDefaults(cluster_name="test")
LB = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/k8s-shop/1"
TG = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/k8s-shop-web/1"


def test_a_record_matches_only_its_own_load_balancer_and_target_groups() -> None:
    applied = Applied(digest="d", hostname="h", target_groups={"tg": TG}, load_balancer=LB)
    assert applied.matches(frozenset({LB, TG}))
    assert not applied.matches(frozenset({LB})), "a target group deleted"
    assert not applied.matches(frozenset({LB, TG, TG + "2"})), "a target group made"
    assert not applied.matches(frozenset({LB + "2", TG})), "the load balancer replaced"
    assert not applied.matches(frozenset({TG})), "the load balancer deleted"
    older = Applied(digest="d", hostname="h", target_groups={"tg": TG})  # no ARN recorded
    assert older.matches(frozenset({LB + "2", TG}))
    assert not older.matches(frozenset({LB, LB + "2", TG}))


def test_the_record_keeps_the_load_balancer_arn_and_reads_older_records() -> None:
    applied = Applied(digest="d", hostname="h", target_groups={"tg": TG}, load_balancer=LB)
    assert Applied.from_annotation(applied.to_annotation()) == applied
    older = f'{{"digest":"d","hostname":"h","targetGroups":{{"tg":"{TG}"}}}}'
    assert Applied.from_annotation(older) == Applied("d", "h", {"tg": TG})


def test_groups_whose_live_state_contradicts_their_record_are_not_trusted() -> None:
    cache = cluster_cache(DEFAULTS)
    cluster, deployer = FakeCluster(cache), FakeDeployer()
    first = GroupReconciler(cache, cluster, deployer, DEFAULTS)
    cache.apply_event("Ingress", "ADDED", ingress("web"))
    first.reconcile("shop/web", Mode.FULL)
    body = cache.ingress("shop/web") or {}
    assert APPLIED_ANNOTATION in body["metadata"]["annotations"]
    [stack] = deployer.deployed
    lb = f"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/{stack.load_balancer.name}/1"
    tgs = frozenset(f"arn:tg/{tg.name}" for tg in stack.target_groups)

    restarted = GroupReconciler(cache, cluster, deployer, DEFAULTS)  # reads the annotation
    assert restarted.unverified({"shop/web": frozenset({lb, *tgs})}) == set()
    assert restarted.unverified({"shop/web": frozenset({lb})}) == {"shop/web"}
    assert restarted.unverified({}) == {"shop/web"}, "the whole stack is gone"
