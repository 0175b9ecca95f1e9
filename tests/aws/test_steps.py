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
from tests.aws.stacks import make_stack

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
        "load balancer",
        "listeners and rules",
        "targets",
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
