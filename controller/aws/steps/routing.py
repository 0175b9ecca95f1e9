"""The listeners and rules step: one listener per port, its rules changed in place.

Listeners are matched by port, rules by what they are (`rules.plan_rules`): reorders are one
SetRulePriorities call, and only rules that differ are modified, created or deleted. Actions
name target groups by the ARNs the target group step recorded, or by an ARN or name the
Ingress gave. A listener on a port the stack no longer has goes in cleanup.
"""

from __future__ import annotations

from typing import Any

from controller.aws.client_secrets import ClientSecrets, ClientSecretSource, secret_ref
from controller.aws.clients import AwsClients
from controller.aws.discovery import Discovery
from controller.aws.errors import AwsError
from controller.aws.listeners import Listeners, mutual_authentication_to_aws
from controller.aws.live import LiveStack, describe_tags, listeners, rules
from controller.aws.rules import DesiredRule, LiveRule, Rules, plan_rules
from controller.aws.shapes import actions_to_aws, condition_to_aws, transforms_to_aws
from controller.aws.steps.run import DeployRun
from controller.aws.target_groups import arn_by_name
from controller.model.stack import Listener, Stack, TargetGroupTuple


class ListenersStep:
    name = "listeners and rules"
    gates_teardown = False

    def __init__(
        self,
        clients: AwsClients,
        discovery: Discovery,
        client_secrets: ClientSecretSource | None = None,
    ) -> None:
        self._clients = clients
        self._discovery = discovery
        self.secrets = ClientSecrets(client_secrets)
        self._listeners = Listeners(clients, self.secrets)
        self._rules = Rules(clients, self.secrets)

    def apply(self, run: DeployRun) -> None:
        lb_arn = run.balancer.arn
        live = [] if run.created_load_balancer else listeners(self._clients, lb_arn)
        by_port = {int(item["Port"]): item for item in live}
        wanted_ports = {listener.port for listener in run.stack.listeners}
        live_rules = {
            str(item["ListenerArn"]): [
                r for r in rules(self._clients, item["ListenerArn"]) if not r.get("IsDefault")
            ]
            for item in live
            if int(item["Port"]) in wanted_ports
        }
        tag_arns = [item["ListenerArn"] for item in live] + [
            r["RuleArn"] for rs in live_rules.values() for r in rs
        ]
        live_tags = describe_tags(self._clients, tag_arns) if tag_arns else {}
        resolve = _Resolver(run, self._clients)
        for listener in run.stack.listeners:
            existing = by_port.get(listener.port)
            arn = self._listener(run, listener, existing, live_tags, resolve)
            current = [
                LiveRule.from_aws(r, live_tags.get(r["RuleArn"], {}))
                for r in live_rules.get(arn, [])
            ]
            desired = [
                DesiredRule(
                    priority=rule.priority,
                    conditions=[condition_to_aws(c) for c in rule.conditions],
                    actions=actions_to_aws(rule.actions, resolve),
                    tags=run.tags(rule.resource_id(listener.port)),
                    ingress=rule.ingress,
                    secret=secret_ref(rule.actions),
                    transforms=transforms_to_aws(rule.transforms),
                )
                for rule in listener.rules
            ]
            self._rules.apply(arn, plan_rules(desired, current))
        run.unwanted_listeners = [
            str(item["ListenerArn"])
            for port, item in sorted(by_port.items())
            if port not in wanted_ports
        ]

    def cleanup(self, run: DeployRun) -> None:
        for arn in run.unwanted_listeners:
            self._listeners.delete(arn)

    def teardown(self, stack_id: str, live: LiveStack) -> None:
        return None  # listeners and rules go with their load balancer

    def _listener(
        self,
        run: DeployRun,
        listener: Listener,
        existing: dict[str, Any] | None,
        live_tags: dict[str, dict[str, str]],
        resolve: _Resolver,
    ) -> str:
        """Create or update one listener; returns its ARN."""
        certificates = run.certificates.get(listener.port, ())
        default_actions = actions_to_aws(listener.default_actions, resolve)
        tags = run.tags(listener.resource_id)
        mtls = mutual_authentication_to_aws(listener.mutual_authentication, run.trust_stores)
        if existing is None:
            arn = self._listeners.create(
                run.balancer.arn,
                listener,
                certificates=certificates,
                default_actions=default_actions,
                tags=tags,
                secret=secret_ref(listener.default_actions),
                mutual_authentication=mtls,
            )
        else:
            arn = str(existing["ListenerArn"])
            self._listeners.update(
                existing,
                live_tags.get(arn, {}),
                listener=listener,
                certificates=certificates,
                default_actions=default_actions,
                tags=tags,
                secret=secret_ref(listener.default_actions),
                mutual_authentication=mtls,
            )
        # A new listener is read too: AWS's defaults may already be what is wanted.
        self._listeners.sync_attributes(arn, listener.port, dict(listener.attributes))
        return arn


def listener_certificates(discovery: Discovery, stack: Stack) -> dict[int, tuple[str, ...]]:
    """Each HTTPS listener's certificates by port: the given ones first (the first is the
    default), then those discovered for the hosts of members that gave none.

    Found before any step changes AWS, so a member whose host has no certificate is refused
    alone (an `AwsError` naming it), with nothing of the deploy half done.
    """
    found: dict[int, tuple[str, ...]] = {}
    refused: dict[str, AwsError] = {}
    for listener in stack.listeners:
        if listener.protocol != "HTTPS":
            continue
        wanted = listener.certificate_hosts_of or (
            {"": listener.certificate_hosts} if listener.certificate_hosts else {}
        )
        discovered: set[str] = set()
        for member, hosts in wanted.items():
            try:
                discovered.update(discovery.certificates(hosts))
            except AwsError as error:
                if error.code != "CertificateNotFound" or not member:
                    raise
                refused.setdefault(member, error)
        found[listener.port] = tuple(dict.fromkeys((*listener.certificates, *sorted(discovered))))
    if refused:
        raise AwsError(
            "certificate discovery",
            "CertificateNotFound",
            "; ".join(f"{member}: {error.detail}" for member, error in sorted(refused.items())),
            retryable=False,
            ingresses=sorted(refused),
        )
    return found


class _Resolver:
    """The ARN an action's target group tuple means: ours by model ID, or as given."""

    def __init__(self, run: DeployRun, clients: AwsClients) -> None:
        self._run = run
        self._clients = clients
        self._by_name: dict[str, str] = {}

    def __call__(self, tuple_: TargetGroupTuple) -> str:
        if tuple_.id is not None:
            return self._run.target_group_arns[tuple_.id]
        if tuple_.target_group_arn is not None:
            return tuple_.target_group_arn
        name = str(tuple_.target_group_name)
        if name not in self._by_name:
            self._by_name[name] = arn_by_name(self._clients, name)
        return self._by_name[name]
