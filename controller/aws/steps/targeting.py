"""The target group and target steps: one target group per backend Service port, and the
pods or nodes registered in each.

Live target groups are paired with the model by the `ingress.k8s.aws/resource` tag and
updated in place; one whose immutable properties (protocol, port, target type, ...) differ,
or that serves a load balancer other than the one the stack keeps (an ALB's target group
serves one load balancer only), is replaced: a new one under a fresh name, the old one goes
in cleanup, after the rules have moved to the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from controller.aws.clients import AwsClients
from controller.aws.errors import on_behalf_of
from controller.aws.live import LiveStack, LiveTargetGroup
from controller.aws.steps.run import DeployRun, each_then_raise
from controller.aws.target_groups import TargetGroups, fresh_name, matches_immutable
from controller.aws.targets import sync_target_group
from controller.model.stack import TAG_RESOURCE, TargetGroup


class TargetGroupsStep:
    name = "target groups"
    gates_teardown = False

    def __init__(self, clients: AwsClients, cluster: str, sleep: Callable[[float], None]) -> None:
        self._clients = clients
        self._cluster = cluster
        self._sleep = sleep

    def _api(self, stack_id: str) -> TargetGroups:
        return TargetGroups(self._clients, self._cluster, stack_id, self._sleep)

    def apply(self, run: DeployRun) -> None:
        """Pair, update or create every desired target group; record their ARNs."""
        api = self._api(run.stack.id)
        free = list(run.live.target_groups)
        taken = {str(tg.data.get("TargetGroupName")) for tg in free}
        allowed = {run.load_balancer.arn} if run.load_balancer is not None else set()
        for tg in run.stack.target_groups:
            match = pair(tg, free, allowed)
            tags = run.tags(tg.id, tg.tags)
            # A refusal (an attribute value, a tag) is the members' whose rules use it.
            with on_behalf_of(run.stack.members_using(tg.id), f"target group {tg.id}"):
                if match is not None:
                    free.remove(match)
                    api.update(tg, match, tags)
                    arn = match.arn
                else:
                    name = fresh_name(tg.name, taken)
                    taken.add(name)
                    arn = api.create(tg, name, run.placement.vpc_id, tags)
            run.target_group_arns[tg.id] = arn

    def cleanup(self, run: DeployRun) -> None:
        """Target groups no rule uses any more: replaced ones, and those of gone backends."""
        api = self._api(run.stack.id)
        kept = set(run.target_group_arns.values())
        for live in run.live.target_groups:
            if live.arn not in kept:
                api.delete(live.arn)

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        api = self._api(stack_id)
        each_then_raise([partial(api.delete, tg.arn) for tg in live.target_groups])


def pair(
    tg: TargetGroup, free: list[LiveTargetGroup], allowed_lbs: set[str]
) -> LiveTargetGroup | None:
    """The live target group that becomes `tg`: same resource tag, same immutable
    properties, no other load balancer; the one with the wanted name first."""
    candidates = [
        live
        for live in free
        if live.tags.get(TAG_RESOURCE) == tg.id
        and matches_immutable(tg, live.data)
        and set(live.data.get("LoadBalancerArns") or ()) <= allowed_lbs
    ]
    candidates.sort(key=lambda live: (live.data.get("TargetGroupName") != tg.name, live.arn))
    return candidates[0] if candidates else None


class TargetsStep:
    """Registers and deregisters targets; they go with their target groups on teardown."""

    name = "targets"
    gates_teardown = False

    def __init__(self, clients: AwsClients, max_targets: int = 0) -> None:
        self._clients = clients
        self.max_targets = max_targets  # per target group; 0: no limit

    def apply(self, run: DeployRun) -> None:
        for tg in run.stack.target_groups:
            wanted = run.targets.get(tg.id, frozenset())
            arn = run.target_group_arns[tg.id]
            sync_target_group(self._clients, arn, wanted, self.max_targets)

    def cleanup(self, run: DeployRun) -> None:
        return None

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        return None
