"""The deployer's shape: steps apply forward, clean up in reverse, tear down in reverse.

Recording steps stand in for the real ones, so these tests fail if the orchestration
changes order, skips cleanup, or lets a failed load balancer teardown go on to the groups
it still holds.
"""

from __future__ import annotations

import pytest

from controller.aws.deployer import Deployer
from controller.aws.errors import AwsError
from controller.aws.live import LiveStack
from controller.aws.steps import ORDER, DeployRun
from tests.aws.conftest import World
from tests.aws.stacks import SVC_2048, make_stack, targets

Log = list[tuple[str, str]]


class Recording:
    def __init__(self, name: str, log: Log, *, fail: bool = False, gates: bool = False) -> None:
        self.name = name
        self._log = log
        self._fail = fail
        self.gates_teardown = gates

    def apply(self, run: DeployRun) -> None:
        self._log.append(("apply", self.name))

    def cleanup(self, run: DeployRun) -> None:
        self._log.append(("cleanup", self.name))

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        self._log.append(("teardown", self.name))
        if self._fail:
            raise AwsError(self.name, "ResourceInUse", "still in use", retryable=True)


def test_the_real_steps_are_in_the_documented_order(deployer: Deployer) -> None:
    assert [type(step) for step in deployer.steps] == list(ORDER[:-1])  # no DNS hook here
    assert [step.name for step in deployer.steps] == [
        "security groups",
        "target groups",
        "targets",
        "load balancer",
        "protection",
        "listeners and rules",
    ]


def test_apply_runs_forward_then_cleanup_in_reverse(deployer: Deployer) -> None:
    log: Log = []
    real = deployer.steps
    deployer.steps = (*real, Recording("a", log), Recording("b", log))
    deployer.deploy(make_stack(), {})
    assert log == [("apply", "a"), ("apply", "b"), ("cleanup", "b"), ("cleanup", "a")]


def test_teardown_runs_in_reverse_and_stops_at_a_gate(deployer: Deployer) -> None:
    log: Log = []
    deployer.steps = (
        Recording("groups", log),
        Recording("balancer", log, fail=True, gates=True),
        Recording("dns", log),
    )
    with pytest.raises(AwsError, match="balancer"):
        deployer.teardown("shop/web")
    assert log == [("teardown", "dns"), ("teardown", "balancer")]  # groups still in use


def test_a_failed_teardown_that_does_not_gate_lets_the_rest_go_first(deployer: Deployer) -> None:
    log: Log = []
    deployer.steps = (
        Recording("security", log),
        Recording("target groups", log, fail=True),
        Recording("balancer", log, gates=True),
    )
    with pytest.raises(AwsError, match="target groups"):
        deployer.teardown("shop/web")
    assert log == [
        ("teardown", "balancer"),
        ("teardown", "target groups"),
        ("teardown", "security"),
    ]


class _FailingRules:
    """Stands in for the listeners step: every apply fails as a refused SetRulePriorities."""

    name = "listeners and rules"
    gates_teardown = False

    def apply(self, run: DeployRun) -> None:
        raise AwsError("rules of listener 80", "PriorityInUse", "in use", retryable=True)

    def cleanup(self, run: DeployRun) -> None:
        return None

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        return None


def test_targets_follow_the_endpoints_while_a_rule_change_fails(
    world: World, deployer: Deployer
) -> None:
    # Found in migration testing: a SetRulePriorities that kept failing froze the group's
    # targets at 2 while its pods went 2 -> 4 -> 1. Targets now follow their target group.
    result = deployer.deploy(make_stack(), targets(SVC_2048, world.nodes[:1]))
    deployer.steps = tuple(
        _FailingRules() if step.name == "listeners and rules" else step for step in deployer.steps
    )
    with pytest.raises(AwsError, match="PriorityInUse"):
        deployer.deploy(make_stack(), targets(SVC_2048, world.nodes))
    arn = result.target_group_arns[SVC_2048.tg_id]
    health = world.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert {t["Target"]["Id"] for t in health} == set(world.nodes)
