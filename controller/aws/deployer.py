"""The deployer: makes AWS hold exactly one `Stack`, and tears a stack down.

Order (DESIGN.md): security groups -> target groups -> load balancer -> listeners -> rules
-> targets -> DNS, then what is no longer wanted goes: extra listeners, a replaced load
balancer (after DNS has moved to the new one), replaced or unwanted target groups, an
unwanted managed security group. Teardown: DNS -> load balancer (its listeners and rules go
with it, as in LBC) -> security groups (DependencyViolation retried for minutes) -> target
groups.

Live state is found by the cluster and stack tags and paired with the model by the
`ingress.k8s.aws/resource` tag, so resources made by aws-load-balancer-controller for the
same Ingresses are adopted and modified in place. Every step tolerates its resource already
existing or already gone, so a crash anywhere is healed by the next deploy.

Replacement: a load balancer whose scheme differs is replaced make-before-break: the new one
gets its listeners, rules and (because an ALB target group serves one load balancer only)
its own target groups, DNS moves, then the old one and its target groups go.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.aws.clients import AwsClients
from controller.aws.discovery import Discovery
from controller.aws.errors import AwsError, about
from controller.aws.listeners import Listeners
from controller.aws.live import (
    LB_TYPE,
    LiveLoadBalancer,
    LiveStack,
    LiveTargetGroup,
    chunks,
    describe_load_balancers,
    describe_tags,
    find_stack,
    listeners,
    rules,
    tagged_arns,
)
from controller.aws.load_balancers import LoadBalancers
from controller.aws.rules import DesiredRule, LiveRule, Rules, plan_rules
from controller.aws.security_groups import DEFAULT_RULES_PER_SG, SecurityGroups
from controller.aws.shapes import actions_to_aws, condition_to_aws
from controller.aws.tags import carries_stack_tags, stack_tags
from controller.aws.target_groups import TargetGroups, fresh_name, matches_immutable
from controller.aws.targets import sync_target_group
from controller.model.stack import (
    LOAD_BALANCER_RESOURCE_ID,
    MANAGED_SG_RESOURCE_ID,
    TAG_CLUSTER,
    TAG_RESOURCE,
    DesiredTargets,
    ForwardAction,
    Listener,
    Stack,
    TargetGroup,
    TargetGroupTuple,
)

# AWS's fixed (not adjustable) limits, checked before any call so the error names the rule.
MAX_CONDITION_VALUES = 5
MAX_TARGET_GROUPS_PER_ACTION = 5
MAX_PRIORITY = 50000
FILTER_VALUES = 200


class DnsHook(Protocol):
    """Route 53 alias records for a stack (implemented in `controller/aws/route53.py`)."""

    def sync(self, stack: Stack, alias_dns_name: str, alias_zone_id: str) -> tuple[str, ...]:
        """Point the stack's records at the load balancer; returns warnings."""
        ...

    def delete(self, stack_id: str) -> tuple[str, ...]:
        """Remove the records we own for the stack; returns warnings."""
        ...

    def contested(self, stack_id: str) -> bool:
        """Whether the stack's last sync left a host another stack of this cluster holds."""
        ...


@dataclass(frozen=True)
class DeployResult:
    dns_name: str
    canonical_hosted_zone_id: str
    load_balancer_arn: str
    target_group_arns: dict[str, str]  # TargetGroup.id -> ARN
    warnings: tuple[str, ...] = ()
    # False: something the stack wants is held by another stack of this cluster for now (a
    # host, while an Ingress moves between groups): deploy again on the next reconcile.
    complete: bool = True


@dataclass
class _Run:
    """What one deploy learns as it goes."""

    stack: Stack
    live: LiveStack
    vpc_id: str = ""
    tg_arns: dict[str, str] = field(default_factory=dict)
    keep_tg_arns: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    tg_by_name: dict[str, str] = field(default_factory=dict)


