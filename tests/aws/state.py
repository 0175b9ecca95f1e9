"""What a stack looks like in AWS, and what it should look like, in one comparable shape.

`actual` reads AWS directly (boto3, not the code under test); `expected` derives the same
shape from a `Stack` and its targets. Target groups are named by their resource tag, so the
comparison does not depend on ARNs or generated names.
"""

from __future__ import annotations

from typing import Any

from controller.model.stack import ForwardAction, Stack, Target
from tests.aws.conftest import World
from tests.aws.stacks import CLUSTER

Shape = dict[str, Any]


def _tags(world: World, arns: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):
        for d in world.elbv2.describe_tags(ResourceArns=arns[start : start + 20])[
            "TagDescriptions"
        ]:
            out[d["ResourceArn"]] = {t["Key"]: t["Value"] for t in d["Tags"]}
    return out


def _conditions(conditions: list[dict[str, Any]]) -> tuple[Any, ...]:
    out = []
    for c in conditions:
        config: dict[str, Any] = next((v for k, v in c.items() if k.endswith("Config")), {})
        out.append((c["Field"], tuple(sorted(config.get("Values") or c.get("Values") or ()))))
    return tuple(sorted(out))


def actual(world: World, stack_id: str) -> Shape:
    arns = [
        m["ResourceARN"]
        for page in world.tagging.get_paginator("get_resources").paginate(
            TagFilters=[
                {"Key": "elbv2.k8s.aws/cluster", "Values": [CLUSTER]},
                {"Key": "ingress.k8s.aws/stack", "Values": [stack_id]},
            ]
        )
        for m in page["ResourceTagMappingList"]
    ]
    tags = _tags(world, arns) if arns else {}
    lbs = [a for a in arns if ":loadbalancer/" in a]
    tgs = [a for a in arns if ":targetgroup/" in a]
    tg_id = {a: tags[a]["ingress.k8s.aws/resource"] for a in tgs}
    shape: Shape = {"load_balancers": [], "target_groups": {}, "listeners": {}}
    for tg in (
        world.elbv2.describe_target_groups(TargetGroupArns=tgs)["TargetGroups"] if tgs else []
    ):
        health = world.elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
        registered = frozenset(
            Target(id=d["Target"]["Id"], port=d["Target"]["Port"])
            for d in health["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] != "draining"
        )
        key = tg_id[tg["TargetGroupArn"]]
        assert key not in shape["target_groups"], f"two target groups for {key}"
        shape["target_groups"][key] = (tg["TargetType"], registered)
    for lb in (
        world.elbv2.describe_load_balancers(LoadBalancerArns=lbs)["LoadBalancers"] if lbs else []
    ):
        shape["load_balancers"].append((lb["Scheme"], sorted(lb["SecurityGroups"]) != []))
        for listener in world.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Listeners"
        ]:
            rules = world.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            shape["listeners"][listener["Port"]] = sorted(
                (
                    int(r["Priority"]),
                    _conditions(r["Conditions"]),
                    tuple(
                        sorted(
                            tg_id.get(t["TargetGroupArn"], t["TargetGroupArn"])
                            for a in r["Actions"]
                            for t in (a.get("ForwardConfig") or {}).get("TargetGroups", [])
                        )
                    ),
                )
                for r in rules
                if not r["IsDefault"]
            )
    return shape


def expected(stack: Stack, targets: dict[str, frozenset[Target]]) -> Shape:
    return {
        "load_balancers": [(stack.load_balancer.scheme, True)],
        "target_groups": {
            tg.id: (tg.target_type, targets.get(tg.id, frozenset())) for tg in stack.target_groups
        },
        "listeners": {
            listener.port: sorted(
                (
                    rule.priority,
                    tuple(
                        sorted((c.field, tuple(sorted(c.values or ()))) for c in rule.conditions)
                    ),
                    tuple(
                        sorted(
                            str(t.id)
                            for a in rule.actions
                            if isinstance(a, ForwardAction)
                            for t in a.target_groups
                        )
                    ),
                )
                for rule in listener.rules
            )
            for listener in stack.listeners
        },
    }
