"""`plan`: manifests in, the desired AWS state out, as a text tree for people or as JSON.

The JSON is the documented `plan.alb.ingress/v1` format (`docs/plan-format.md`): the
`Plan` model's own serialization, so it cannot drift from what the controller uses. The text
form is for reading and may change freely.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.config import INGRESS_CLASS_CONTROLLER, ModelDefaults
from controller.model import ClusterState, Plan, build
from controller.model.backends import UNALLOCATED_PORT
from controller.model.inputs import metadata_of
from controller.model.stack import (
    Action,
    AuthenticateCognitoAction,
    AuthenticateOidcAction,
    Condition,
    FixedResponseAction,
    ForwardAction,
    Listener,
    RedirectAction,
    Stack,
    TargetGroup,
)


def assume_ingress_class(
    objects: Sequence[Mapping[str, Any]], defaults: ModelDefaults
) -> list[Mapping[str, Any]]:
    """Add the controller's IngressClass when the manifests lack one of that name.

    Manifests of an app rarely carry the cluster's IngressClass, but `ingressClassName: alb`
    in them means this controller once it is installed; so `plan` assumes the class exists.
    """
    named = [
        o
        for o in objects
        if o.get("kind") == "IngressClass" and metadata_of(o).name == defaults.ingress_class
    ]
    if named:
        return list(objects)
    assumed = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": defaults.ingress_class},
        "spec": {"controller": INGRESS_CLASS_CONTROLLER},
    }
    return [*objects, assumed]


def plan_objects(objects: Sequence[Mapping[str, Any]], defaults: ModelDefaults) -> Plan:
    """The plan for a set of Kubernetes objects (e.g. read from manifests)."""
    return build(ClusterState.from_objects(assume_ingress_class(objects, defaults)), defaults)


def render_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json"), indent=2) + "\n"


# --- text ----------------------------------------------------------------------------------


@dataclass
class _Node:
    label: str
    children: list[_Node] = field(default_factory=list)

    def add(self, label: str) -> _Node:
        child = _Node(label)
        self.children.append(child)
        return child

    def lines(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        for index, child in enumerate(self.children):
            last = index == len(self.children) - 1
            out.append(f"{prefix}{'└── ' if last else '├── '}{child.label}")
            out += child.lines(prefix + ("    " if last else "│   "))
        return out


def render_text(plan: Plan) -> str:
    """A tree per stack, then the errors, then the warnings."""
    lines: list[str] = []
    if not plan.stacks:
        lines.append("No stacks: no Ingress of this controller's class built.")
    for stack in plan.stacks:
        root = _Node("")
        _stack_tree(root, stack)
        lines.append(f"stack {stack.id}")
        lines += root.lines()
        lines.append("")
    if plan.errors:
        lines.append(f"errors ({len(plan.errors)}):")
        lines += [f"  {e.ingress}: {e.field}: {e.message}" for e in plan.errors]
    if plan.warnings:
        lines.append(f"warnings ({len(plan.warnings)}):")
        lines += [f"  {w.ingress}: {w.field}: {w.message}" for w in plan.warnings]
    return "\n".join(lines).rstrip("\n") + "\n"


def _stack_tree(root: _Node, stack: Stack) -> None:
    names = {tg.id: tg.name for tg in stack.target_groups}
    root.add("ingresses: " + ", ".join(stack.ingresses))
    lb = stack.load_balancer
    node = root.add(f"load balancer {lb.name} ({lb.scheme}, {lb.ip_address_type})")
    node.add("subnets: " + (", ".join(lb.subnets) if lb.subnets else "discovered by tags"))
    groups = ", ".join(lb.security_groups) if lb.security_groups else "managed"
    if stack.backend_security_group:
        groups += " + shared backend group"
    node.add(f"security groups: {groups}")
    if lb.attributes:
        node.add("attributes: " + _pairs(lb.attributes))
    node.add("tags: " + _pairs(lb.tags))
    if stack.security_group is not None:
        sg = stack.security_group
        node = root.add(f"security group {sg.name}")
        for rule in sg.ingress:
            node.add(f"allow tcp/{rule.port} from {rule.cidr}")
    for tg in stack.target_groups:
        _target_group_tree(root.add(f"target group {tg.name}"), tg)
    for listener in stack.listeners:
        _listener_tree(root.add(f"listener {listener.protocol}:{listener.port}"), listener, names)
    for record in stack.dns_records:
        root.add(f"dns {record.type} {record.name} (from {record.ingress})")


def _target_group_tree(node: _Node, tg: TargetGroup) -> None:
    port = str(tg.port)
    if tg.port == UNALLOCATED_PORT and tg.target_type == "instance":
        port = "(NodePort not allocated yet)"
    node.add(
        f"{tg.service}:{tg.service_port} -> {tg.target_type} targets, "
        f"{tg.protocol}/{tg.protocol_version}, port {port}"
    )
    hc = tg.health_check
    node.add(
        f"health check: {hc.protocol} {hc.port} {hc.path} every {hc.interval_seconds}s, "
        f"timeout {hc.timeout_seconds}s, healthy {hc.healthy_threshold_count}, "
        f"unhealthy {hc.unhealthy_threshold_count}, codes {hc.matcher}"
    )
    if tg.attributes:
        node.add("attributes: " + _pairs(tg.attributes))
    if tg.node_labels:
        node.add("nodes labelled: " + _pairs(tg.node_labels))
    node.add(f"id: {tg.id}")


def _listener_tree(node: _Node, listener: Listener, names: Mapping[str, str]) -> None:
    if listener.protocol == "HTTPS":
        node.add(f"ssl policy: {listener.ssl_policy}")
        if listener.certificates:
            node.add("certificates: " + ", ".join(listener.certificates))
        if listener.certificate_hosts:
            node.add("certificates: discovered in ACM for " + ", ".join(listener.certificate_hosts))
    node.add("default: " + "; ".join(_action(a, names) for a in listener.default_actions))
    for rule in listener.rules:
        conditions = " and ".join(_condition(c) for c in rule.conditions)
        actions = "; ".join(_action(a, names) for a in rule.actions)
        node.add(f"{rule.priority}: if {conditions} then {actions}  [{rule.ingress}]")


def _condition(condition: Condition) -> str:
    if condition.query_string_values is not None:
        pairs = [f"{p.key}={p.value}" if p.key else p.value for p in condition.query_string_values]
        return f"query-string {' | '.join(pairs)}"
    values = " | ".join(condition.values or ())
    if condition.http_header_name:
        return f"http-header {condition.http_header_name}: {values}"
    return f"{condition.field} {values}"


def _action(action: Action, names: Mapping[str, str]) -> str:
    if isinstance(action, ForwardAction):
        targets = [
            f"{names.get(t.id, t.id) if t.id else t.target_group_arn or t.target_group_name}"
            f" (weight {t.weight})"
            for t in action.target_groups
        ]
        sticky = " sticky" if action.stickiness and action.stickiness.enabled else ""
        return f"forward to {', '.join(targets)}{sticky}"
    if isinstance(action, RedirectAction):
        c = action.redirect_config
        return f"redirect {c.status_code} to {c.protocol}://{c.host}:{c.port}{c.path}?{c.query}"
    if isinstance(action, AuthenticateOidcAction):
        oidc = action.authenticate_oidc_config
        ref = oidc.client_secret_ref
        return (
            f"authenticate-oidc with {oidc.issuer} (client {oidc.client_id}, secret from "
            f"{ref.namespace}/{ref.name}; {oidc.on_unauthenticated_request})"
        )
    if isinstance(action, AuthenticateCognitoAction):
        cognito = action.authenticate_cognito_config
        return (
            f"authenticate-cognito with {cognito.user_pool_arn} (client "
            f"{cognito.user_pool_client_id}; {cognito.on_unauthenticated_request})"
        )
    assert isinstance(action, FixedResponseAction)
    fixed = action.fixed_response_config
    body = f" {fixed.message_body!r}" if fixed.message_body else ""
    return f"respond {fixed.status_code}{body}"


def _pairs(values: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())
