"""Merge the contributions of a group's Ingresses into one `Stack`, excluding bad members.

Members are taken in group order. A member whose exclusive settings disagree with an earlier
member's, whose listen port clashes, or that pushes the ALB over an AWS limit is excluded
with an error naming it (and, for conflicts, the other Ingress); the others still build.
Some checks can only be made on the whole group (the ssl-redirect port must be an HTTPS
listener; an HTTPS listener needs certificates or hosts to find them by). When one fails,
the member at fault is excluded and the group is assembled again without it, so what is
built never depends on an excluded member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.config import ModelDefaults
from controller.limits import MAX_CERTIFICATES, MAX_LISTENERS, MAX_RULES, MAX_TARGET_GROUPS
from controller.model.annotations import SPECS, annotation_field
from controller.model.backends import stack_tags
from controller.model.ingress import ParsedIngress, RouteRule
from controller.model.names import load_balancer_name, security_group_name
from controller.model.stack import (
    LOAD_BALANCER_RESOURCE_ID,
    MANAGED_SG_RESOURCE_ID,
    Action,
    BuildError,
    DnsRecord,
    FixedResponseAction,
    FixedResponseConfig,
    ForwardAction,
    Listener,
    LoadBalancer,
    ManagedSecurityGroup,
    ModelError,
    RedirectAction,
    RedirectConfig,
    Rule,
    SecurityGroupIngress,
    Stack,
    TargetGroup,
)

MANAGED_SG_DESCRIPTION = "[k8s] Managed SecurityGroup for LoadBalancer"
NOT_FOUND = FixedResponseAction(
    fixed_response_config=FixedResponseConfig(status_code="404", content_type="text/plain")
)


def _field(name: str) -> str:
    return annotation_field(SPECS[name].key)


@dataclass
class _Settings:
    """Group-wide settings merged from the members accepted so far, with who set what."""

    exclusive: dict[str, tuple[Any, str]] = field(default_factory=dict)
    tags: dict[str, tuple[str, str]] = field(default_factory=dict)
    ports: dict[int, tuple[str, str]] = field(default_factory=dict)  # port -> (protocol, owner)
    certificates: dict[int, list[str]] = field(default_factory=dict)
    default_backend: str | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.exclusive[name][0] if name in self.exclusive else default

    def sni_certificate_count(self) -> int:
        return sum(max(0, len(certs) - 1) for certs in self.certificates.values())


@dataclass(frozen=True)
class Assembly:
    """One attempt: the stack, the errors of members excluded in it, and members to drop."""

    stack: Stack | None
    errors: tuple[BuildError, ...]
    # Members at fault in a whole-group check: drop them and assemble again.
    drop: tuple[BuildError, ...]


def assemble(
    stack_id: str, explicit: bool, members: Sequence[ParsedIngress], defaults: ModelDefaults
) -> Assembly:
    settings = _Settings()
    accepted: list[ParsedIngress] = []
    errors: list[BuildError] = []
    for member in members:
        error = _merge(settings, member)
        if error is None:
            accepted.append(member)
        else:
            errors.append(error)
    drop = _group_checks(settings, accepted)
    if drop:
        return Assembly(None, tuple(errors), tuple(drop))
    contributions, limit_errors = _fit_within_limits(settings, accepted)
    if limit_errors:
        return Assembly(None, tuple(errors), tuple(limit_errors))
    if not accepted:
        return Assembly(None, tuple(errors), ())
    return Assembly(
        _stack(
            stack_id=stack_id,
            explicit=explicit,
            settings=settings,
            accepted=accepted,
            contributions=contributions,
            defaults=defaults,
        ),
        tuple(errors),
        (),
    )


def _merge(settings: _Settings, member: ParsedIngress) -> BuildError | None:
    """Fold one member's settings in, or say why it cannot join (settings then unchanged)."""
    key = member.key

    def conflict(where: str, what: str, owner: str) -> BuildError:
        return BuildError(
            ingress=key,
            field=where,
            message=f"{what} conflicts with Ingress {owner} in group {member.ref.id!r}; "
            f"members must agree (this Ingress is left out of the group)",
        )

    for name, value in member.exclusive.items():
        if name in settings.exclusive and settings.exclusive[name][0] != value:
            held, owner = settings.exclusive[name]
            return conflict(_field(name), f"value {value!r} (vs {held!r})", owner)
    for tag, value in member.tags.items():
        if tag in settings.tags and settings.tags[tag][0] != value:
            return conflict(_field("tags"), f"tag {tag}={value}", settings.tags[tag][1])
    for protocol, port in member.listen_ports:
        if port in settings.ports and settings.ports[port][0] != protocol:
            held, owner = settings.ports[port]
            return conflict(_field("listen-ports"), f"port {port} as {protocol} (vs {held})", owner)
    if member.default_actions is not None and settings.default_backend is not None:
        return conflict("spec.defaultBackend", "a second default backend", settings.default_backend)
    new_ports = {port for _, port in member.listen_ports} - settings.ports.keys()
    if len(settings.ports) + len(new_ports) > MAX_LISTENERS:
        return _limit_error(
            member, _field("listen-ports"), f"{MAX_LISTENERS} listeners", len(new_ports)
        )
    certificates = {port: list(certs) for port, certs in settings.certificates.items()}
    for protocol, port in member.listen_ports:
        if protocol == "HTTPS":
            held = certificates.setdefault(port, [])
            held += [c for c in member.certificates if c not in held]
    sni = sum(max(0, len(c) - 1) for c in certificates.values())
    if sni > MAX_CERTIFICATES:
        added = sni - settings.sni_certificate_count()
        return _limit_error(
            member, _field("certificate-arn"), f"{MAX_CERTIFICATES} certificates", added
        )
    for name, value in member.exclusive.items():
        settings.exclusive.setdefault(name, (value, key))
    for tag, value in member.tags.items():
        settings.tags.setdefault(tag, (value, key))
    for protocol, port in member.listen_ports:
        settings.ports.setdefault(port, (protocol, key))
    settings.certificates = certificates
    if member.default_actions is not None:
        settings.default_backend = key
    return None