def validate(stack: Stack) -> None:
    """Reject what AWS would reject, naming the Ingress and rule (AWS would not)."""
    tg_ids = {tg.id for tg in stack.target_groups}

    def bad(where: str, message: str) -> AwsError:
        return AwsError(f"stack {stack.id}: {where}", "ValidationError", message, retryable=False)

    for listener in stack.listeners:
        if listener.protocol == "HTTPS" and not (
            listener.certificates or listener.certificate_hosts
        ):
            raise bad(f"listener {listener.port}", "HTTPS needs a certificate-arn or rule hosts")
        for rule in listener.rules:
            where = f"rule {listener.port}:{rule.priority} (ingress {rule.ingress or '?'})"
            if not 1 <= rule.priority <= MAX_PRIORITY:
                raise bad(where, f"priority must be 1..{MAX_PRIORITY}")
            count = sum(c.value_count() for c in rule.conditions)
            if count > MAX_CONDITION_VALUES:
                raise bad(
                    where, f"{count} condition values; AWS allows {MAX_CONDITION_VALUES} per rule"
                )
        for action in [*listener.default_actions, *(a for r in listener.rules for a in r.actions)]:
            if isinstance(action, ForwardAction):
                if len(action.target_groups) > MAX_TARGET_GROUPS_PER_ACTION:
                    raise bad(
                        f"listener {listener.port}", "more than 5 target groups in one forward"
                    )
                for tuple_ in action.target_groups:
                    if tuple_.id is not None and tuple_.id not in tg_ids:
                        raise bad(f"listener {listener.port}", f"unknown target group {tuple_.id}")


