"""The deployer: makes AWS hold exactly one `Stack`, and tears a stack down.

It runs the steps of `controller/aws/steps/` (security groups -> target groups -> targets
-> load balancer -> protection -> listeners and rules -> DNS): every step applies forward,
then every step cleans up in reverse, removing what the stack no longer wants. Teardown
runs the steps in reverse. Live state is found by the cluster and stack tags and paired
with the model by the `ingress.k8s.aws/resource` tag, so resources made by
aws-load-balancer-controller for the same Ingresses are adopted and modified in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from controller.aws.client_secrets import ClientSecretSource
from controller.aws.clients import AwsClients
from controller.aws.discovery import Discovery
from controller.aws.errors import AwsError, about
from controller.aws.live import find_stack, stack_fingerprints, stack_inventory
from controller.aws.security_groups import SecurityGroups
from controller.aws.steps import (
    ALL_ADD_ONS,
    SHARED_BACKEND,
    AddOns,
    BackendGroup,
    DeployRun,
    DnsHook,
    DnsStep,
    ListenersStep,
    LoadBalancerStep,
    ProtectionStep,
    SecurityGroupsStep,
    Step,
    TargetGroupsStep,
    TargetsStep,
    listener_certificates,
)
from controller.aws.targets import TargetHealth, sync_target_group, target_health
from controller.aws.validation import validate
from controller.aws.warnings import DeployWarning
from controller.limits import DEFAULT_RULES_PER_SG
from controller.model.stack import DesiredTargets, Stack, Target


@dataclass(frozen=True)
class DeployResult:
    dns_name: str
    canonical_hosted_zone_id: str
    load_balancer_arn: str
    target_group_arns: dict[str, str]  # TargetGroup.id -> ARN
    warnings: tuple[DeployWarning, ...] = ()
    # False: something the stack wants is held by another stack of this cluster for now (a
    # host, while an Ingress moves between groups): deploy again on the next reconcile.
    complete: bool = True


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
        client_secrets: ClientSecretSource | None = None,
        add_ons: AddOns = ALL_ADD_ONS,
        max_targets_per_target_group: int = 0,
        backend: BackendGroup = SHARED_BACKEND,
    ) -> None:
        """`client_secrets` gives the value of an OIDC client secret the stack refers to
        (the kube layer's cache), read only when AWS must be sent it. `add_ons` says which
        of WAF, WAFv2 and Shield this controller manages at all (LBC's `--enable-*`)."""
        self._clients = clients
        self._cluster = cluster_name
        self._discovery = discovery or Discovery(clients, cluster_name)
        groups = SecurityGroups(
            clients, cluster_name, sleep, sg_delete_timeout, rules_limit=rules_per_sg_limit
        )
        self._security = SecurityGroupsStep(
            clients,
            cluster_name,
            groups,
            self._discovery,
            node_security_groups=node_security_groups,
            discover_node_security_groups=discover_node_security_groups,
            backend=backend,
        )
        self._balancer = LoadBalancerStep(clients, cluster_name)
        self._routing = ListenersStep(clients, self._discovery, client_secrets)
        steps: list[Step] = [
            self._security,
            TargetGroupsStep(clients, cluster_name, sleep),
            TargetsStep(clients, max_targets_per_target_group),
            self._balancer,
            ProtectionStep(clients, add_ons),
            self._routing,
        ]
        if dns is not None:
            steps.append(DnsStep(dns))
        self.steps: tuple[Step, ...] = tuple(steps)
        self._max_targets = max_targets_per_target_group

    def read_client_secrets_from(self, source: ClientSecretSource) -> None:
        """Where OIDC client secrets come from, when that is made after the deployer."""
        self._routing.secrets.source = source

    # --- deploy --------------------------------------------------------------------------

    def deploy(self, stack: Stack, targets: DesiredTargets) -> DeployResult:
        """Make AWS hold `stack` with `targets`; a second call with the same input makes no
        mutating call."""
        validate(stack)
        # Steps name their resource in errors; anything that slips through names the stack.
        attaching = self._security.backend_hold.attaching(stack.backend_security_group)
        with about(f"stack {stack.id}"), attaching:
            run = self._begin(stack, targets)
            for step in self.steps:
                step.apply(run)
            for step in reversed(self.steps):
                step.cleanup(run)
        balancer = run.balancer
        return DeployResult(
            dns_name=str(balancer.data["DNSName"]).lower(),
            canonical_hosted_zone_id=str(balancer.data["CanonicalHostedZoneId"]),
            load_balancer_arn=balancer.arn,
            target_group_arns=dict(run.target_group_arns),
            warnings=tuple(run.warnings),
            complete=run.complete,
        )

    def _begin(self, stack: Stack, targets: DesiredTargets) -> DeployRun:
        """What every step starts from: the live stack, the subnets, the load balancer kept."""
        run = DeployRun(
            stack=stack,
            targets=targets,
            cluster=self._cluster,
            live=find_stack(self._clients, self._cluster, stack.id),
            placement=self._discovery.subnets(
                stack.load_balancer.scheme,
                stack.load_balancer.subnets,
                stack.load_balancer.subnet_tags,
            ),
            certificates=listener_certificates(self._discovery, stack),
            trust_stores=self._discovery.trust_store_arns(
                listener.mutual_authentication.trust_store
                for listener in stack.listeners
                if listener.mutual_authentication is not None
                and listener.mutual_authentication.trust_store
                and not listener.mutual_authentication.trust_store.startswith("arn:")
            ),
        )
        self._balancer.choose(run)
        return run

    # --- targets only --------------------------------------------------------------------

    def sync_targets(
        self,
        target_group_arns: Mapping[str, str],
        targets: DesiredTargets,
        known: Mapping[str, frozenset[Target]] | None = None,
    ) -> int:
        """Make each given target group (TargetGroup.id -> ARN, e.g. from the last deploy)
        hold `targets[id]` (empty when absent); returns the number of mutating calls.

        Only targets are read and changed. `known`: what a target group was last made to hold
        (by id); for those the DescribeTargetHealth read is skipped, unless targets are capped
        (`max_targets_per_target_group`: which ones AWS holds depends on what it held). A
        target group that is gone raises a non-retryable `AwsError` with code
        `TargetGroupNotFound`: deploy the stack again.
        """
        calls = 0
        trusted = known if known is not None and not self._max_targets else {}
        with about("targets"):
            for tg_id, arn in sorted(target_group_arns.items()):
                wanted = targets.get(tg_id, frozenset())
                calls += sync_target_group(
                    self._clients, arn, wanted, self._max_targets, current=trusted.get(tg_id)
                )
        return calls

    def target_health(self, target_group_arn: str) -> tuple[TargetHealth, ...]:
        """The health of every target of a target group (for pod readiness gates)."""
        return target_health(self._clients, target_group_arn)

    # --- inventory -----------------------------------------------------------------------

    def inventory(self) -> dict[str, frozenset[str]]:
        """Stack id -> the ARNs of its load balancers and target groups, in one sweep."""
        return stack_inventory(self._clients, self._cluster)

    def fingerprints(self) -> dict[str, str]:
        """Stack id -> a digest of its load balancers' and target groups' ARNs, tags and
        settings, in one account-wide sweep (the periodic drift check, `kube.drift`)."""
        return stack_fingerprints(self._clients, self._cluster)

    # --- teardown ------------------------------------------------------------------------

    def teardown(self, stack_id: str) -> None:
        """Delete everything tagged with this cluster and stack; safe to repeat.

        Steps run in reverse. One whose failure would leave the next unable to finish (DNS,
        the load balancer) stops the teardown; the others are all tried, and the first error
        is raised at the end.
        """
        with about(f"teardown of stack {stack_id}"):
            live = find_stack(self._clients, self._cluster, stack_id)
            errors: list[AwsError] = []
            for step in reversed(self.steps):
                try:
                    step.teardown(stack_id, live)
                except AwsError as error:
                    if step.gates_teardown:
                        raise
                    errors.append(error)
            if errors:
                raise errors[0]