def _limit_error(member: ParsedIngress, where: str, limit: str, added: int) -> BuildError:
    return BuildError(
        ingress=member.key,
        field=where,
        message=f"adding this Ingress ({added} more) would exceed the ALB limit of {limit}; "
        f"it is left out of group {member.ref.id!r}",
    )


def _group_checks(settings: _Settings, accepted: list[ParsedIngress]) -> list[BuildError]:
    """Checks only the whole group can fail; each error names the member to drop."""
    problems: list[BuildError] = []
    redirect = settings.exclusive.get("ssl-redirect")
    if redirect is not None:
        port, owner = redirect
        if settings.ports.get(port, ("", ""))[0] != "HTTPS":
            problems.append(
                BuildError(
                    ingress=owner,
                    field=_field("ssl-redirect"),
                    message=f"port {port} is not an HTTPS listen port of the group "
                    f"(HTTPS ports: {_https_ports(settings) or 'none'})",
                )
            )
    for port, (protocol, _) in sorted(settings.ports.items()):
        if protocol != "HTTPS" or settings.certificates.get(port):
            continue
        on_port = [m for m in accepted if ("HTTPS", port) in m.listen_ports]
        if not any(m.rule_hosts or m.tls_hosts for m in on_port):
            problems += [
                BuildError(
                    ingress=m.key,
                    field=_field("listen-ports"),
                    message=f"HTTPS port {port} has no certificate: set certificate-arn, or give "
                    f"hosts (spec.rules[].host or spec.tls[].hosts) to discover ACM "
                    f"certificates by",
                )
                for m in on_port
            ]
    return problems


