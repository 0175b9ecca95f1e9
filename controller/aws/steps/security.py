"""The security groups step: the load balancer's groups, and the backend group's way in.

A stack gets the groups it names (`security-groups`), or one managed group with the
listeners' inbound rules. With the shared backend group (`manage-backend-security-group-rules`)
the load balancer also carries the cluster's backend group, and each node security group
lets it in on the target and health-check ports. The backend group is shared by every stack
of the cluster: `BackendHold` keeps a teardown from deleting it under a deploy that is about
to attach it. It may be one of the user's (BACKEND_SECURITY_GROUP), never deleted; with
sharing off (ENABLE_BACKEND_SECURITY_GROUP=false) the node groups let each load balancer's
managed group in instead, and those rules go before the managed group does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from controller.aws.clients import AwsClients
from controller.aws.discovery import Discovery
from controller.aws.live import LB_TYPE, LiveStack, describe_load_balancers, tagged_arns
from controller.aws.security_groups import SecurityGroups
from controller.aws.steps.run import DeployRun, each_then_raise
from controller.aws.warnings import NODE_SECURITY_GROUPS_UNKNOWN
from controller.model.stack import MANAGED_SG_RESOURCE_ID, TAG_CLUSTER, DesiredTargets, Stack


class BackendHold:
    """Deploys that may attach the shared backend group, and whether a teardown is deleting
    it (workers deploy and tear down distinct groups at once).

    A teardown deletes the group once no load balancer of the cluster uses it; without this,
    a teardown running beside a deploy that had found the group but not yet made its load
    balancer deleted it under that deploy (found by the soak: both deploys of a new leader's
    first round then failed with InvalidGroup.NotFound). So a release is skipped while a
    deploy holds the group, and a deploy that starts during a release waits for it to
    finish, then makes the group again. (One process writes at a time: the leader.)
    """

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._users = 0
        self._releasing = False

    @contextlib.contextmanager
    def attaching(self, attaching: bool) -> Iterator[None]:
        """Hold the group for a whole deploy, from its lookup until the load balancer
        carries it."""
        if not attaching:
            yield
            return
        with self._state:
            self._state.wait_for(lambda: not self._releasing)
            self._users += 1
        try:
            yield
        finally:
            with self._state:
                self._users -= 1
                self._state.notify_all()

    @contextlib.contextmanager
    def releasing(self) -> Iterator[bool]:
        """One release at a time (two teardowns releasing together failed: one revoked the
        node group's rule after the other had deleted the group); yields False while a
        deploy holds the group, which its load balancer will use."""
        with self._state:
            self._state.wait_for(lambda: not self._releasing)
            if self._users:
                yield False
                return
            self._releasing = True
        try:
            yield True
        finally:
            with self._state:
                self._releasing = False
                self._state.notify_all()


@dataclass(frozen=True)
class BackendGroup:
    """How load balancers reach the nodes (LBC's `--enable-backend-security-group` and
    `--backend-security-group`): through one backend group shared by every load balancer of
    the cluster (made here, or `given`), or, not shared, each from its own frontend group."""

    shared: bool = True
    given: str | None = None


SHARED_BACKEND = BackendGroup()


class SecurityGroupsStep:
    name = "security groups"
    gates_teardown = False

    def __init__(
        self,
        clients: AwsClients,
        cluster: str,
        groups: SecurityGroups,
        discovery: Discovery,
        *,
        node_security_groups: Sequence[str] = (),
        discover_node_security_groups: bool = True,
        backend: BackendGroup = SHARED_BACKEND,
    ) -> None:
        self._clients = clients
        self._backend = backend
        self._cluster = cluster
        self._groups = groups
        self._discovery = discovery
        self._node_groups = tuple(node_security_groups)
        self._discover_nodes = discover_node_security_groups
        self.backend_hold = BackendHold()

    def apply(self, run: DeployRun) -> None:
        stack = run.stack
        run.managed_security_groups = self._groups.find_managed(stack.id)
        chosen: list[str] = []
        if stack.load_balancer.security_groups:
            chosen += self._discovery.security_group_ids(
                stack.load_balancer.security_groups, run.placement.vpc_id
            )
        elif stack.security_group is not None:
            own = stack.security_group.tags or stack.load_balancer.tags
            chosen.append(
                self._groups.ensure_managed(
                    stack.security_group,
                    run.tags(MANAGED_SG_RESOURCE_ID, own),
                    run.placement.vpc_id,
                    run.managed_security_groups,
                )
            )
        if stack.backend_security_group:
            self._let_in(run, chosen)
        run.security_groups = tuple(dict.fromkeys(chosen))

    def _let_in(self, run: DeployRun, chosen: list[str]) -> None:
        """Open the nodes to the load balancer: through the shared backend group (attached
        to it), or, with sharing off, straight from its managed frontend group."""
        stack = run.stack
        if self._backend.shared:
            source = self._backend.given or self._groups.ensure_backend(run.placement.vpc_id)
            chosen.append(source)
        elif stack.security_group is not None and chosen:
            source = chosen[0]  # the managed group made above
        else:
            run.warn(
                NODE_SECURITY_GROUPS_UNKNOWN,
                "ENABLE_BACKEND_SECURITY_GROUP is false and the load balancer has its own "
                "security-groups: the nodes are not opened to it; allow it in yourself",
            )
            return
        self._groups.allow_backend(self._nodes(run), source, backend_ports(stack, run.targets))

    def cleanup(self, run: DeployRun) -> None:
        """A managed group the stack no longer uses (it names its own groups now)."""
        for group in run.managed_security_groups:
            if group["GroupId"] not in run.security_groups:
                self._delete_managed(str(group["GroupId"]))

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        managed = self._groups.find_managed(stack_id)
        each_then_raise(
            [
                *(partial(self._delete_managed, str(group["GroupId"])) for group in managed),
                self._release_backend_if_unused,
            ]
        )

    def _delete_managed(self, group_id: str) -> None:
        """With sharing off, node groups name the managed group in their rules: those go
        first (a referenced group cannot be deleted)."""
        if self._backend.shared:
            self._groups.delete(group_id)
        else:
            self._groups.release_backend(group_id)

    def _nodes(self, run: DeployRun) -> tuple[str, ...]:
        """The node security groups the backend group must get into: given, or those of the
        instances the stack's instance targets are."""
        if self._node_groups:
            return self._node_groups
        stack = run.stack
        if any(tg.target_type == "ip" for tg in stack.target_groups):
            run.warn(
                NODE_SECURITY_GROUPS_UNKNOWN,
                "node security groups not given: the backend security group is not allowed "
                "into pods of ip targets",
            )
        instance_ids = sorted(
            {
                t.id
                for tg in stack.target_groups
                if tg.target_type == "instance"
                for t in run.targets.get(tg.id, ())
            }
        )
        if not instance_ids or not self._discover_nodes:
            return ()
        return self._discovery.instance_security_groups(instance_ids)

    def _release_backend_if_unused(self) -> None:
        """Delete the cluster's backend group once no load balancer of the cluster uses it
        and no deploy of this process is about to attach it. A group given by
        BACKEND_SECURITY_GROUP is not ours: it stays."""
        if self._backend.given or not self._backend.shared:
            return
        with self.backend_hold.releasing() as free:
            if not free:
                return
            backends = self._groups.find_backend()
            if not backends:
                return
            arns = list(tagged_arns(self._clients, {TAG_CLUSTER: self._cluster}, [LB_TYPE]))
            in_use: set[str] = set()
            for lb in describe_load_balancers(self._clients, arns) if arns else []:
                in_use |= set(lb.get("SecurityGroups") or ())
            for group in backends:
                if group["GroupId"] not in in_use:
                    self._groups.release_backend(str(group["GroupId"]))


def backend_ports(stack: Stack, targets: DesiredTargets) -> set[int]:
    """The ports the backend group must reach on the nodes: targets' and health checks'."""
    ports: set[int] = set()
    for tg in stack.target_groups:
        ports |= {t.port for t in targets.get(tg.id, frozenset())} or {tg.port}
        if tg.health_check.port.isdigit():
            ports.add(int(tg.health_check.port))
    return ports