class Deployer:
    def __init__(
        self,
        clients: AwsClients,
        cluster_name: str,
        dns: DnsHook | None = None,
        node_security_groups: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        *,
        discovery: Discovery | None = None,
        sg_delete_timeout: float = 600.0,
        discover_node_security_groups: bool = True,
        rules_per_sg_limit: int = DEFAULT_RULES_PER_SG,
    ) -> None:
        self._clients = clients
        self._cluster = cluster_name
        self._dns = dns
        self._node_sgs = tuple(node_security_groups)
        self._sleep = sleep
        self._discovery = discovery or Discovery(clients, cluster_name)
        self._sgs = SecurityGroups(
            clients, cluster_name, sleep, sg_delete_timeout, rules_limit=rules_per_sg_limit
        )
        self._discover_node_sgs = discover_node_security_groups
        # Deploys that may attach the shared backend group, and whether a teardown is
        # deleting it: workers deploy and tear down distinct groups at once (see
        # `_attaching_backend`).
        self._backend_state = threading.Condition()
        self._backend_users = 0
        self._backend_releasing = False

    # --- deploy --------------------------------------------------------------------------

    def deploy(self, stack: Stack, targets: DesiredTargets) -> DeployResult:
        """Make AWS hold `stack` with `targets`; a second call with the same input makes no
        mutating call."""
        validate(stack)
        # Steps name their resource in errors; anything that slips through names the stack.
        with about(f"stack {stack.id}"), self._attaching_backend(stack.backend_security_group):
            return self._deploy(stack, targets)

    @contextlib.contextmanager
    def _attaching_backend(self, attaching: bool) -> Iterator[None]:
        """Hold the shared backend group for a deploy, from its lookup until the load
        balancer carries it (the whole deploy).

        A teardown deletes the group once no load balancer of the cluster uses it; without
        this, a teardown running beside a deploy that had found the group but not yet made
        its load balancer deleted it under that deploy (found by the soak: both deploys of
        a new leader's first round then failed with InvalidGroup.NotFound). So a release
        is skipped while a deploy holds the group, and a deploy that starts during a
        release waits for it to finish, then makes the group again. (One process writes at
        a time: the leader.)
        """
        if not attaching:
            yield
            return
        with self._backend_state:
            self._backend_state.wait_for(lambda: not self._backend_releasing)
            self._backend_users += 1
        try:
            yield
        finally:
            with self._backend_state:
                self._backend_users -= 1
                self._backend_state.notify_all()

    def _deploy(self, stack: Stack, targets: DesiredTargets) -> DeployResult:
        run = _Run(stack=stack, live=find_stack(self._clients, self._cluster, stack.id))
        lbs = LoadBalancers(self._clients)
        tgs = TargetGroups(self._clients, self._cluster, stack.id, self._sleep)

        placement = self._discovery.subnets(stack.load_balancer.scheme, stack.load_balancer.subnets)
        run.vpc_id = placement.vpc_id
        managed_live = self._sgs.find_managed(stack.id)
        security_groups = self._security_groups(run, managed_live, targets)

        keeper, old_lbs = self._pair_load_balancer(run)
        if keeper is None:
            keeper, old_lbs = self._claim_name(run, lbs, old_lbs)
        self._target_groups(run, tgs, keeper)

        lb_tags = self._tags(stack, LOAD_BALANCER_RESOURCE_ID)
        if keeper is None:
            keeper = lbs.create(stack.load_balancer, placement.subnet_ids, security_groups, lb_tags)
            created = True
        else:
            lbs.update(stack.load_balancer, keeper, placement.subnet_ids, security_groups, lb_tags)
            created = False

        self._listeners_and_rules(run, keeper, fresh=created)

        for tg in stack.target_groups:
            sync_target_group(self._clients, run.tg_arns[tg.id], targets.get(tg.id, frozenset()))

        dns_name = str(keeper.data["DNSName"]).lower()
        zone_id = str(keeper.data["CanonicalHostedZoneId"])
        complete = True
        if self._dns is not None:
            run.warnings += self._dns.sync(stack, dns_name, zone_id)
            complete = not self._dns.contested(stack.id)

        for old in old_lbs:
            lbs.delete(old.arn)
        for live_tg in run.live.target_groups:
            if live_tg.arn not in run.keep_tg_arns:
                tgs.delete(live_tg.arn)
        for group in managed_live:
            if group["GroupId"] not in security_groups:
                self._sgs.delete(str(group["GroupId"]))
        return DeployResult(
            dns_name=dns_name,
            canonical_hosted_zone_id=zone_id,
            load_balancer_arn=keeper.arn,
            target_group_arns=dict(run.tg_arns),
            warnings=tuple(run.warnings),
            complete=complete,
        )

    def _tags(
        self, stack: Stack, resource_id: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        return stack_tags(
            self._cluster,
            stack.id,
            resource_id,
            extra if extra is not None else stack.load_balancer.tags,
        )

    def _security_groups(
        self, run: _Run, managed_live: list[dict[str, Any]], targets: DesiredTargets
    ) -> tuple[str, ...]:
        stack = run.stack
        groups: list[str] = []
        if stack.load_balancer.security_groups:
            groups += self._discovery.security_group_ids(
                stack.load_balancer.security_groups, run.vpc_id
            )
        elif stack.security_group is not None:
            tags = self._tags(
                stack, MANAGED_SG_RESOURCE_ID, stack.security_group.tags or stack.load_balancer.tags
            )
            groups.append(
                self._sgs.ensure_managed(stack.security_group, tags, run.vpc_id, managed_live)
            )
        if stack.backend_security_group:
            backend = self._sgs.ensure_backend(run.vpc_id)
            groups.append(backend)
            nodes = self._node_groups(run, targets)
            self._sgs.allow_backend(nodes, backend, self._backend_ports(stack, targets))
        return tuple(dict.fromkeys(groups))

    def _backend_ports(self, stack: Stack, targets: DesiredTargets) -> set[int]:
        ports: set[int] = set()
        for tg in stack.target_groups:
            ports |= {t.port for t in targets.get(tg.id, frozenset())} or {tg.port}
            if tg.health_check.port.isdigit():
                ports.add(int(tg.health_check.port))
        return ports

    def _node_groups(self, run: _Run, targets: DesiredTargets) -> tuple[str, ...]:
        if self._node_sgs:
            return self._node_sgs
        stack = run.stack
        instance_ids = sorted(
            {
                t.id
                for tg in stack.target_groups
                if tg.target_type == "instance"
                for t in targets.get(tg.id, ())
            }
        )
        if any(tg.target_type == "ip" for tg in stack.target_groups):
            run.warnings.append(
                "node security groups not given: the backend security group is not allowed "
                "into pods of ip targets"
            )
        if not instance_ids or not self._discover_node_sgs:
            return ()
        found: set[str] = set()
        with about("node instances"):
            for chunk in chunks(instance_ids, FILTER_VALUES):
                pages = self._clients.ec2.get_paginator("describe_instances").paginate(
                    Filters=[{"Name": "instance-id", "Values": list(chunk)}]
                )
                for page in pages:
                    for reservation in page["Reservations"]:
                        for instance in reservation["Instances"]:
                            found |= {g["GroupId"] for g in instance.get("SecurityGroups") or ()}
        return tuple(sorted(found))

    def _pair_load_balancer(
        self, run: _Run
    ) -> tuple[LiveLoadBalancer | None, list[LiveLoadBalancer]]:
        """The live load balancer that becomes the stack's, and those to delete."""
        mine = [
            lb
            for lb in run.live.load_balancers
            if lb.tags.get(TAG_RESOURCE) == LOAD_BALANCER_RESOURCE_ID
        ]
        others = [lb for lb in run.live.load_balancers if lb not in mine]
        wanted = run.stack.load_balancer
        fits = sorted(
            (
                lb
                for lb in mine
                if lb.data.get("Scheme") == wanted.scheme
                and lb.data.get("Type", "application") == "application"
            ),
            key=lambda lb: (
                lb.data.get("LoadBalancerName") != wanted.name,
                str(lb.data.get("CreatedTime", "")),
                lb.arn,
            ),
        )
        keeper = fits[0] if fits else None
        return keeper, [lb for lb in mine + others if lb is not keeper]

    def _claim_name(
        self, run: _Run, lbs: LoadBalancers, old_lbs: list[LiveLoadBalancer]
    ) -> tuple[LiveLoadBalancer | None, list[LiveLoadBalancer]]:
        """Before creating: is the name taken? Names are unique on AWS (moto lets a second
        one be made) and the tag lookup can miss a load balancer made moments ago."""
        wanted = run.stack.load_balancer
        existing = lbs.find_by_name(wanted.name)
        if existing is None:
            return None, old_lbs
        rest = [lb for lb in old_lbs if lb.arn != existing.arn]
        if not carries_stack_tags(existing.tags, self._cluster, run.stack.id):
            raise AwsError(
                f"load balancer {wanted.name}",
                "DuplicateLoadBalancerName",
                "a load balancer with this name exists and is not tagged for cluster "
                f"{self._cluster!r} stack {run.stack.id!r}; set another load-balancer-name",
                retryable=False,
            )
        if existing.data.get("Scheme") == wanted.scheme:
            return existing, rest
        # Our old load balancer holds the name (an explicit load-balancer-name with a new
        # scheme): it has to go before the new one can be made. DNS breaks until then.
        run.warnings.append(
            f"load balancer {wanted.name} replaced in place (scheme {existing.data.get('Scheme')}"
            f" -> {wanted.scheme}): its name is fixed, so the old one was deleted first"
        )
        lbs.delete(existing.arn)
        return None, rest

    def _target_groups(self, run: _Run, tgs: TargetGroups, keeper: LiveLoadBalancer | None) -> None:
        """Pair, update or create every desired target group; record their ARNs."""
        free = list(run.live.target_groups)
        taken = {str(tg.data.get("TargetGroupName")) for tg in free}
        allowed_lbs = {keeper.arn} if keeper is not None else set()
        for tg in run.stack.target_groups:
            match = self._pair_target_group(tg, free, allowed_lbs)
            tags = self._tags(run.stack, tg.id, tg.tags)
            if match is not None:
                free.remove(match)
                tgs.update(tg, match, tags)
                arn = match.arn
            else:
                name = fresh_name(tg.name, taken)
                taken.add(name)
                arn = tgs.create(tg, name, run.vpc_id, tags)
            run.tg_arns[tg.id] = arn
            run.keep_tg_arns.add(arn)

    @staticmethod
    def _pair_target_group(
        tg: TargetGroup, free: list[LiveTargetGroup], allowed_lbs: set[str]
    ) -> LiveTargetGroup | None:
        candidates = [
            live
            for live in free
            if live.tags.get(TAG_RESOURCE) == tg.id
            and matches_immutable(tg, live.data)
            and set(live.data.get("LoadBalancerArns") or ()) <= allowed_lbs
        ]
        candidates.sort(key=lambda live: (live.data.get("TargetGroupName") != tg.name, live.arn))
        return candidates[0] if candidates else None

    def _resolver(self, run: _Run) -> Callable[[TargetGroupTuple], str]:
        def resolve(tuple_: TargetGroupTuple) -> str:
            if tuple_.id is not None:
                return run.tg_arns[tuple_.id]
            if tuple_.target_group_arn is not None:
                return tuple_.target_group_arn
            name = str(tuple_.target_group_name)
            if name not in run.tg_by_name:
                with about(f"target group {name}"):
                    found = self._clients.elbv2.describe_target_groups(Names=[name])["TargetGroups"]
                run.tg_by_name[name] = str(found[0]["TargetGroupArn"])
            return run.tg_by_name[name]

        return resolve

    def _certificates(self, listener: Listener) -> tuple[str, ...]:
        if listener.protocol != "HTTPS":
            return ()
        if listener.certificates:
            return listener.certificates
        return self._discovery.certificates(listener.certificate_hosts)

    def _listeners_and_rules(self, run: _Run, lb: LiveLoadBalancer, fresh: bool) -> None:
        stack = run.stack
        resolve = self._resolver(run)
        api = Listeners(self._clients)
        rule_api = Rules(self._clients)
        live_listeners = [] if fresh else listeners(self._clients, lb.arn)
        by_port = {int(item["Port"]): item for item in live_listeners}
        live_rules: dict[str, list[dict[str, Any]]] = {}
        for item in live_listeners:
            if int(item["Port"]) in {listener.port for listener in stack.listeners}:
                live_rules[item["ListenerArn"]] = [
                    r for r in rules(self._clients, item["ListenerArn"]) if not r.get("IsDefault")
                ]
        tag_arns = [item["ListenerArn"] for item in live_listeners] + [
            r["RuleArn"] for rs in live_rules.values() for r in rs
        ]
        live_tags = describe_tags(self._clients, tag_arns) if tag_arns else {}

        for listener in stack.listeners:
            certificates = self._certificates(listener)
            default_actions = actions_to_aws(listener.default_actions, resolve)
            tags = self._tags(stack, listener.resource_id)
            existing = by_port.get(listener.port)
            if existing is None:
                arn = api.create(
                    lb.arn,
                    listener,
                    certificates=certificates,
                    default_actions=default_actions,
                    tags=tags,
                )
                current: list[LiveRule] = []
            else:
                arn = str(existing["ListenerArn"])
                api.update(
                    existing,
                    live_tags.get(arn, {}),
                    listener=listener,
                    certificates=certificates,
                    default_actions=default_actions,
                    tags=tags,
                )
                current = [
                    LiveRule.from_aws(r, live_tags.get(r["RuleArn"], {}))
                    for r in live_rules.get(arn, [])
                ]
            desired = [
                DesiredRule(
                    priority=rule.priority,
                    conditions=[condition_to_aws(c) for c in rule.conditions],
                    actions=actions_to_aws(rule.actions, resolve),
                    tags=self._tags(stack, rule.resource_id(listener.port)),
                )
                for rule in listener.rules
            ]
            rule_api.apply(arn, plan_rules(desired, current))

        wanted_ports = {listener.port for listener in stack.listeners}
        for port, item in sorted(by_port.items()):
            if port not in wanted_ports:
                api.delete(str(item["ListenerArn"]))

    # --- targets only --------------------------------------------------------------------

    def sync_targets(self, target_group_arns: Mapping[str, str], targets: DesiredTargets) -> int:
        """Make each given target group (TargetGroup.id -> ARN, e.g. from the last deploy)
        hold `targets[id]` (empty when absent); returns the number of mutating calls.

        Only targets are read and changed. A target group that is gone raises a
        non-retryable `AwsError` with code `TargetGroupNotFound`: deploy the stack again.
        """
        calls = 0
        with about("targets"):
            for tg_id, arn in sorted(target_group_arns.items()):
                calls += sync_target_group(self._clients, arn, targets.get(tg_id, frozenset()))
        return calls

    # --- teardown ------------------------------------------------------------------------

    def teardown(self, stack_id: str) -> None:
        """Delete everything tagged with this cluster and stack; safe to repeat."""
        with about(f"teardown of stack {stack_id}"):
            self._teardown(stack_id)

    def _teardown(self, stack_id: str) -> None:
        if self._dns is not None:
            self._dns.delete(stack_id)
        live = find_stack(self._clients, self._cluster, stack_id)
        lbs = LoadBalancers(self._clients)
        tgs = TargetGroups(self._clients, self._cluster, stack_id, self._sleep)
        for lb in live.load_balancers:
            lbs.delete(lb.arn)
        errors: list[AwsError] = []
        for group in self._sgs.find_managed(stack_id):
            try:
                self._sgs.delete(str(group["GroupId"]))
            except AwsError as error:
                errors.append(error)
        try:
            self._release_backend_if_unused()
        except AwsError as error:
            errors.append(error)
        for tg in live.target_groups:
            try:
                tgs.delete(tg.arn)
            except AwsError as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def _release_backend_if_unused(self) -> None:
        """Delete the cluster's backend group once no load balancer of the cluster uses it
        and no deploy of this process is about to attach it; one release at a time (two
        teardowns releasing together failed: one revoked the node group's rule after the
        other had deleted the group)."""
        with self._backend_state:
            self._backend_state.wait_for(lambda: not self._backend_releasing)
            if self._backend_users:
                return  # a deploy holds it: its load balancer will use it
            self._backend_releasing = True
        try:
            self._release_backend()
        finally:
            with self._backend_state:
                self._backend_releasing = False
                self._backend_state.notify_all()

    def _release_backend(self) -> None:
        backends = self._sgs.find_backend()
        if not backends:
            return
        arns = list(tagged_arns(self._clients, {TAG_CLUSTER: self._cluster}, [LB_TYPE]))
        in_use: set[str] = set()
        for lb in describe_load_balancers(self._clients, arns) if arns else []:
            in_use |= set(lb.get("SecurityGroups") or ())
        for group in backends:
            if group["GroupId"] not in in_use:
                self._sgs.release_backend(str(group["GroupId"]))