def _https_ports(settings: _Settings) -> str:
    return ", ".join(str(p) for p, (proto, _) in sorted(settings.ports.items()) if proto == "HTTPS")


@dataclass(frozen=True)
class _Contribution:
    """What one accepted member puts on the listeners, given the group's settings."""

    member: ParsedIngress
    rules: dict[int, tuple[RouteRule, ...]]  # by port
    default_actions: dict[int, tuple[Action, ...]]  # by port, if it owns the default backend
    target_groups: tuple[str, ...]  # ids its rules and default actions reference


def _contribution(settings: _Settings, member: ParsedIngress) -> _Contribution:
    redirected = settings.get("ssl-redirect") is not None
    rules: dict[int, tuple[RouteRule, ...]] = {}
    defaults: dict[int, tuple[Action, ...]] = {}
    for protocol, port in member.listen_ports:
        if protocol == "HTTP" and redirected:
            continue  # HTTP listeners only redirect
        rules[port] = member.rules
        if member.default_actions is not None:
            defaults[port] = member.default_actions
    actions = [a for rs in rules.values() for r in rs for a in r.actions]
    actions += [a for acts in defaults.values() for a in acts]
    referenced = [
        t.id
        for a in actions
        if isinstance(a, ForwardAction)
        for t in a.target_groups
        if t.id is not None
    ]
    return _Contribution(member, rules, defaults, tuple(dict.fromkeys(referenced)))


def _fit_within_limits(
    settings: _Settings, accepted: list[ParsedIngress]
) -> tuple[list[_Contribution], list[BuildError]]:
    """Members' rules and target groups in order; those that overflow a limit are reported."""
    contributions: list[_Contribution] = []
    errors: list[BuildError] = []
    rules = 0
    target_groups: set[str] = set()
    for member in accepted:
        part = _contribution(settings, member)
        added_rules = sum(len(rs) for rs in part.rules.values())
        added_tgs = set(part.target_groups) - target_groups
        if rules + added_rules > MAX_RULES:
            errors.append(_limit_error(member, "spec.rules", f"{MAX_RULES} rules", added_rules))
        elif len(target_groups) + len(added_tgs) > MAX_TARGET_GROUPS:
            errors.append(
                _limit_error(
                    member, "spec.rules", f"{MAX_TARGET_GROUPS} target groups", len(added_tgs)
                )
            )
        else:
            rules += added_rules
            target_groups |= added_tgs
            contributions.append(part)
    return contributions, errors


def _stack(
    *,
    stack_id: str,
    explicit: bool,
    settings: _Settings,
    accepted: list[ParsedIngress],
    contributions: list[_Contribution],
    defaults: ModelDefaults,
) -> Stack:
    scheme: str = settings.get("scheme", defaults.scheme)
    ip_type: str = settings.get("ip-address-type", defaults.ip_address_type)
    user_tags = {tag: value for tag, (value, _) in settings.tags.items()}
    security_groups: tuple[str, ...] | None = settings.get("security-groups")
    try:
        return Stack(
            id=stack_id,
            ingresses=tuple(m.key for m in accepted),
            load_balancer=LoadBalancer(
                name=settings.get("load-balancer-name")
                or load_balancer_name(defaults.cluster_name, stack_id, explicit, scheme),
                scheme=scheme,
                ip_address_type=ip_type,
                subnets=settings.get("subnets"),
                security_groups=security_groups,
                attributes=settings.get("load-balancer-attributes", {}),
                tags=stack_tags(defaults, stack_id, LOAD_BALANCER_RESOURCE_ID, user_tags),
            ),
            security_group=None
            if security_groups is not None
            else _managed_security_group(
                stack_id=stack_id,
                explicit=explicit,
                settings=settings,
                ip_type=ip_type,
                user_tags=user_tags,
                defaults=defaults,
            ),
            backend_security_group=security_groups is None
            or bool(settings.get("manage-backend-security-group-rules", False)),
            target_groups=_target_groups(contributions),
            listeners=_listeners(settings, contributions, defaults),
            dns_records=_dns_records(accepted, ip_type) if defaults.manage_dns else (),
        )
    except ValidationError as err:  # a builder bug, not bad input: say so, precisely
        raise ModelError(
            [BuildError(ingress=stack_id, field="(stack)", message=f"internal error: {err}")]
        ) from err


