"""What one deploy knows and learns as its steps run, and the shape every step has.

`DeployRun` starts with the stack, its targets and the live state found by tags, plus the
choice made before any step: which live load balancer the stack keeps. Each step reads what
earlier steps recorded (the security group IDs, the target group ARNs, the load balancer)
and records what later ones need. Warnings collect here and reach the Ingress as Events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.aws.discovery import SubnetChoice
from controller.aws.errors import AwsError
from controller.aws.live import LiveLoadBalancer, LiveStack
from controller.aws.tags import stack_tags
from controller.aws.warnings import DeployWarning
from controller.model.stack import DesiredTargets, Stack


@dataclass
class DeployRun:
    stack: Stack
    targets: DesiredTargets
    cluster: str
    live: LiveStack
    placement: SubnetChoice
    # Each HTTPS listener's certificates by port, given and discovered, found before any step.
    certificates: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    # Trust stores named (not by ARN) in the listeners' mTLS: name -> ARN, found before too.
    trust_stores: Mapping[str, str] = field(default_factory=dict)
    # The live load balancer the stack keeps (None: one is made), and those that go once
    # DNS has moved (a replaced scheme, leftovers).
    load_balancer: LiveLoadBalancer | None = None
    replaced: list[LiveLoadBalancer] = field(default_factory=list)
    created_load_balancer: bool = False
    managed_security_groups: list[dict[str, Any]] = field(default_factory=list)
    security_groups: tuple[str, ...] = ()
    target_group_arns: dict[str, str] = field(default_factory=dict)  # TargetGroup.id -> ARN
    unwanted_listeners: list[str] = field(default_factory=list)
    warnings: list[DeployWarning] = field(default_factory=list)
    # False: something the stack wants is held by another stack of this cluster for now (a
    # host, while an Ingress moves between groups): deploy again on the next reconcile.
    complete: bool = True

    def tags(self, resource_id: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The tags of one of the stack's resources: ours, then the stack's own (or `extra`)."""
        own = extra if extra is not None else self.stack.load_balancer.tags
        return stack_tags(self.cluster, self.stack.id, resource_id, own)

    def warn(self, reason: str, message: str) -> None:
        self.warnings.append(DeployWarning(reason, message))

    @property
    def balancer(self) -> LiveLoadBalancer:
        """The stack's load balancer, once the load balancer step has applied."""
        if self.load_balancer is None:
            raise RuntimeError("the load balancer step has not run")
        return self.load_balancer


class Step(Protocol):
    """One kind of AWS resource of a stack.

    `apply` makes what the stack wants exist and match (it may already); `cleanup` removes
    what of this kind the stack no longer wants, and runs, in reverse order, only once every
    step has applied, so nothing goes while something new may still point at it; `teardown`
    removes all of this kind the stack has, also in reverse order. Each tolerates its
    resources already existing or already gone, so a crash anywhere is healed by the next
    deploy.
    """

    name: str
    # Whether a failed teardown stops the steps after it: true where what comes next cannot
    # go while this is still there (a target group is in use until its load balancer goes).
    gates_teardown: bool

    def apply(self, run: DeployRun) -> None: ...

    def cleanup(self, run: DeployRun) -> None: ...

    def teardown(self, stack_id: str, live: LiveStack) -> None: ...


def each_then_raise(actions: Sequence[Callable[[], None]]) -> None:
    """Run every action; raise the first `AwsError` once all have been tried (one stuck
    resource does not keep the others of its kind alive)."""
    errors: list[AwsError] = []
    for action in actions:
        try:
            action()
        except AwsError as error:
            errors.append(error)
    if errors:
        raise errors[0]
