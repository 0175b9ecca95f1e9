"""Hand-made `Stack`s for the AWS layer tests: the 2048 example and variations of it.

The model builder is tested on its own; here stacks are built directly so the AWS layer's
tests do not depend on it. Names follow LBC's patterns (`k8s-<ns8>-<svc8>-<hash10>`), with
the target type and protocols in the hash so a replacement gets a new name, as in LBC.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from controller.model.stack import (
    Condition,
    FixedResponseAction,
    FixedResponseConfig,
    ForwardAction,
    HealthCheck,
    Listener,
    LoadBalancer,
    ManagedSecurityGroup,
    Rule,
    SecurityGroupIngress,
    Stack,
    Target,
    TargetGroup,
    TargetGroupTuple,
)

CLUSTER = "test-cluster"
STACK_2048 = "game-2048/ingress-2048"
HOST = "2048.example.com"


def _short(text: str) -> str:
    return re.sub("[^a-z0-9]", "", text.lower())[:8]


def _hash(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Svc:
    """A backend Service port and how its target group looks."""

    name: str = "service-2048"
    port: int = 80
    node_port: int = 30080
    target_type: Literal["instance", "ip"] = "instance"
    namespace: str = "game-2048"
    ingress: str = "ingress-2048"
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def tg_id(self) -> str:
        return f"{self.namespace}/{self.ingress}-{self.name}:{self.port}"

    def target_group(self) -> TargetGroup:
        return TargetGroup(
            id=self.tg_id,
            name=f"k8s-{_short(self.namespace)}-{_short(self.name)}-"
            + _hash(CLUSTER, self.tg_id, self.target_type, "HTTP", "HTTP1"),
            service=f"{self.namespace}/{self.name}",
            service_port=self.port,
            target_type=self.target_type,
            protocol="HTTP",
            protocol_version="HTTP1",
            port=self.node_port if self.target_type == "instance" else 8080,
            target_port=8080,
            health_check=HealthCheck(),
            attributes=dict(self.attributes),
        )

    def target_port(self) -> int:
        return self.node_port if self.target_type == "instance" else 8080


SVC_2048 = Svc()


def forward(svc: Svc) -> ForwardAction:
    return ForwardAction(target_groups=(TargetGroupTuple(id=svc.tg_id),))


def path_rule(priority: int, host: str, path: str, svc: Svc) -> Rule:
    patterns = ("/*",) if path == "/" else (path, f"{path}/*")
    return Rule(
        priority=priority,
        conditions=(
            Condition(field="host-header", values=(host,)),
            Condition(field="path-pattern", values=patterns),
        ),
        actions=(forward(svc),),
        ingress=f"{svc.namespace}/{svc.ingress}",
    )


def make_stack(
    paths: Sequence[tuple[str, Svc]] = (("/", SVC_2048),),
    *,
    stack_id: str = STACK_2048,
    host: str = HOST,
    scheme: Literal["internal", "internet-facing"] = "internet-facing",
    name: str | None = None,
    lb_tags: dict[str, str] | None = None,
    lb_attributes: dict[str, str] | None = None,
    managed_sg: bool = True,
    security_groups: tuple[str, ...] | None = None,
    subnets: tuple[str, ...] | None = None,
    https: tuple[str, ...] | None = None,  # certificate ARNs; () means discover by host
    ingresses: tuple[str, ...] = (STACK_2048,),
) -> Stack:
    svcs = list(dict.fromkeys(svc for _, svc in paths))
    rules = tuple(path_rule(i + 1, host, path, svc) for i, (path, svc) in enumerate(paths))
    not_found = (FixedResponseAction(fixed_response_config=FixedResponseConfig(status_code="404")),)
    listeners = [Listener(port=80, protocol="HTTP", default_actions=not_found, rules=rules)]
    ports = [80]
    if https is not None:
        listeners.append(
            Listener(
                port=443,
                protocol="HTTPS",
                ssl_policy="ELBSecurityPolicy-2016-08",
                certificates=https,
                certificate_hosts=() if https else (host,),
                default_actions=not_found,
                rules=rules,
            )
        )
        ports.append(443)
    lb_name = name or f"k8s-{_short(stack_id)}-{_hash(stack_id, scheme)}"
    return Stack(
        id=stack_id,
        ingresses=ingresses,
        load_balancer=LoadBalancer(
            name=lb_name,
            scheme=scheme,
            ip_address_type="ipv4",
            subnets=subnets,
            security_groups=security_groups,
            attributes=lb_attributes or {},
            tags=lb_tags or {},
        ),
        security_group=ManagedSecurityGroup(
            name=f"k8s-{_short(stack_id)}-{_hash(stack_id, 'sg')}",
            description=f"[k8s] Managed SecurityGroup for LoadBalancer {stack_id}",
            ingress=tuple(SecurityGroupIngress(port=p, cidr="0.0.0.0/0") for p in ports),
        )
        if managed_sg and security_groups is None
        else None,
        target_groups=tuple(svc.target_group() for svc in svcs),
        listeners=tuple(listeners),
    )


def targets(svc: Svc, ids: Iterable[str]) -> dict[str, frozenset[Target]]:
    return {svc.tg_id: frozenset(Target(id=i, port=svc.target_port()) for i in ids)}


def merge(*parts: dict[str, frozenset[Target]]) -> dict[str, frozenset[Target]]:
    out: dict[str, frozenset[Target]] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = out.get(key, frozenset()) | value
    return out