def _managed_security_group(
    *,
    stack_id: str,
    explicit: bool,
    settings: _Settings,
    ip_type: str,
    user_tags: dict[str, str],
    defaults: ModelDefaults,
) -> ManagedSecurityGroup:
    default_cidrs = ("0.0.0.0/0", "::/0") if ip_type.startswith("dualstack") else ("0.0.0.0/0",)
    cidrs: tuple[str, ...] = settings.get("inbound-cidrs", default_cidrs)
    return ManagedSecurityGroup(
        name=security_group_name(defaults.cluster_name, stack_id, explicit),
        description=MANAGED_SG_DESCRIPTION,
        ingress=tuple(
            SecurityGroupIngress(port=port, cidr=cidr)
            for port in sorted(settings.ports)
            for cidr in cidrs
        ),
        tags=stack_tags(defaults, stack_id, MANAGED_SG_RESOURCE_ID, user_tags),
    )


def _target_groups(contributions: list[_Contribution]) -> tuple[TargetGroup, ...]:
    found: dict[str, TargetGroup] = {}
    for part in contributions:
        for tg_id in part.target_groups:
            found.setdefault(tg_id, part.member.target_groups[tg_id])
    return tuple(found.values())


def _listeners(
    settings: _Settings, contributions: list[_Contribution], defaults: ModelDefaults
) -> tuple[Listener, ...]:
    redirect_port: int | None = settings.get("ssl-redirect")
    listeners: list[Listener] = []
    for port, (protocol, _) in sorted(settings.ports.items()):
        if protocol == "HTTP" and redirect_port is not None:
            listeners.append(
                Listener(
                    port=port,
                    protocol="HTTP",
                    default_actions=(
                        RedirectAction(
                            redirect_config=RedirectConfig(
                                protocol="HTTPS", port=str(redirect_port), status_code="HTTP_301"
                            )
                        ),
                    ),
                )
            )
            continue
        on_port = [c for c in contributions if port in c.rules]
        rules = [
            Rule(
                priority=priority,
                conditions=rule.conditions,
                actions=rule.actions,
                ingress=member_key,
            )
            for priority, (member_key, rule) in enumerate(
                ((c.member.key, r) for c in on_port for r in c.rules[port]), start=1
            )
        ]
        default_actions = next(
            (c.default_actions[port] for c in on_port if port in c.default_actions), (NOT_FOUND,)
        )
        https = protocol == "HTTPS"
        certificates = tuple(settings.certificates.get(port, ())) if https else ()
        hosts: set[str] = set()
        if https and not certificates:
            hosts = {h for c in on_port for h in (*c.member.rule_hosts, *c.member.tls_hosts)}
        listeners.append(
            Listener(
                port=port,
                protocol=protocol,
                ssl_policy=settings.get("ssl-policy", defaults.ssl_policy) if https else None,
                certificates=certificates,
                certificate_hosts=tuple(sorted(hosts)),
                default_actions=default_actions,
                rules=tuple(rules),
            )
        )
    return tuple(listeners)


def _dns_records(accepted: list[ParsedIngress], ip_type: str) -> tuple[DnsRecord, ...]:
    owners: dict[str, str] = {}
    for member in accepted:
        for host in member.rule_hosts:
            owners.setdefault(host.lower().rstrip("."), member.key)
    types = ("A", "AAAA") if ip_type.startswith("dualstack") else ("A",)
    return tuple(
        DnsRecord(name=host, type=record_type, ingress=owner)
        for host, owner in sorted(owners.items())
        for record_type in types
    )
